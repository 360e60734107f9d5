import { parentPort, workerData } from 'node:worker_threads';
import { describeBackend, selectBackend, type BackendName } from '@tunekit/model';
import { OnnxScorer, Reranker, type RerankPair, type ScoredPairs } from '@tunekit/rerank';

/**
 * A model worker: loads the reranker on its own thread (so scoring never blocks the HTTP event
 * loop) and scores the batches it is sent, with the engine chosen by measurement: TensorFlow.js
 * or the model exported to ONNX and run by ONNX Runtime (both run a query's shared prefix once).
 */
const { dir, backend, batchSize, engine } = workerData as {
  dir: string;
  backend: BackendName | 'auto';
  batchSize: number;
  engine: 'auto' | 'tfjs' | 'onnx';
};
const port = parentPort!;

type Score = (pairs: RerankPair[]) => Promise<ScoredPairs>;

/** Median seconds of a few runs over 64 pairs of one query (a typical request) with documents at the model's budget. */
async function measure(score: Score): Promise<number> {
  const sentence =
    'The library catalogue lists every book, journal and report the collection holds, ' +
    'with its subject headings and call number. ';
  const document = sentence.repeat(12);
  const pairs = Array.from({ length: 64 }, (_, i) => ({
    query: 'How are books indexed by subject?',
    document: `${i} ${document}`.slice(0, 600 + i),
  }));
  await score(pairs.slice(0, 8));
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await score(pairs);
    times.push((performance.now() - t0) / 1000);
  }
  return times.sort((a, b) => a - b)[1];
}

try {
  const choice = await selectBackend(backend === 'auto' ? undefined : backend);
  const reranker = await Reranker.load(dir);
  const tfjs: Score = async (pairs) => reranker.scoreDetailed(pairs, { batchSize });
  let score = tfjs;
  let chosen = `tfjs (${choice.name})`;
  const timings: Record<string, number> = {};
  if (engine !== 'tfjs') {
    const onnx = await OnnxScorer.create(reranker, { threads: 1 });
    // ONNX Runtime on one thread is fastest at small forward passes (tools/bench engine_docs_per_s.by_batch:
    // 8 > 4, 16 > 32 > 100 pairs), where the activations stay in cache; the micro-batch is split into them
    const viaOnnx: Score = (pairs) => onnx.scoreDetailed(pairs, { batchSize: Math.min(batchSize, 8) });
    if (engine === 'onnx') [score, chosen] = [viaOnnx, 'onnx (ONNX Runtime, CPU)'];
    else {
      timings.tfjs = await measure(tfjs);
      timings.onnx = await measure(viaOnnx);
      if (timings.onnx < timings.tfjs) [score, chosen] = [viaOnnx, 'onnx (ONNX Runtime, CPU)'];
    }
  }
  const measured = Object.keys(timings).length
    ? `; measured on 64 pairs: ${Object.entries(timings)
        .map(([k, s]) => `${k} ${(64 / s).toFixed(0)} pairs/s`)
        .join(', ')}`
    : '';
  port.postMessage({
    ready: {
      backend: `engine ${chosen}${measured}; ${describeBackend(choice).split('\n')[0]}`,
      config: reranker.config,
    },
  });
  port.on('message', (m: { id: number; pairs: RerankPair[] }) => {
    score(m.pairs).then(
      (r) => {
        port.postMessage(
          { id: m.id, scores: r.scores, inputTokens: r.inputTokens, truncatedTokens: r.truncatedTokens },
          [
            r.scores.buffer as ArrayBuffer,
            r.inputTokens.buffer as ArrayBuffer,
            r.truncatedTokens.buffer as ArrayBuffer,
          ],
        );
      },
      (err: Error) => {
        port.postMessage({ id: m.id, error: err.message, input: err.name === 'InputError' });
      },
    );
  });
} catch (err) {
  port.postMessage({ fatal: (err as Error).message });
}
