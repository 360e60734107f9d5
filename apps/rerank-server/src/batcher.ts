import type { RerankPair } from '@tunekit/rerank';
import type { ModelWorker, Scored } from './engine';

/**
 * The queue is full, or holds more work than can be done before the request's deadline: the
 * request is refused at once (429) rather than left to time out.
 */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(
    readonly retryAfterSeconds: number,
    reason: string,
  ) {
    super(`the server is at capacity (${reason}); retry in ${retryAfterSeconds} s`);
  }
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

export class ClosedError extends Error {
  override name = 'ClosedError';
}

interface Job {
  pairs: RerankPair[];
  /** Next pair to hand to a worker, and pairs scored so far. */
  next: number;
  scored: number;
  out: Scored;
  settled: boolean;
  resolve: (s: Scored) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Share of a request's deadline that the work queued ahead of it (its own included) may take. */
const DEADLINE_SHARE = 0.9;

export interface BatcherHooks {
  onBatch?: (pairs: number, seconds: number) => void;
  onDepth?: (pairs: number) => void;
}

/**
 * Dynamic micro-batching: the (query, document) pairs of all concurrent requests wait in one FIFO
 * queue, and each idle model worker takes the next `batchSize` of them — several small requests
 * share a forward pass, and a large one is spread over several. Pairs of one query stay together,
 * so the worker's prefix cache serves them. The queue is bounded (in pairs) and every request has
 * a deadline.
 */
export class Batcher {
  private readonly queue: Job[] = [];
  private waitingPairs = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Pairs per second, smoothed: for Retry-After. */
  private rate = 0;

  constructor(
    private readonly workers: ModelWorker[],
    private readonly o: { batchSize: number; maxQueue: number; hooks?: BatcherHooks },
  ) {}

  /** Pairs waiting for a worker. */
  get depth(): number {
    return this.waitingPairs;
  }

  submit(pairs: RerankPair[], timeoutMs: number): Promise<Scored> {
    if (this.closed) return Promise.reject(new ClosedError('the server is shutting down'));
    const ahead = this.waitingPairs + pairs.length;
    const pairsPerSecond = this.rate * this.workers.length; // 0 until a batch has been timed
    const retry = Math.max(1, Math.ceil(ahead / Math.max(pairsPerSecond, 1)));
    if (ahead > this.o.maxQueue)
      return Promise.reject(new QueueFullError(retry, `${this.waitingPairs} of ${this.o.maxQueue} pairs waiting`));
    // Work that cannot be done before the deadline at the measured rate is refused now: admitted, it would time out
    // after taking the workers' time from requests that can still make theirs, and under overload nothing would finish.
    const seconds = pairsPerSecond > 0 ? ahead / pairsPerSecond : 0;
    if (seconds * 1000 > DEADLINE_SHARE * timeoutMs) {
      return Promise.reject(
        new QueueFullError(
          retry,
          `${this.waitingPairs} pairs waiting, about ${seconds.toFixed(1)} s of work, ` +
            `more than this request's ${timeoutMs} ms deadline allows`,
        ),
      );
    }
    return new Promise<Scored>((resolve, reject) => {
      const n = pairs.length;
      const job: Job = {
        pairs,
        next: 0,
        scored: 0,
        settled: false,
        resolve,
        reject,
        out: { scores: new Float32Array(n), inputTokens: new Int32Array(n), truncatedTokens: new Int32Array(n) },
        timer: setTimeout(
          () =>
            this.fail(
              job,
              new TimeoutError(
                `no result within ${timeoutMs} ms (the server is busy); retry later or send fewer documents`,
              ),
            ),
          timeoutMs,
        ),
      };
      this.queue.push(job);
      this.waitingPairs += n;
      this.o.hooks?.onDepth?.(this.waitingPairs);
      this.pump();
    });
  }

  /** Stops taking requests; resolves when every queued pair has been scored. */
  drain(): Promise<void> {
    this.closed = true;
    if (this.queue.length === 0 && this.workers.every((w) => !w.busy)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private fail(job: Job, err: Error): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    this.waitingPairs -= job.pairs.length - job.next;
    job.next = job.pairs.length;
    this.o.hooks?.onDepth?.(this.waitingPairs);
    job.reject(err);
  }

  private pump(): void {
    for (const worker of this.workers) {
      if (worker.busy) continue;
      const slices: { job: Job; from: number; to: number }[] = [];
      let size = 0;
      while (size < this.o.batchSize && this.queue.length) {
        const job = this.queue[0];
        if (job.settled || job.next >= job.pairs.length) {
          this.queue.shift();
          continue;
        }
        const take = Math.min(job.pairs.length - job.next, this.o.batchSize - size);
        slices.push({ job, from: job.next, to: job.next + take });
        job.next += take;
        size += take;
        this.waitingPairs -= take;
        if (job.next >= job.pairs.length) this.queue.shift();
      }
      if (size === 0) break;
      this.o.hooks?.onDepth?.(this.waitingPairs);
      worker.busy = true;
      const started = performance.now();
      worker
        .score(slices.flatMap((s) => s.job.pairs.slice(s.from, s.to)))
        .then((r) => {
          const seconds = (performance.now() - started) / 1000;
          this.rate = this.rate ? 0.8 * this.rate + 0.2 * (size / seconds) : size / seconds;
          this.o.hooks?.onBatch?.(size, seconds);
          let at = 0;
          for (const s of slices) {
            const n = s.to - s.from;
            if (!s.job.settled) {
              s.job.out.scores.set(r.scores.subarray(at, at + n), s.from);
              s.job.out.inputTokens.set(r.inputTokens.subarray(at, at + n), s.from);
              s.job.out.truncatedTokens.set(r.truncatedTokens.subarray(at, at + n), s.from);
              s.job.scored += n;
              if (s.job.scored === s.job.pairs.length) {
                s.job.settled = true;
                clearTimeout(s.job.timer);
                s.job.resolve(s.job.out);
              }
            }
            at += n;
          }
        })
        .catch((err: Error) => {
          for (const s of slices) this.fail(s.job, err);
        })
        .finally(() => {
          worker.busy = false;
          this.pump();
          if (this.queue.length === 0 && this.workers.every((w) => !w.busy))
            for (const resolve of this.idleWaiters.splice(0)) resolve();
        });
    }
  }
}
