import { mkdir } from 'node:fs/promises';
import { writeTrecRun, type BeirCollection, type InstructionPair, type Qrels, type Run } from '@tunekit/data';
import {
  evaluatePairs,
  evaluateRun,
  firstStage,
  fuseRuns,
  rerankRun,
  type Bm25Index,
  type EvalQuery,
  type Evaluation,
  type Reranker,
} from '@tunekit/rerank';
import { log, progress } from '../progress';
import type { RunContext } from '../run-context';

const SYSTEMS = ['bm25', 'reranked', 'fused'] as const;
type System = (typeof SYSTEMS)[number];

export interface RetrievalResult {
  collection: string;
  queries: number;
  depth: number;
  /** Mean metrics per system (trec_eval definitions): ndcg@10, mrr@10, map, recall@100, p@10. */
  bm25: Record<string, number>;
  reranked: Record<string, number>;
  /** Reranker and BM25 scores mixed (min–max normalised, fusionWeight on the reranker). */
  fused: Record<string, number>;
  fusionWeight: number;
  perQuery: { id: string; text: string; metrics: Record<System, Record<string, number>> }[];
  /**
   * Mean metrics per kind of query (the queries' `metadata.kind`, as the default collection's fact, value and
   * bridge questions carry), when every judged query has one.
   */
  byKind?: Record<string, { queries: number } & Record<System, Record<string, number>>>;
  /** Queries too long for the model's context: ranked by BM25 in every system. */
  fallback: string[];
  runs: Record<System, string>;
  seconds: number;
  pairsPerSecond: number;
}

export interface PairsResult {
  pairs: number;
  /** p-MRR × 100 of the reranker; BM25 cannot see instructions, so its p-MRR is 0 by construction. */
  pmrr: number;
  original: Record<string, number>;
  altered: Record<string, number>;
  perPair: { id: string; query: string; original: string; altered: string; pmrr: number }[];
}

const METRICS = { ndcgCutoffs: [10], precisionCutoffs: [10], recallCutoffs: [100] };

/** BM25 top-`depth`, reranked, and fused; TREC run files for each under rerank/<collection>/. */
export async function evaluateCollection(
  ctx: RunContext,
  reranker: Reranker,
  collection: BeirCollection,
  index: Bm25Index,
  name: string,
): Promise<RetrievalResult> {
  const depth = ctx.config.rerank.depth;
  const queries: EvalQuery[] = [...collection.queries.values()].map((q) => ({
    id: q.id,
    text: q.text,
    instruction: q.instruction,
  }));
  const started = performance.now();
  const bm25 = firstStage(index, queries, depth);
  const bar = progress(`rerank eval ${name}`, queries.length);
  const fallback: string[] = [];
  const reranked = rerankRun(reranker, collection.corpus, queries, bm25, {
    onQuery: (done, pairs) =>
      bar.update(done, { pairs, 'pairs/s': Math.round(pairs / ((performance.now() - started) / 1000)) }),
    onFallback: (id) => fallback.push(id),
  });
  const scored = [...bm25.values()].reduce((n, docs) => n + docs.size, 0);
  const seconds = (performance.now() - started) / 1000;
  const fused = fuseRuns(bm25, reranked, ctx.config.rerank.fusionWeight);
  const runs = { bm25, reranked, fused } satisfies Record<System, Run>;
  // judged queries that were asked: a judged query with no BM25 result still counts, as 0
  const qrels = new Map(
    queries.filter((q) => collection.qrels.has(q.id)).map((q) => [q.id, collection.qrels.get(q.id)!]),
  );
  const evaluations = Object.fromEntries(SYSTEMS.map((s) => [s, evaluateRun(qrels, runs[s], METRICS)])) as Record<
    System,
    Evaluation
  >;
  const dir = ctx.path('rerank', name);
  await mkdir(dir, { recursive: true });
  const files = {} as Record<System, string>;
  for (const s of SYSTEMS) {
    files[s] = `rerank/${name}/${s}.trec`;
    await writeTrecRun(ctx.path(files[s]), runs[s], `tunekit-${s}`);
  }
  if (fallback.length)
    log(
      `rerank eval ${name}: ${fallback.length} of ${queries.length} queries do not fit ` +
        `the model's ${reranker.config.maxLength}-token context with the template (the query is never cut); ` +
        `they keep BM25's order in every system: ` +
        `${fallback.slice(0, 10).join(', ')}${fallback.length > 10 ? ', …' : ''}`,
    );
  const ndcg10 = (s: System) => evaluations[s].mean['ndcg@10'].toFixed(3);
  bar.finish(
    `${scored} pairs in ${seconds.toFixed(1)}s; ` +
      `nDCG@10 BM25 ${ndcg10('bm25')} → reranked ${ndcg10('reranked')} (fused ${ndcg10('fused')})`,
  );
  return {
    collection: name,
    queries: queries.length,
    depth,
    bm25: evaluations.bm25.mean,
    reranked: evaluations.reranked.mean,
    fused: evaluations.fused.mean,
    fusionWeight: ctx.config.rerank.fusionWeight,
    perQuery: queries
      .filter((q) => evaluations.bm25.perQuery.has(q.id))
      .map((q) => ({
        id: q.id,
        text: q.text,
        metrics: Object.fromEntries(SYSTEMS.map((s) => [s, evaluations[s].perQuery.get(q.id)!])) as Record<
          System,
          Record<string, number>
        >,
      })),
    byKind: meansByKind(qrels, runs, collection),
    runs: files,
    seconds,
    pairsPerSecond: scored / seconds,
    fallback,
  };
}

