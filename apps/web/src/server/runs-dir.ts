import path from 'node:path';

/** Where the trainer writes runs: `TUNEKIT_RUNS_DIR`, or `runs/` in the directory the server started in. */
export function runsDir(): string {
  return path.resolve(/*turbopackIgnore: true*/ process.env.TUNEKIT_RUNS_DIR ?? 'runs');
}
