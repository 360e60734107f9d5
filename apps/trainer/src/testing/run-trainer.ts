import { execFile, spawn, type ChildProcess } from 'node:child_process';
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

/** Runs the trainer CLI to completion. */
export function runTrainer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
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
  env: NodeJS.ProcessEnv = {},
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
