import { parseArgs } from 'node:util';
import { z } from 'zod';

export const USAGE = `Usage: nx run rerank-server:serve -- --model DIR [options]

  --model DIR               a reranker directory (reranker/ of a run), or a run directory   [RERANK_MODEL]
  --model-name NAME         the name clients see (default: the directory's name)              [RERANK_MODEL_NAME]
  --host HOST               address to listen on (default 127.0.0.1)                          [HOST]
  --port N                  port (default 8080; 0 picks a free one)                           [PORT]
  --api-key KEY             accepted bearer key; repeatable (required unless the host is loopback)
                            [RERANK_API_KEYS, comma-separated]
  --max-documents N         documents per request (default 1000)
  --max-tokens-per-doc N    longest document accepted, in tokens (default 8192); longer ones are refused
  --max-body-bytes N        largest request body (default 10 MiB)
  --max-queue N             (query, document) pairs waiting to be scored before requests are refused (default 20000)
  --timeout-ms N            per-request limit, queueing included (default 30000)
  --batch-size N            pairs per forward pass (default 64)
  --workers N               model workers, one thread each (default 1)
  --backend NAME            TensorFlow.js backend: auto|tensorflow-gpu|tensorflow|wasm|cpu (default auto)
  --engine NAME             auto|tfjs|onnx: auto measures both at start and keeps the faster (default auto)
  --help`;

export const serverOptions = z.strictObject({
  model: z.string({ error: 'is required: pass --model <reranker directory>' }).min(1),
  modelName: z.string().min(1).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  apiKeys: z.array(z.string().min(8, 'API keys must have at least 8 characters')).default([]),
  maxDocuments: z.number().int().positive().default(1000),
  maxTokensPerDoc: z.number().int().positive().default(8192),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  maxQueue: z.number().int().positive().default(20_000),
  timeoutMs: z.number().int().positive().default(30_000),
  batchSize: z.number().int().positive().default(64),
  workers: z.number().int().positive().max(64).default(1),
  backend: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  engine: z.enum(['auto', 'tfjs', 'onnx']).default('auto'),
});

export type ServerOptions = z.output<typeof serverOptions>;

export class OptionsError extends Error {
  override name = 'OptionsError';
}

/** Flags first, then the environment; every bad value is named. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): { options: ServerOptions; help: boolean } {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        'model-name': { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'api-key': { type: 'string', multiple: true },
        'max-documents': { type: 'string' },
        'max-tokens-per-doc': { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-queue': { type: 'string' },
        'timeout-ms': { type: 'string' },
        'batch-size': { type: 'string' },
        workers: { type: 'string' },
        backend: { type: 'string' },
        engine: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new OptionsError(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (v.help) return { options: {} as ServerOptions, help: true };
  const num = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n)) throw new OptionsError(`--${flag}: expected a number, got "${text}"`);
    return n;
  };
  const keys = [
    ...(v['api-key'] ?? []),
    ...(env.RERANK_API_KEYS ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  ];
  const parsed = serverOptions.safeParse({
    model: v.model ?? env.RERANK_MODEL,
    modelName: v['model-name'] ?? env.RERANK_MODEL_NAME,
    host: v.host ?? env.HOST,
    port: num('port', v.port ?? env.PORT),
    apiKeys: keys,
    maxDocuments: num('max-documents', v['max-documents']),
    maxTokensPerDoc: num('max-tokens-per-doc', v['max-tokens-per-doc']),
    maxBodyBytes: num('max-body-bytes', v['max-body-bytes']),
    maxQueue: num('max-queue', v['max-queue']),
    timeoutMs: num('timeout-ms', v['timeout-ms']),
    batchSize: num('batch-size', v['batch-size']),
    workers: num('workers', v.workers),
    backend: v.backend,
    engine: v.engine,
  });
  if (!parsed.success)
    throw new OptionsError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('\n'),
    );
  const options = parsed.data;
  if (options.apiKeys.length === 0 && !isLoopback(options.host)) {
    throw new OptionsError(
      `--host ${options.host} is reachable from other machines: ` +
        'give at least one --api-key (or RERANK_API_KEYS), or listen on 127.0.0.1',
    );
  }
  return { options, help: false };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
