import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TrainerConfig } from './config';

/** One metric point, as written to metrics.jsonl (the run's source of truth). */
export interface MetricPoint {
  stage: string;
  step: number;
  name: string;
  value: number;
  time: string;
}

export interface RunSink {
  metrics(points: MetricPoint[]): void;
  dropMetricsAfter(stage: string, step: number): void;
  checkpoint(stage: string, step: number, path: string): void;
}

/** Where a run writes, and what finished stages left behind. */
export class RunContext {
  readonly config: TrainerConfig;
  readonly dir: string;
  backend = '';
  private pending: MetricPoint[] = [];
  private writing: Promise<void> = Promise.resolve();
  /** Where run events also go (the runs registry). */
  sink: RunSink | undefined;

  constructor(config: TrainerConfig, dir: string) {
    this.config = config;
    this.dir = dir;
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /** Queues metric points; `flush` appends them to metrics.jsonl and hands them to listeners (the registry). */
  metric(stage: string, step: number, values: Record<string, number>): void {
    const time = new Date().toISOString();
    for (const [name, value] of Object.entries(values)) this.pending.push({ stage, step, name, value, time });
  }

  /** Appends queued points in order (flushes never interleave). */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (this.pending.length === 0) return;
      const points = this.pending;
      this.pending = [];
      await appendFile(this.path('metrics.jsonl'), points.map((p) => JSON.stringify(p)).join('\n') + '\n');
      this.sink?.metrics(points);
    });
    return this.writing;
  }

  /**
   * Forgets metrics of `stage` after `step`, in metrics.jsonl and in the sink: a resumed stage
   * re-runs the steps after its checkpoint, so each step keeps exactly one value.
   */
  async dropMetricsAfter(stage: string, step: number): Promise<void> {
    const kept = (await this.readMetrics()).filter((p) => p.stage !== stage || p.step <= step);
    await writeFile(
      this.path('metrics.jsonl'),
      kept.map((p) => JSON.stringify(p)).join('\n') + (kept.length ? '\n' : ''),
    );
    this.sink?.dropMetricsAfter(stage, step);
  }

  /** Every metric point written so far (for charts and back-filling the registry). */
  async readMetrics(): Promise<MetricPoint[]> {
    const text = await readFile(this.path('metrics.jsonl'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as MetricPoint);
  }

  /** Marks a stage (or a part of one) finished with its summary, so a resumed run skips it. */
  async markDone(name: string, summary: unknown): Promise<void> {
    await mkdir(this.path('stages'), { recursive: true });
    await writeFile(this.path('stages', `${name}.json`), JSON.stringify(summary, null, 2) + '\n');
  }

  async doneSummary<T>(name: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.path('stages', `${name}.json`), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** The newest `checkpoint-<step>` under checkpoints/<name>, to resume from. */
  async latestCheckpoint(name: string): Promise<string | undefined> {
    const dir = this.path('checkpoints', name);
    const entries = await readdir(dir).catch(() => [] as string[]);
    const steps = entries
      .map((e) => /^checkpoint-(\d+)$/.exec(e)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number);
    return steps.length ? path.join(dir, `checkpoint-${Math.max(...steps)}`) : undefined;
  }
}
