import { stemmer } from 'stemmer';
import type { BeirDocument } from '@tunekit/data';

/** Lucene's English stop words (EnglishAnalyzer's default set). */
const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'but',
  'by',
  'for',
  'if',
  'in',
  'into',
  'is',
  'it',
  'no',
  'not',
  'of',
  'on',
  'or',
  'such',
  'that',
  'the',
  'their',
  'then',
  'there',
  'these',
  'they',
  'this',
  'to',
  'was',
  'will',
  'with',
]);

export interface Bm25Options {
  /** Term-frequency saturation (Anserini / Pyserini default 0.9). */
  k1?: number;
  /** Length normalisation (Anserini / Pyserini default 0.4). */
  b?: number;
  /** Porter stemming, as Lucene's EnglishAnalyzer does (default true). */
  stem?: boolean;
  /** Drop Lucene's English stop words (default true). */
  stopWords?: boolean;
}

/** Lower-cased letter/digit runs, possessive 's removed, optionally without stop words and stemmed. */
export function analyze(text: string, o: Pick<Bm25Options, 'stem' | 'stopWords'> = {}): string[] {
  const terms = text
    .toLowerCase()
    .replace(/['’]s\b/g, '')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  const kept = o.stopWords === false ? terms : terms.filter((t) => !STOP_WORDS.has(t));
  return o.stem === false ? kept : kept.map((t) => stemmer(t));
}

/**
 * Okapi BM25 over a fixed corpus with Lucene's formula: idf = ln(1 + (N − df + 0.5) / (df + 0.5)),
 * term weight idf · tf·(k1 + 1) / (tf + k1·(1 − b + b·|d| / avgdl)); a term repeated in the query
 * counts once per occurrence. A document is its title and text.
 */
export class Bm25Index {
  readonly ids: string[];
  readonly options: Required<Bm25Options>;
  private readonly postings = new Map<string, { docs: Int32Array; tfs: Int32Array }>();
  private readonly lengths: Int32Array;
  private readonly avgLength: number;

  constructor(documents: Iterable<BeirDocument>, options: Bm25Options = {}) {
    this.options = {
      k1: options.k1 ?? 0.9,
      b: options.b ?? 0.4,
      stem: options.stem ?? true,
      stopWords: options.stopWords ?? true,
    };
    this.ids = [];
    const lengths: number[] = [];
    const building = new Map<string, { docs: number[]; tfs: number[] }>();
    for (const d of documents) {
      const index = this.ids.length;
      this.ids.push(d.id);
      const terms = analyze(d.title ? `${d.title} ${d.text}` : d.text, this.options);
      lengths.push(terms.length);
      const tf = new Map<string, number>();
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [t, n] of tf) {
        let p = building.get(t);
        if (!p) building.set(t, (p = { docs: [], tfs: [] }));
        p.docs.push(index);
        p.tfs.push(n);
      }
    }
    for (const [t, p] of building) this.postings.set(t, { docs: Int32Array.from(p.docs), tfs: Int32Array.from(p.tfs) });
    this.lengths = Int32Array.from(lengths);
    this.avgLength = lengths.reduce((a, b) => a + b, 0) / Math.max(1, lengths.length);
  }

  get size(): number {
    return this.ids.length;
  }

  idf(term: string): number {
    const df = this.postings.get(term)?.docs.length ?? 0;
    return Math.log(1 + (this.size - df + 0.5) / (df + 0.5));
  }

  /** The BM25 score of every document for `query` (0 where no term matches). */
  scoreAll(query: string): Float64Array {
    const { k1, b } = this.options;
    const scores = new Float64Array(this.size);
    for (const term of analyze(query, this.options)) {
      const p = this.postings.get(term);
      if (!p) continue;
      const idf = this.idf(term);
      for (let i = 0; i < p.docs.length; i++) {
        const d = p.docs[i],
          tf = p.tfs[i];
        scores[d] += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * this.lengths[d]) / this.avgLength));
      }
    }
    return scores;
  }

  /**
   * The `k` best documents with a positive score, by score and then document id descending (the
   * order trec_eval ranks ties in), as document id → score.
   */
  search(query: string, k: number): Map<string, number> {
    const scores = this.scoreAll(query);
    const hits: number[] = [];
    for (let d = 0; d < scores.length; d++) if (scores[d] > 0) hits.push(d);
    hits.sort((x, y) => scores[y] - scores[x] || (this.ids[x] < this.ids[y] ? 1 : this.ids[x] > this.ids[y] ? -1 : 0));
    return new Map(hits.slice(0, k).map((d) => [this.ids[d], scores[d]]));
  }
}
