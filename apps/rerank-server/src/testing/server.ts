import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { trainByteLevelBpe } from '@tunekit/data';
import { Llama } from '@tunekit/model';
import { Reranker } from '@tunekit/rerank';
import { tinyDecoderConfig } from '@tunekit/rerank/testing';

const root = path.resolve(import.meta.dirname, '../../../..');

/** A small real reranker (random weights, a BPE tokenizer trained here), saved like the trainer saves one. */
export async function tinyReranker(mode: 'yes_no' | 'head' = 'yes_no'): Promise<{ dir: string; reranker: Reranker }> {
  const words = [
    'yes',
    'no',
    'capital',
    'currency',
    'Peru',
    'Lima',
    'Chile',
    'Santiago',
    'the',
    'of',
    'is',
    'What',
    'Judge',
    'whether',
    'Document',
    'Query',
    'Instruct',
  ];
  const tokenizer = trainByteLevelBpe(
    Array.from(
      { length: 60 },
      (_, i) => `${words[i % words.length]} ${words[(i * 7) % words.length]} yes no. The capital of Peru is Lima.`,
    ),
    { vocabSize: 400 },
  );
  const config = tinyDecoderConfig(tokenizer.vocabSize, { modelType: 'llama', maxPositions: 512 });
  const reranker = Reranker.create(Llama.init(config, 7), tokenizer, { mode, maxDocTokens: 96 }, 7);
  const dir = await mkdtemp(path.join(tmpdir(), 'reranker-'));
  await reranker.save(dir);
  return { dir, reranker };
}

export interface RunningServer {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Starts the real server (the CLI, as a user would) on a free loopback port. */
export function startServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  const child = spawn(
    path.join(root, 'node_modules/.bin/tsx'),
    ['--tsconfig', 'apps/rerank-server/tsconfig.json', 'apps/rerank-server/src/main.ts', '--port', '0', ...args],
    { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' },
  );
  let stdout = '',
    stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m)
        resolve({ url: m[1], child, stderr: () => stderr, stop: (signal = 'SIGTERM') => (child.kill(signal), exited) });
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${stderr}`)));
  });
}

/** Runs the CLI to its end (for start-up errors). */
export function runServerCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    path.join(root, 'node_modules/.bin/tsx'),
    ['--tsconfig', 'apps/rerank-server/tsconfig.json', 'apps/rerank-server/src/main.ts', ...args],
    { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}
