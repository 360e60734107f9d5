import type { BeirDocument, InstructionPair, Qrels, Run } from '@tunekit/data';
import type { Bm25Index } from './bm25';
import { documentText } from './groups';
import { evaluateRun, type Evaluation } from './metrics';
import { pMrr, type PMrrResult } from './pmrr';
import { InputError } from './format';
import type { Reranker, ScoreOptions } from './reranker';

export interface EvalQuery {
  id: string;
  text: string;
  instruction?: string;
}

/** The first stage: BM25's top `depth` documents per query. */
export function firstStage(index: Bm25Index, queries: readonly EvalQuery[], depth: number): Run {
  return new Map(queries.map((q) => [q.id, index.search(q.text, depth)]));
}

/**
 * Scores every (query, candidate) of a first-stage run with the reranker. A query whose instruction
 * and query alone do not fit the model's context keeps the first stage's order, and is reported
 * through `onFallback`.
 */
export function rerankRun(
  reranker: Reranker,
  corpus: Map<string, BeirDocument>,
  queries: readonly EvalQuery[],
  candidates: Run,
  o: ScoreOptions & {
    onQuery?: (done: number, pairs: number) => void;
    onFallback?: (query: string, reason: string) => void;
  } = {},
): Run {
  const run: Run = new Map();
  let pairs = 0;
  queries.forEach((q, i) => {
    const first = candidates.get(q.id) ?? new Map<string, number>();
    const docs = [...first.keys()];
    let scores: Float32Array;
    try {
      scores = reranker.score(
        docs.map((d) => ({ instruction: q.instruction, query: q.text, document: documentText(corpus.get(d)!) })),
        o,
      );
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      o.onFallback?.(q.id, err.message);
      run.set(q.id, new Map(first));
      return;
    }
    run.set(q.id, new Map(docs.map((d, k) => [d, scores[k]])));
    pairs += docs.length;
    o.onQuery?.(i + 1, pairs);
  });
  return run;
}

/**
 * Score fusion with the first stage (an option, reported apart from the reranker alone): per query,
 * both scores are min–max normalised over the candidates and mixed as w·reranker + (1 − w)·BM25.
 */
export function fuseRuns(first: Run, reranked: Run, weight: number): Run {
  const normalise = (scores: Map<string, number>) => {
    const values = [...scores.values()];
    const lo = Math.min(...values),
      hi = Math.max(...values);
    return (d: string) => (hi > lo ? ((scores.get(d) ?? lo) - lo) / (hi - lo) : 0);
  };
  const out: Run = new Map();
  for (const [qid, scores] of reranked) {
    const a = normalise(scores),
      b = normalise(first.get(qid) ?? new Map());
    out.set(qid, new Map([...scores.keys()].map((d) => [d, weight * a(d) + (1 - weight) * b(d)])));
  }
  return out;
}

export interface PairEvaluation extends PMrrResult {
  original: Run;
  altered: Run;
  /** nDCG@10 etc. of each instruction against its own judgments. */
  originalMetrics: Evaluation;
  alteredMetrics: Evaluation;
}

/**
 * FollowIR-style evaluation: each pair's query is retrieved once by BM25 (which cannot see the
 * instruction), the candidates are reranked under the original and under the altered instruction,
 * and p-MRR compares the ranks of the documents the alteration made irrelevant.
 */
export function evaluatePairs(
  rank: (queries: EvalQuery[], candidates: Run) => Run,
  index: Bm25Index,
  pairs: readonly InstructionPair[],
  depth: number,
): PairEvaluation {
  const queries = pairs.map((p) => ({ id: p.id, text: p.query }));
  const candidates = firstStage(index, queries, depth);
  const original = rank(
    pairs.map((p) => ({ id: p.id, text: p.query, instruction: p.original.instruction })),
    candidates,
  );
  const altered = rank(
    pairs.map((p) => ({ id: p.id, text: p.query, instruction: p.altered.instruction })),
    candidates,
  );
  const changed = pairs.map((p) => ({
    id: p.id,
    changed: [...p.original.qrels.keys()].filter(
      (d) => (p.original.qrels.get(d) ?? 0) >= 1 && !((p.altered.qrels.get(d) ?? 0) >= 1),
    ),
  }));
  const qrelsOf = (which: 'original' | 'altered'): Qrels => new Map(pairs.map((p) => [p.id, p[which].qrels]));
  return {
    ...pMrr(original, altered, changed),
    original,
    altered,
    originalMetrics: evaluateRun(qrelsOf('original'), original),
    alteredMetrics: evaluateRun(qrelsOf('altered'), altered),
  };
}
