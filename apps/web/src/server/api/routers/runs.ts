import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { DatasetStatistics } from '@tunekit/data';
import { runsDir } from '../../runs-dir';
import { createTRPCRouter, publicProcedure } from '../trpc';

/** The parts of a run's report.json the dashboard shows. */
export interface RunReport {
  run: string;
  preset: string;
  stages: string[];
  seconds: number;
  data?: {
    entities: { total: number; train: number; heldOut: number };
    statistics: Record<string, DatasetStatistics>;
    packing: Record<string, { rows: number; examples: number; efficiency: number } | null>;
    mixture: { sources: { name: string; taken: number; available: number; share: number }[] };
    prepare: Record<
      string,
      { input: number; kept: number; truncated: number; skipped: { source: string; reason: string; message: string }[] }
    >;
    samples: { task: string; labels: string }[];
  };
  rerank?: {
    /** By collection: mean metrics per system (trec_eval definitions), and p-MRR on instruction pairs. */
    eval: Record<
      string,
      {
        queries: number;
        depth: number;
        bm25: Record<string, number>;
        reranked: Record<string, number>;
        fused?: Record<string, number>;
        pmrr?: number;
      }
    >;
  };
}

async function readReport(id: string): Promise<RunReport | undefined> {
  try {
    return JSON.parse(await readFile(path.join(runsDir(), id, 'report.json'), 'utf8')) as RunReport;
  } catch {
    return undefined;
  }
}

export const runsRouter = createTRPCRouter({
  /** Runs that finished writing a report, newest first. */
  list: publicProcedure.query(async () => {
    const names = await readdir(runsDir()).catch(() => [] as string[]);
    const runs = await Promise.all(
      names.map(async (id) => {
        const report = await readReport(id);
        if (!report) return undefined;
        const created = (await stat(path.join(runsDir(), id, 'report.json'))).mtime;
        return {
          id,
          preset: report.preset,
          stages: report.stages,
          seconds: report.seconds,
          created: created.toISOString(),
          sftRows: report.data?.statistics.sft?.rows ?? null,
        };
      }),
    );
    return runs.filter((r) => r !== undefined).sort((a, b) => b.created.localeCompare(a.created));
  }),

  get: publicProcedure
    .input(z.object({ id: z.string().regex(/^[\w.-]+$/, 'not a run id') }))
    .query(async ({ input }) => {
      const report = await readReport(input.id);
      if (!report)
        throw new TRPCError({ code: 'NOT_FOUND', message: `no run "${input.id}" with a report in ${runsDir()}` });
      return report;
    }),
});
