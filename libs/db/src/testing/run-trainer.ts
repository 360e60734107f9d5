/**
 * The one way tests start the trainer CLI (apps/trainer/src/main.ts) as a process: apps/trainer's and apps/web's
 * tests both use it. It lives in a lib because an app may import libs but not another app (and not by a relative
 * path either); it lives in the runs registry's lib because every trainer run writes to the registry, whose database
 * a test picks with `DATABASE_URL`. It only names the trainer's entry file, it imports nothing from the app.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const workspaceRoot = path.resolve(import.meta.dirname, '../../../..');
const tsx = path.join(workspaceRoot, 'node_modules/.bin/tsx');
const entry = ['--tsconfig', 'apps/trainer/tsconfig.json', 'apps/trainer/src/main.ts'];

export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the trainer CLI to completion; `env` is added to this process's environment. */
export function runTrainer(args: string[], env: Record<string, string> = {}): Promise<Finished> {
  return promisify(execFile)(tsx, [...entry, ...args], {
    cwd: workspaceRoot,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  })
    .then((r) => ({ code: 0, ...r }))
    .catch((err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }));
}

/** Starts the trainer CLI in the background (to kill it, or to disturb its database). */
export function startTrainer(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<Finished> } {
  const child = spawn(tsx, [...entry, ...args], {
    cwd: workspaceRoot,
    env: { ...process.env, ...env },
    stdio: 'pipe',
    detached: true,
  });
  let stdout = '',
    stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Finished>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 1), stdout, stderr })),
  );
  return { child, done };
}

/** The run directory a finished trainer names on its last line (`report: <run>/report.md`). */
export function runDirOf(finished: Finished): string {
  const report = /report: (.*)/.exec(finished.stdout);
  if (!report) throw new Error(`the trainer printed no report (exit ${finished.code}):\n${finished.stderr}`);
  return path.dirname(report[1]);
}

/** Runs the data stage of the smoke preset into a fresh runs directory: a real run, in seconds. */
export async function makeDataRun(): Promise<{ runsDir: string; id: string }> {
  const runsDir = await mkdtemp(path.join(tmpdir(), 'data-runs-'));
  const finished = await runTrainer(['--preset', 'smoke', '--stages', 'data', '--output-dir', runsDir]);
  if (finished.code !== 0) throw new Error(`the trainer exited with ${finished.code}:\n${finished.stderr}`);
  return { runsDir, id: path.basename(runDirOf(finished)) };
}

/** Polls until `check` is true (or fails the test after `timeout` ms). */
export async function until(
  check: () => Promise<boolean> | boolean,
  timeout = 120_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
