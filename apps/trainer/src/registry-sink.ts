import { hostname } from 'node:os';
import { RunRegistry } from '@tunekit/db';
import type { DataSummary } from './stages/data';
import type { SftResult } from './stages/sft';
import { log } from './progress';
import type { RunContext } from './run-context';

/**
 * Connects a run to the runs registry in PostgreSQL (embedded by default, DATABASE_URL otherwise).
 * The registry never stops a run: when the database is away it catches up later from metrics.jsonl.
 */
export async function attachRegistry(ctx: RunContext): Promise<RunRegistry> {
  const registry = await RunRegistry.open(ctx.dir.split('/').at(-1)!, { readAllMetrics: () => ctx.readMetrics(), log });
  registry.startRun({ preset: ctx.config.preset, stages: ctx.config.stages, config: ctx.config, directory: ctx.dir, host: hostname(), backend: ctx.backend });
  ctx.sink = {
    metrics: (points) => registry.recordMetrics(points),
    dropMetricsAfter: (stage, step) => registry.dropMetricsAfter(stage, step),
    checkpoint: (stage, step, path) => registry.recordCheckpoint(stage, step, path),
  };
  return registry;
}

export function recordData(registry: RunRegistry, d: DataSummary): void {
  for (const [name, stats] of Object.entries(d.statistics)) {
    const prep = d.prepare[name as keyof DataSummary['prepare']];
    registry.recordDataset({ name, source: 'default corpus (countries-list)', format: name === 'pretraining' ? 'text' : 'messages', rows: prep.input, kept: prep.kept, skipped: prep.skipped.length, statistics: stats });
  }
  for (const r of d.reads) registry.recordDataset({ name: r.file, source: r.file, format: r.format, rows: r.rows, kept: r.kept, skipped: r.skipped.length, statistics: { skipped: r.skipped } });
}

export function recordEvaluations(registry: RunRegistry, sft: SftResult): void {
  for (const [model, values] of Object.entries(sft.evals)) registry.recordEvaluation('instructions', model === 'sft' ? 'tuned' : model, values, sft.examples[model] ?? []);
}
