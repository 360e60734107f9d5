import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const workspaceRoot = path.resolve(import.meta.dirname, '../../../..');

/** Runs the real trainer (smoke preset) into a fresh runs directory and returns it with the run id. */
export async function makeRun(): Promise<{ runsDir: string; id: string }> {
  const runsDir = await mkdtemp(path.join(tmpdir(), 'web-runs-'));
  const { stdout } = await promisify(execFile)(
    path.join(workspaceRoot, 'node_modules/.bin/tsx'),
    [
      '--tsconfig',
      'apps/trainer/tsconfig.json',
      'apps/trainer/src/main.ts',
      '--preset',
      'smoke',
      '--stages',
      'data',
      '--output-dir',
      runsDir,
    ],
    { cwd: workspaceRoot },
  );
  const report = /report: (.*)/.exec(stdout)![1];
  return { runsDir, id: path.basename(path.dirname(report)) };
}
