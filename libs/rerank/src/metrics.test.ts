import { describe, expect, it } from 'vitest';
import { evaluateRun, rankDocuments } from './metrics';

const q = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('retrieval metrics (trec_eval definitions, hand-computed)', () => {
  it('breaks score ties by document id, descending, as trec_eval does', () => {
    expect(rankDocuments(q({ a: 1, c: 1, b: 2, d: 0.5 }))).toEqual(['b', 'c', 'a', 'd']);
  });

  it('binary qrels', () => {
    // ranking: d1 (rel), d2, d3 (rel), d4; qrels has 3 relevant: d1, d3, d9 (d9 never retrieved)
    const qrels = new Map([['q', q({ d1: 1, d3: 1, d9: 1, d2: 0 })]]);
    const run = new Map([['q', q({ d1: 4, d2: 3, d3: 2, d4: 1 })]]);
    const m = evaluateRun(qrels, run, {
      ndcgCutoffs: [3, 10],
      precisionCutoffs: [2, 10],
      recallCutoffs: [2, 100],
    }).perQuery.get('q')!;
    const idcg3 = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(m['ndcg@3']).toBeCloseTo((1 + 1 / Math.log2(4)) / idcg3, 12);
    expect(m['ndcg@10']).toBeCloseTo((1 + 1 / Math.log2(4)) / idcg3, 12);
    expect(m['mrr@10']).toBe(1);
    expect(m.map).toBeCloseTo((1 / 1 + 2 / 3) / 3, 12);
    expect(m['p@2']).toBe(0.5);
    expect(m['p@10']).toBe(0.2); // divides by 10 even though only 4 were retrieved
    expect(m['recall@2']).toBeCloseTo(1 / 3, 12);
    expect(m['recall@100']).toBeCloseTo(2 / 3, 12);
  });

  it('graded qrels use linear gain and the ideal ordering of all judged grades', () => {
    // grades: a=3, b=2, c=1; ranking c, b, a; ideal a, b, c
    const qrels = new Map([['q', q({ a: 3, b: 2, c: 1 })]]);
    const run = new Map([['q', q({ c: 3, b: 2, a: 1 })]]);
    const m = evaluateRun(qrels, run).perQuery.get('q')!;
    const dcg = 1 + 2 / Math.log2(3) + 3 / 2;
    const ideal = 3 + 2 / Math.log2(3) + 1 / 2;
    expect(m['ndcg@10']).toBeCloseTo(dcg / ideal, 12);
    expect(m.map).toBe(1); // every retrieved document is relevant (grade ≥ 1)
  });

  it('ties change the result exactly as the tie rule says', () => {
    const qrels = new Map([['q', q({ a: 1 })]]);
    const run = new Map([['q', q({ a: 1, b: 1 })]]); // tie: b ranks before a
    expect(evaluateRun(qrels, run).perQuery.get('q')!['mrr@10']).toBe(0.5);
  });

  it('first relevant document after rank 10 gives MRR@10 = 0', () => {
    const scores = Object.fromEntries(
      Array.from({ length: 11 }, (_, i) => [`d${String(i).padStart(2, '0')}`, 100 - i]),
    );
    const qrels = new Map([['q', q({ d10: 1 })]]);
    const m = evaluateRun(qrels, new Map([['q', q(scores)]])).perQuery.get('q')!;
    expect(m['mrr@10']).toBe(0);
    expect(m.map).toBeCloseTo(1 / 11, 12);
  });

  it('a query without relevant documents scores 0, counted in the mean; a missing query scores 0 or is skipped', () => {
    const qrels = new Map([
      ['hit', q({ a: 1 })],
      ['none', q({ b: 0 })],
      ['missing', q({ c: 1 })],
    ]);
    const run = new Map([
      ['hit', q({ a: 1 })],
      ['none', q({ b: 1 })],
      ['unjudged', q({ x: 1 })],
    ]);
    const zero = evaluateRun(qrels, run);
    expect(zero.perQuery.get('none')).toMatchObject({ 'ndcg@10': 0, 'mrr@10': 0, map: 0, 'recall@100': 0 });
    expect(zero.missingQueries).toEqual(['missing']);
    expect(zero.mean['ndcg@10']).toBeCloseTo(1 / 3, 12);
    expect(zero.perQuery.has('unjudged')).toBe(false);
    const skip = evaluateRun(qrels, run, { missing: 'skip' });
    expect(skip.mean['ndcg@10']).toBeCloseTo(1 / 2, 12);
  });
});
