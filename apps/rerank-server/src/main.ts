import { access } from 'node:fs/promises';
import path from 'node:path';
import { TextTokenizer } from '@tunekit/data';
import { Batcher } from './batcher';
import { ModelWorker } from './engine';
import { createMetrics } from './metrics';
import { OptionsError, USAGE, parseOptions } from './options';
import { buildServer } from './server';
import { RerankService } from './service';

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A run directory serves its reranker/; a reranker directory serves itself. */
async function modelDirectory(dir: string): Promise<string> {
  const has = (p: string) =>
    access(path.join(p, 'reranker.json')).then(
      () => true,
      () => false,
    );
  if (await has(dir)) return dir;
  if (await has(path.join(dir, 'reranker'))) return path.join(dir, 'reranker');
  throw new OptionsError(
    `--model ${dir}: no reranker.json there or in ${path.join(dir, 'reranker')}; ` +
      'pass a reranker directory (the rerank stage of the trainer writes one)',
  );
}

async function main(): Promise<void> {
  const { options, help } = parseOptions(process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const dir = await modelDirectory(path.resolve(options.model));
  const modelName =
    options.modelName ?? path.basename(dir === path.resolve(options.model) ? dir : path.resolve(options.model));
  const started = performance.now();
  const workers = await Promise.all(
    Array.from({ length: options.workers }, () =>
      ModelWorker.start({ dir, backend: options.backend, batchSize: options.batchSize, engine: options.engine }),
    ),
  );
  const tokenizer = await TextTokenizer.fromDirectory(dir);
  const config = workers[0].config;
  log(
    `model ${modelName} from ${dir}: ${config.mode} scoring, documents cut to ${config.maxDocTokens} tokens; ` +
      `${workers.length} worker(s) ready in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  log(workers[0].backend);

  const metrics = createMetrics();
  const batcher = new Batcher(workers, {
    batchSize: options.batchSize,
    maxQueue: options.maxQueue,
    hooks: {
      onDepth: (n) => metrics.queueDepth.set(n),
      onBatch: (n, s) => {
        metrics.batchSize.observe(n);
        metrics.batchSeconds.observe(s);
      },
    },
  });
  const service = new RerankService(batcher, tokenizer, tokenizer.chatTemplate(), config, options, metrics);
  const info = {
    mode: config.mode,
    max_doc_tokens: config.maxDocTokens,
    default_instruction: config.defaultInstruction,
    engine: workers[0].backend,
  };
  const { app, state } = buildServer({ options, service, batcher, metrics, modelName, info });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const keys = options.apiKeys.length ? `API keys required (${options.apiKeys.length})` : 'no API keys (loopback only)';
  const limits =
    `${options.maxDocuments} documents, ${options.maxTokensPerDoc} tokens per document, ` +
    `${options.maxBodyBytes} bytes per body, ${options.maxQueue} pairs queued, ${options.timeoutMs} ms per request`;
  log(`${keys}; limits: ${limits}`);
  process.stdout.write(
    `listening on http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}\n`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing ${batcher.depth} queued pairs and the requests in flight, then stopping`);
    state.draining = true;
    await batcher.drain();
    await app.close();
    await Promise.all(workers.map((w) => w.terminate()));
    log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof OptionsError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
});
