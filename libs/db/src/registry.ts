import { and, eq, gt, sql } from 'drizzle-orm';
import { openDatabase, type Connection } from './client';
import { artifacts, checkpoints, datasets, evaluationExamples, evaluations, metrics, runs } from './schema';

export interface MetricRow {
  stage: string;
  step: number;
  name: string;
  value: number;
  time: string;
}

export interface EvaluationExample {
  id: string;
  task?: string;
  prompt?: string;
  output?: string;
  expected?: string | null;
  correct?: boolean;
  score?: number;
  metrics?: Record<string, number>;
}

type Op = (c: Connection) => Promise<unknown>;

/**
 * The runs registry as the trainer sees it. Writes are queued and sent in order, in batches; when
 * the database is unreachable the run goes on, and on the next successful write the metrics are
 * back-filled from the run's metrics.jsonl (the source of truth). Every metric insert ignores
 * points already stored, so nothing is lost or duplicated.
 */
export class RunRegistry {
  private connection: Connection | undefined;
  private ops: Op[] = [];
  private points: MetricRow[] = [];
  private needsBackfill = false;
  private chain: Promise<void> = Promise.resolve();
  private warned = false;
  available = false;

  private constructor(
    readonly runId: string,
    private readonly readAllMetrics: () => Promise<MetricRow[]>,
    private readonly log: (line: string) => void,
    private readonly url?: string,
  ) {}

  /** Connects (starting the embedded server when needed); a registry that cannot connect yet still queues. */
  static async open(
    runId: string,
    o: { readAllMetrics: () => Promise<MetricRow[]>; log: (line: string) => void; url?: string },
  ): Promise<RunRegistry> {
    const registry = new RunRegistry(runId, o.readAllMetrics, o.log, o.url);
    await registry.connect();
    return registry;
  }

  private async connect(): Promise<Connection | undefined> {
    if (this.connection) return this.connection;
    try {
      this.connection = await openDatabase({ url: this.url, log: this.log });
      this.available = true;
      return this.connection;
    } catch (err) {
      this.unavailable(err);
      return undefined;
    }
  }

  private unavailable(err: unknown): void {
    this.available = false;
    if (!this.warned)
      this.log(
        `registry: database unavailable (${(err as Error).message.split('\n')[0]}); ` +
          'the run goes on, metrics stay in metrics.jsonl and are back-filled when it returns',
      );
    this.warned = true;
  }

  /** Queues an operation; `sync` sends queued work. */
  private enqueue(op: Op): void {
    this.ops.push(op);
    void this.sync();
  }

  startRun(r: {
    preset: string;
    stages: string[];
    config: unknown;
    directory: string;
    host: string;
    backend: string;
  }): void {
    this.enqueue((c) =>
      c.db
        .insert(runs)
        .values({ id: this.runId, ...r, status: 'running' })
        .onConflictDoUpdate({
          target: runs.id,
          set: { status: 'running', error: null, finishedAt: null, backend: r.backend, updatedAt: new Date() },
        }),
    );
  }

  finishRun(status: 'completed' | 'failed', o: { report?: unknown; error?: string } = {}): void {
    this.enqueue((c) =>
      c.db
        .update(runs)
        .set({
          status,
          report: o.report ?? null,
          error: o.error ?? null,
          finishedAt: new Date(),
          updatedAt: new Date(),
        })
        .where(eq(runs.id, this.runId)),
    );
  }

  recordMetrics(points: MetricRow[]): void {
    this.points.push(...points);
    void this.sync();
  }

  /** Forgets metrics of `stage` after `step` (a resumed stage re-runs those steps). */
  dropMetricsAfter(stage: string, step: number): void {
    this.enqueue((c) =>
      c.db.delete(metrics).where(and(eq(metrics.runId, this.runId), eq(metrics.stage, stage), gt(metrics.step, step))),
    );
  }

  recordCheckpoint(stage: string, step: number, path: string): void {
    this.enqueue((c) =>
      c.db.insert(checkpoints).values({ runId: this.runId, stage, step, path }).onConflictDoNothing(),
    );
  }

