import { describe, expect, it } from 'vitest';
import { Bm25Index } from './bm25';
import { buildGroups, type TrainingQuery } from './groups';

const texts: Record<string, string> = {
  'PE-currency': 'The currency of Peru is PEN.',
  'PE-profile': 'Peru is in South America. The currency of Peru is PEN. Most people in Peru speak Spanish.',
  'PE-capital': 'The capital of Peru is Lima.',
  'CL-currency': 'The currency of Chile is CLP.',
  'BO-currency': 'The currency of Bolivia is BOB.',
  'EC-currency': 'The currency of Ecuador is USD.',
  'AR-currency': 'The currency of Argentina is ARS.',
  'AR-currency-copy': 'The currency of Argentina is: ARS.',
};
const corpus = new Map(Object.entries(texts).map(([id, text]) => [id, { id, title: '', text }]));
const index = new Bm25Index(corpus.values());
const query = (o: Partial<TrainingQuery> = {}): TrainingQuery => ({
  id: 'q',
  text: 'currency of Peru',
  relevant: new Map([
    ['PE-currency', 2],
    ['PE-profile', 1],
  ]),
  ...o,
});

describe('training groups', () => {
  it('never takes a judged-relevant document as a negative by default, skips near-duplicates of the positive', () => {
    const queries = Array.from({ length: 40 }, (_, i) =>
      query({
        id: `q${i}`,
        relevant: new Map([
          ['PE-currency', 2],
          ['PE-profile', 1],
          ['AR-currency', 1],
        ]),
      }),
    );
    const { groups, report } = buildGroups(queries, corpus, index, { negatives: 3, ranks: [1, 8], seed: 1 });
    expect(groups).toHaveLength(40);
    for (const g of groups) {
      for (const n of g.negatives)
        expect([texts['PE-currency'], texts['PE-profile'], texts['AR-currency']]).not.toContain(n);
      expect(new Set(g.negatives).size).toBe(3);
    }
    // the positive is drawn in proportion to its grade: the grade-2 passage about half the time
    const passage = groups.filter((g) => g.positive === texts['PE-currency']).length;
    expect(passage).toBeGreaterThan(10);
    expect(passage).toBeLessThan(30);
    expect(report.nearDuplicates).toBeGreaterThan(0); // AR-currency-copy next to an AR-currency positive
  });

  it('with graded negatives, takes a lower-grade judged document first, and never a higher one', () => {
    const queries = Array.from({ length: 40 }, (_, i) => query({ id: `q${i}` }));
    const { groups } = buildGroups(queries, corpus, index, {
      negatives: 2,
      ranks: [1, 8],
      gradedNegatives: true,
      seed: 2,
    });
    for (const g of groups) {
      if (g.positive === texts['PE-currency']) expect(g.negatives).toContain(texts['PE-profile']);
      else expect(g.negatives).not.toContain(texts['PE-currency']);
    }
  });

  it('takes preferred negatives first, and lists queries without a relevant document', () => {
    const { groups, report } = buildGroups(
      [query({ preferNegatives: ['PE-capital'] }), query({ id: 'lost', relevant: new Map([['XX-nope', 1]]) })],
      corpus,
      index,
      { negatives: 2, seed: 3 },
    );
    expect(groups).toHaveLength(1);
    expect(groups[0].negatives).toContain(texts['PE-capital']);
    expect(report.withoutPositive).toEqual(['lost']);
  });
});
