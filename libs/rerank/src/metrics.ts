import type { Qrels, Run } from '@tunekit/data';

/** Per-query metric values, and their means over the evaluated queries. */
export interface Evaluation {
  mean: Record<string, number>;
  perQuery: Map<string, Record<string, number>>;
  /** Queries with judgments that the run did not rank at all (scored 0 under `missing: 'zero'`). */
  missingQueries: string[];
}

export interface EvaluateOptions {
  /** Cutoffs for ndcg@k, p@k, recall@k; mrr is reported at 10. */
  ndcgCutoffs?: number[];
  precisionCutoffs?: number[];
  recallCutoffs?: number[];
  /** Judged queries absent from the run: `zero` (like `trec_eval -c`, default) or `skip`. */
  missing?: 'zero' | 'skip';
}

/**
 * A query's documents in trec_eval's order: score descending, ties by document id descending
 * (trec_eval ignores the rank column and breaks ties on docno).
 */
export function rankDocuments(scores: Map<string, number>): string[] {
  return [...scores].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0)).map(([id]) => id);
}

/**
 * trec_eval's definitions: a document is relevant when its grade is ≥ 1; nDCG uses linear gain
 * (the grade) with log2(rank + 1) discount and the ideal ranking of all judged grades; MRR@10 is the
 * reciprocal rank of the first relevant document within 10; MAP averages precision at each
 * relevant document over all relevant documents in the qrels; P@k divides by k. Queries whose
 * judgments hold no relevant document score 0 and count in the mean, as in trec_eval.
 */
export function evaluateRun(qrels: Qrels, run: Run, options: EvaluateOptions = {}): Evaluation {
  const ndcgK = options.ndcgCutoffs ?? [10];
  const pK = options.precisionCutoffs ?? [10];
  const rK = options.recallCutoffs ?? [100];
  const perQuery = new Map<string, Record<string, number>>();
  const missingQueries: string[] = [];
  for (const [qid, judged] of qrels) {
    const scores = run.get(qid);
    if (!scores) {
      missingQueries.push(qid);
      if (options.missing === 'skip') continue;
    }
    const ranked = scores ? rankDocuments(scores) : [];
    const grade = (doc: string) => judged.get(doc) ?? 0;
    const numRel = [...judged.values()].filter((g) => g >= 1).length;
    const m: Record<string, number> = {};

    for (const k of ndcgK) {
      const dcg = ranked.slice(0, k).reduce((sum, doc, i) => sum + Math.max(0, grade(doc)) / Math.log2(i + 2), 0);
      const ideal = [...judged.values()]
        .filter((g) => g > 0)
        .sort((a, b) => b - a)
        .slice(0, k)
        .reduce((sum, g, i) => sum + g / Math.log2(i + 2), 0);
      m[`ndcg@${k}`] = ideal > 0 ? dcg / ideal : 0;
    }
    const first = ranked.slice(0, 10).findIndex((doc) => grade(doc) >= 1);
    m['mrr@10'] = first >= 0 ? 1 / (first + 1) : 0;
    let hits = 0;
    let sumPrecision = 0;
    ranked.forEach((doc, i) => {
      if (grade(doc) >= 1) {
        hits++;
        sumPrecision += hits / (i + 1);
      }
    });
    m.map = numRel > 0 ? sumPrecision / numRel : 0;
    for (const k of pK) m[`p@${k}`] = ranked.slice(0, k).filter((doc) => grade(doc) >= 1).length / k;
    for (const k of rK)
      m[`recall@${k}`] = numRel > 0 ? ranked.slice(0, k).filter((doc) => grade(doc) >= 1).length / numRel : 0;
    perQuery.set(qid, m);
  }
  const mean: Record<string, number> = {};
  for (const values of perQuery.values())
    for (const [k, v] of Object.entries(values)) mean[k] = (mean[k] ?? 0) + v / perQuery.size;
  return { mean, perQuery, missingQueries };
}
