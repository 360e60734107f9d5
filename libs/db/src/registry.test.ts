import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Connection } from './client';
import { RunRegistry, type MetricRow } from './registry';
import * as schema from './schema';
import { ensureEmbeddedPostgres, stopEmbeddedPostgres } from './server';

/** A private embedded server for this test file, so stopping it cannot disturb other tests. */
let server: { url: string; dataDir: string };
let conn: Connection;

beforeAll(async () => {
  const parent = await mkdtemp(path.join(tmpdir(), 'pg-'));
  await chmod(parent, 0o755); // the server runs as the postgres user when we are root
  const dataDir = path.join(parent, 'data');
  server = await ensureEmbeddedPostgres({ dataDir, port: 54400 + Math.floor(Math.random() * 500) });
  conn = await openDatabase({ url: server.url });
}, 120_000);

afterAll(async () => {
  await conn?.close();
  if (server) await stopEmbeddedPostgres(server.dataDir);
});

const point = (step: number, value: number): MetricRow => ({
  stage: 'sft',
  step,
  name: 'loss',
  value,
  time: new Date().toISOString(),
});

describe('runs registry on a real PostgreSQL', () => {
  it('applies the migrations and stores a run, its metrics, checkpoints and evaluations', async () => {
    const id = `test-${randomUUID()}`;
    const file: MetricRow[] = [];
    const registry = await RunRegistry.open(id, {
      readAllMetrics: async () => file,
      log: () => undefined,
      url: server.url,
    });
    registry.startRun({
      preset: 'smoke',
      stages: ['sft'],
      config: { a: 1 },
      directory: '/tmp/x',
      host: 'h',
      backend: 'wasm',
    });
    file.push(point(1, 2.5), point(2, 2.1));
    registry.recordMetrics(file.slice());
    registry.recordCheckpoint('sft', 2, '/tmp/x/checkpoint-2');
    registry.recordEvaluation('heldout', 'tuned', { accuracy: 0.5 }, [
      { id: 'q1', task: 'qa', output: 'Paris', expected: 'Paris', correct: true },
      { id: 'q2', correct: false },
    ]);
    registry.finishRun('completed', { report: { ok: true } });
    await registry.close();
    const [run] = await conn.db.select().from(schema.runs).where(eq(schema.runs.id, id));
    expect(run).toMatchObject({ status: 'completed', backend: 'wasm', report: { ok: true } });
    expect(
      (await conn.db.select().from(schema.metrics).where(eq(schema.metrics.runId, id))).map((m) => [m.step, m.value]),
    ).toEqual([
      [1, 2.5],
      [2, 2.1],
    ]);
    const [evaluation] = await conn.db.select().from(schema.evaluations).where(eq(schema.evaluations.runId, id));
    expect(
      await conn.db
        .select()
        .from(schema.evaluationExamples)
        .where(eq(schema.evaluationExamples.evaluationId, evaluation.id)),
    ).toHaveLength(2);
  });

  it('keeps going through an outage and back-fills every metric once', async () => {
    const id = `outage-${randomUUID()}`;
    const file: MetricRow[] = [];
    const logs: string[] = [];
    const registry = await RunRegistry.open(id, {
      readAllMetrics: async () => file,
      log: (l) => logs.push(l),
      url: server.url,
    });
    registry.startRun({
      preset: 'smoke',
      stages: ['sft'],
      config: {},
      directory: '/tmp/y',
      host: 'h',
      backend: 'wasm',
    });
    const write = async (from: number, to: number) => {
      for (let s = from; s <= to; s++) {
        file.push(point(s, 1 / s));
        registry.recordMetrics([file.at(-1)!]);
      }
      await registry.sync();
    };
    await write(1, 5);
    await stopEmbeddedPostgres(server.dataDir);
    await write(6, 10); // the database is down: nothing throws
    expect(registry.available).toBe(false);
    expect(logs.some((l) => l.includes('database unavailable'))).toBe(true);
    await ensureEmbeddedPostgres({ dataDir: server.dataDir, port: Number(new URL(server.url).port) });
    await write(11, 12);
    await registry.close();
    const steps = (await conn.db.select().from(schema.metrics).where(eq(schema.metrics.runId, id)))
      .map((m) => m.step)
      .sort((a, b) => a - b);
    expect(steps).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(logs.some((l) => l.includes('back-filled 12 metric points'))).toBe(true);
  }, 120_000);
});
