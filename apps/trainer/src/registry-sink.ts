import { hostname } from 'node:os';
import { RunRegistry } from '@tunekit/db';
import type { DataSummary } from './stages/data';
import type { RerankResult } from './stages/rerank';
import type { SftResult } from './stages/sft';
import { log } from './progress';
import type { RunContext } from './run-context';

/**
 * Connects a run to the runs registry in PostgreSQL (embedded by default, DATABASE_URL otherwise).
 * The registry never stops a run: when the database is away it catches up later from metrics.jsonl.
 */
export async function attachRegistry(ctx: RunContext): Promise<RunRegistry> {
  const registry = await RunRegistry.open(ctx.dir.split('/').at(-1)!, { readAllMetrics: () => ctx.readMetrics(), log });
  registry.startRun({
    preset: ctx.config.preset,
    stages: ctx.config.stages,
    config: ctx.config,
    directory: ctx.dir,
    host: hostname(),
    backend: ctx.backend,
  });
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
    registry.recordDataset({
      name,
      source: 'default corpus (countries-list)',
      format: name === 'pretraining' ? 'text' : 'messages',
      rows: prep.input,
      kept: prep.kept,
      skipped: prep.skipped.length,
      statistics: stats,
    });
  }
  for (const r of d.reads)
    registry.recordDataset({
      name: r.file,
      source: r.file,
      format: r.format,
      rows: r.rows,
      kept: r.kept,
      skipped: r.skipped.length,
      statistics: { skipped: r.skipped },
    });
}

export function recordEvaluations(registry: RunRegistry, sft: SftResult): void {
  for (const [model, values] of Object.entries(sft.evals))
    registry.recordEvaluation('instructions', model === 'sft' ? 'tuned' : model, values, sft.examples[model] ?? []);
}

/** Retrieval metrics per collection and system, with every query's metrics; p-MRR with every pair's score. */
export function recordRetrieval(registry: RunRegistry, r: RerankResult): void {
  for (const [collection, e] of Object.entries(r.eval)) {
    for (const system of ['bm25', 'reranked', 'fused'] as const) {
      registry.recordEvaluation(
        'retrieval',
        `${collection}/${system}`,
        { ...e[system], queries: e.queries, depth: e.depth },
        e.perQuery.map((q) => ({
          id: q.id,
          task: 'query',
          prompt: q.text,
          score: q.metrics[system]['ndcg@10'],
          metrics: q.metrics[system],
        })),
      );
    }
  }
  if (r.pairs) {
    registry.recordEvaluation(
      'pmrr',
      'default/reranked',
      { pmrr: r.pairs.pmrr, pairs: r.pairs.pairs, original: r.pairs.original, altered: r.pairs.altered },
      r.pairs.perPair.map((p) => ({
        id: p.id,
        task: 'instruction_pair',
        prompt: `${p.query}\noriginal: ${p.original}\naltered: ${p.altered}`,
        score: p.pmrr,
      })),
    );
  }
}