  recordDataset(d: {
    name: string;
    source: string;
    format?: string;
    rows: number;
    kept: number;
    skipped: number;
    statistics?: unknown;
  }): void {
    this.enqueue((c) =>
      c.db
        .insert(datasets)
        .values({ runId: this.runId, ...d })
        .onConflictDoUpdate({
          target: [datasets.runId, datasets.name],
          set: { rows: d.rows, kept: d.kept, skipped: d.skipped, statistics: d.statistics },
        }),
    );
  }

  recordArtifact(kind: string, path: string): void {
    this.enqueue((c) => c.db.insert(artifacts).values({ runId: this.runId, kind, path }).onConflictDoNothing());
  }

  recordEvaluation(kind: string, model: string, values: unknown, examples: EvaluationExample[] = []): void {
    this.enqueue(async (c) => {
      await c.db.transaction(async (tx) => {
        const [row] = await tx
          .insert(evaluations)
          .values({ runId: this.runId, kind, model, metrics: values })
          .onConflictDoUpdate({
            target: [evaluations.runId, evaluations.kind, evaluations.model],
            set: { metrics: values, createdAt: new Date() },
          })
          .returning({ id: evaluations.id });
        await tx.delete(evaluationExamples).where(eq(evaluationExamples.evaluationId, row.id));
        for (let i = 0; i < examples.length; i += 500) {
          await tx.insert(evaluationExamples).values(
            examples.slice(i, i + 500).map((e) => ({
              evaluationId: row.id,
              exampleId: e.id,
              task: e.task,
              prompt: e.prompt,
              output: e.output,
              expected: e.expected ?? null,
              correct: e.correct === undefined ? null : Number(e.correct),
              score: e.score ?? null,
              metrics: e.metrics ?? null,
            })),
          );
        }
      });
    });
  }

  /** Sends queued work in order; on failure keeps it for the next attempt. */
  sync(): Promise<void> {
    this.chain = this.chain.then(async () => {
      const c = await this.connect();
      if (!c) {
        if (this.points.length) this.needsBackfill = true;
        this.points = [];
        return;
      }
      try {
        while (this.ops.length) {
          await this.ops[0](c);
          this.ops.shift();
        }
        // take the queued points before reading the file: points queued while it is read may not be in what it
        // returned, and must not be cleared with the rest
        const queued = this.points;
        this.points = [];
        const batch = this.needsBackfill ? withQueued(await this.readAllMetrics(), queued) : queued;
        for (let i = 0; i < batch.length; i += 1000) {
          await c.db
            .insert(metrics)
            .values(batch.slice(i, i + 1000).map((p) => ({ runId: this.runId, ...p, time: new Date(p.time) })))
            .onConflictDoNothing();
        }
        if (this.needsBackfill) this.log(`registry: database back; back-filled ${batch.length} metric points`);
        this.needsBackfill = false;
        this.available = true;
        this.warned = false;
      } catch (err) {
        this.unavailable(err);
        this.needsBackfill = true;
        this.points = [];
      }
    });
    return this.chain;
  }

  /** Waits for everything queued; the last attempt may still leave work for later. */
  async close(): Promise<void> {
    await this.sync();
    await this.connection?.close().catch(() => undefined);
  }

  /** Rows for the closing summary and tests. */
  async counts(): Promise<{ metrics: number; evaluations: number; status: string | null } | undefined> {
    const c = await this.connect();
    if (!c) return undefined;
    const [m] = await c.db
      .select({ n: sql<number>`count(*)::int` })
      .from(metrics)
      .where(eq(metrics.runId, this.runId));
    const [e] = await c.db
      .select({ n: sql<number>`count(*)::int` })
      .from(evaluations)
      .where(eq(evaluations.runId, this.runId));
    const [r] = await c.db.select({ status: runs.status }).from(runs).where(eq(runs.id, this.runId));
    return { metrics: m.n, evaluations: e.n, status: r?.status ?? null };
  }
}

/** The points of metrics.jsonl and the queued ones it does not hold yet, each (stage, step, name) once. */
function withQueued(file: MetricRow[], queued: MetricRow[]): MetricRow[] {
  const key = (p: MetricRow) => `${p.stage}\u0000${p.step}\u0000${p.name}`;
  const inFile = new Set(file.map(key));
  return [...file, ...queued.filter((p) => !inFile.has(key(p)))];
}
