import { Rng, type BeirDocument } from '@tunekit/data';
import { analyze, type Bm25Index } from './bm25';
import type { RankingGroup } from './train';

/** A query to train on, with its judgments. */
export interface TrainingQuery {
  id: string;
  text: string;
  instruction?: string;
  /** Document id → grade; grade ≥ 1 is relevant and never used as a negative. */
  relevant: Map<string, number>;
  /** Documents to take as negatives first (relevant under another instruction, not this one). */
  preferNegatives?: string[];
  /** What the positive shows instead of its corpus text (an inverse-cloze query's document without the sentence). */
  positiveText?: string;
}

export interface MiningOptions {
  /** Negatives per group. */
  negatives: number;
  /** BM25 ranks to sample hard negatives from, 1-based and inclusive (default 3‥50). */
  ranks?: [number, number];
  /** Candidates whose word set overlaps the positive's this much (Jaccard) count as duplicates of it (default 0.9). */
  nearDuplicate?: number;
  /**
   * Graded judgments order the relevant documents too: a judged document of a lower grade than the
   * positive may be one of its negatives, and is taken first (default false: every judged-relevant
   * document is kept out of the negatives).
   */
  gradedNegatives?: boolean;
  seed: number;
}

export interface GroupReport {
  queries: number;
  groups: number;
  /** Queries without a relevant document in the corpus (left out, listed). */
  withoutPositive: string[];
  /** Negatives drawn at random because the rank range held too few. */
  randomNegatives: number;
  /** Candidates skipped as near-duplicates of the positive. */
  nearDuplicates: number;
}

/** The text the model reads for a document: its title, if any, then its text. */
export function documentText(d: BeirDocument): string {
  return d.title ? `${d.title}\n${d.text}` : d.text;
}

/**
 * One group per query: a relevant document (drawn with probability proportional to its grade, so
 * that lower-grade relevant documents are not only ever seen as absent) and hard negatives: first
 * (with `gradedNegatives`) judged documents of a lower grade and the query's preferred negatives,
 * then BM25 results sampled from the rank range, never a document judged as relevant as the
 * positive or a near-duplicate of it, topped up at random when the range runs short.
 */
export function buildGroups(
  queries: readonly TrainingQuery[],
  corpus: Map<string, BeirDocument>,
  index: Bm25Index,
  o: MiningOptions,
): { groups: RankingGroup[]; report: GroupReport } {
  const [from, to] = o.ranks ?? [3, 50];
  const threshold = o.nearDuplicate ?? 0.9;
  const rng = new Rng(o.seed).fork('negatives');
  const ids = [...corpus.keys()];
  const report: GroupReport = {
    queries: queries.length,
    groups: 0,
    withoutPositive: [],
    randomNegatives: 0,
    nearDuplicates: 0,
  };
  const groups: RankingGroup[] = [];
  for (const q of queries) {
    const relevant = [...q.relevant].filter(([d, g]) => g >= 1 && corpus.has(d));
    if (relevant.length === 0) {
      report.withoutPositive.push(q.id);
      continue;
    }
    let draw = rng.next() * relevant.reduce((n, [, g]) => n + g, 0);
    const positiveId = (relevant.find(([, g]) => (draw -= g) < 0) ?? relevant.at(-1)!)[0];
    const positive = corpus.get(positiveId)!;
    const positiveGrade = q.relevant.get(positiveId)!;
    const excluded = (d: string) => (q.relevant.get(d) ?? 0) >= (o.gradedNegatives ? positiveGrade : 1);
    const words = new Set(analyze(documentText(positive), { stem: false, stopWords: false }));
    const usable = (d: string) => {
      if (excluded(d) || d === positiveId) return false;
      if (
        jaccard(words, new Set(analyze(documentText(corpus.get(d)!), { stem: false, stopWords: false }))) >= threshold
      ) {
        report.nearDuplicates++;
        return false;
      }
      return true;
    };
    const lowerGrades = o.gradedNegatives
      ? relevant.map(([d]) => d).filter((d) => d !== positiveId && !excluded(d))
      : [];
    const chosen: string[] = rng
      .shuffle([...new Set([...lowerGrades, ...(q.preferNegatives ?? [])])].filter((d) => corpus.has(d) && usable(d)))
      .slice(0, o.negatives);
    const ranked = [...index.search(q.text, to).keys()].slice(from - 1).filter((d) => !chosen.includes(d) && usable(d));
    chosen.push(...rng.shuffle(ranked).slice(0, o.negatives - chosen.length));
    for (let tries = 0; chosen.length < o.negatives && tries < 50 * o.negatives; tries++) {
      const d = rng.pick(ids);
      if (!chosen.includes(d) && usable(d)) {
        chosen.push(d);
        report.randomNegatives++;
      }
    }
    if (chosen.length < o.negatives) continue;
    groups.push({
      instruction: q.instruction,
      query: q.text,
      positive: q.positiveText ?? documentText(positive),
      negatives: chosen.map((d) => documentText(corpus.get(d)!)),
    });
  }
  report.groups = groups.length;
  return { groups, report };
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const x of a) if (b.has(x)) shared++;
  return shared / Math.max(1, a.size + b.size - shared);
}
