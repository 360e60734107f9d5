import type { Run } from '@tunekit/data';
import { rankDocuments } from './metrics';

/** A query ranked under its original and its altered instruction, and the documents the change made irrelevant. */
export interface PairRanking {
  id: string;
  /** Relevant under the original instruction, not relevant under the altered one. */
  changed: string[];
}

export interface PMrrResult {
  /** Mean over pairs of the per-pair mean rank score, × 100: 0 = the instruction was ignored, > 0 = followed. */
  pmrr: number;
  perPair: Map<string, number>;
}

/**
 * FollowIR's p-MRR (Weller et al., 2024, as MTEB computes it). For each changed document with rank
 * r_og under the original instruction and r_new under the altered one (rank = position in the
 * pair's ranking, ties in trec_eval's order; an unranked document counts as one past the end):
 * r_new/r_og − 1 when it moved up or stayed (≤ 0), 1 − r_og/r_new when it moved down (> 0).
 * Averaged per pair, then over pairs, times 100. Pairs without changed documents are skipped.
 */
export function pMrr(original: Run, altered: Run, pairs: readonly PairRanking[]): PMrrResult {
  const perPair = new Map<string, number>();
  for (const p of pairs) {
    if (p.changed.length === 0) continue;
    const rankIn = (run: Run) => {
      const ranked = rankDocuments(run.get(p.id) ?? new Map());
      const at = new Map(ranked.map((d, i) => [d, i + 1]));
      return (doc: string) => at.get(doc) ?? ranked.length + 1;
    };
    const og = rankIn(original),
      changed = rankIn(altered);
    const scores = p.changed.map((doc) => {
      const before = og(doc),
        after = changed(doc);
      return before >= after ? after / before - 1 : 1 - before / after;
    });
    perPair.set(p.id, scores.reduce((a, b) => a + b, 0) / scores.length);
  }
  const values = [...perPair.values()];
  return { pmrr: values.length ? (100 * values.reduce((a, b) => a + b, 0)) / values.length : 0, perPair };
}
