import path from 'node:path';
import type { NextConfig } from 'next';

const workspaceRoot = path.resolve(import.meta.dirname, '../..');

const config: NextConfig = {
  // The app imports the workspace libraries (through tsconfig paths), which live outside apps/web.
  turbopack: { root: workspaceRoot },
  outputFileTracingRoot: workspaceRoot,
  typedRoutes: false,
};

export default config;