/**
 * Each system's means over the judged queries of each `metadata.kind`, by the same definitions as the overall
 * means; undefined unless every query has a kind.
 */
function meansByKind(qrels: Qrels, runs: Record<System, Run>, collection: BeirCollection): RetrievalResult['byKind'] {
  const kinds = new Map<string, Qrels>();
  for (const [id, judged] of qrels) {
    const kind = collection.queries.get(id)?.metadata?.kind;
    if (typeof kind !== 'string') return undefined;
    if (!kinds.has(kind)) kinds.set(kind, new Map());
    kinds.get(kind)!.set(id, judged);
  }
  if (kinds.size === 0) return undefined;
  return Object.fromEntries(
    [...kinds]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, q]) => [
        kind,
        {
          queries: q.size,
          ...(Object.fromEntries(SYSTEMS.map((s) => [s, evaluateRun(q, runs[s], METRICS).mean])) as Record<
            System,
            Record<string, number>
          >),
        },
      ]),
  );
}

/** p-MRR on instruction pairs, with each instruction's own nDCG@10 / MAP. */
export async function evaluateInstructionPairs(
  ctx: RunContext,
  reranker: Reranker,
  corpus: BeirCollection['corpus'],
  index: Bm25Index,
  pairs: readonly InstructionPair[],
): Promise<PairsResult> {
  const bar = progress('rerank eval instruction pairs', 2 * pairs.length);
  let done = 0;
  const rank = (queries: EvalQuery[], candidates: Run) =>
    rerankRun(reranker, corpus, queries, candidates, { onQuery: () => bar.update(++done) });
  const e = evaluatePairs(rank, index, pairs, ctx.config.rerank.depth);
  bar.finish(`p-MRR ${e.pmrr.toFixed(1)} over ${e.perPair.size} pairs`);
  log(
    `rerank instruction pairs: p-MRR ${e.pmrr.toFixed(1)}; ` +
      `nDCG@10 under the original instructions ${e.originalMetrics.mean['ndcg@10'].toFixed(3)}, ` +
      `under the altered ones ${e.alteredMetrics.mean['ndcg@10'].toFixed(3)}`,
  );
  return {
    pairs: pairs.length,
    pmrr: e.pmrr,
    original: e.originalMetrics.mean,
    altered: e.alteredMetrics.mean,
    perPair: pairs
      .filter((p) => e.perPair.has(p.id))
      .map((p) => ({
        id: p.id,
        query: p.query,
        original: p.original.instruction,
        altered: p.altered.instruction,
        pmrr: 100 * e.perPair.get(p.id)!,
      })),
  };
}
