import { Worker } from 'node:worker_threads';
import type { RerankerConfig, RerankPair } from '@tunekit/rerank';

export interface Scored {
  scores: Float32Array;
  inputTokens: Int32Array;
  truncatedTokens: Int32Array;
}

/** A pair the model could not take (its instruction and query alone are too long). */
export class PairError extends Error {
  override name = 'PairError';
}

/** One model thread: scores one batch at a time. */
export class ModelWorker {
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (s: Scored) => void; reject: (e: Error) => void }>();
  busy = false;

  private constructor(
    private readonly worker: Worker,
    readonly backend: string,
    readonly config: RerankerConfig,
  ) {
    worker.on('message', (m: { id: number; error?: string; input?: boolean } & Partial<Scored>) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error) w.reject(m.input ? new PairError(m.error) : new Error(m.error));
      else w.resolve({ scores: m.scores!, inputTokens: m.inputTokens!, truncatedTokens: m.truncatedTokens! });
    });
    worker.on('error', (err) => {
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  static start(o: { dir: string; backend: string; batchSize: number; engine: string }): Promise<ModelWorker> {
    // the worker runs TypeScript through the same loader as this process (tsx)
    const worker = new Worker(new URL('./engine-worker.mjs', import.meta.url), { workerData: o });
    return new Promise((resolve, reject) => {
      worker.once('message', (m: { ready?: { backend: string; config: RerankerConfig }; fatal?: string }) => {
        if (m.ready) resolve(new ModelWorker(worker, m.ready.backend, m.ready.config));
        else {
          void worker.terminate();
          reject(new Error(m.fatal));
        }
      });
      worker.once('error', reject);
    });
  }

  score(pairs: RerankPair[]): Promise<Scored> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, pairs });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}
