import { parentPort, workerData } from 'node:worker_threads';
import { describeBackend, selectBackend, type BackendName } from '@tunekit/model';
import { Reranker, type RerankPair } from '@tunekit/rerank';

/**
 * A model worker: loads the reranker on its own thread (so scoring never blocks the HTTP event
 * loop) and scores the batches it is sent.
 */
const { dir, backend, batchSize } = workerData as { dir: string; backend: BackendName | 'auto'; batchSize: number };
const port = parentPort!;

try {
  const choice = await selectBackend(backend === 'auto' ? undefined : backend);
  const reranker = await Reranker.load(dir);
  port.postMessage({ ready: { backend: describeBackend(choice), config: reranker.config } });
  port.on('message', (m: { id: number; pairs: RerankPair[] }) => {
    try {
      const r = reranker.scoreDetailed(m.pairs, { batchSize });
      port.postMessage({ id: m.id, scores: r.scores, inputTokens: r.inputTokens, truncatedTokens: r.truncatedTokens }, [r.scores.buffer as ArrayBuffer, r.inputTokens.buffer as ArrayBuffer, r.truncatedTokens.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).message, input: (err as Error).name === 'InputError' });
    }
  });
} catch (err) {
  port.postMessage({ fatal: (err as Error).message });
}
