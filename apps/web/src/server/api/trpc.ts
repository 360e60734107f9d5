import { initTRPC } from '@trpc/server';

/** The tRPC instance: routers are in ./routers, one file per resource. */
const t = initTRPC.create();

export const createTRPCRouter = t.router;
export const publicProcedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;
