import type { BeirDocument, BeirQuery, InstructionPair } from '@tunekit/data';
import { Llama } from '@tunekit/model';
import { describe, expect, it } from 'vitest';
import { Bm25Index } from './bm25';
import { Reranker } from './reranker';
import { tinyConfig, tinyTokenizer } from './testing/tiny';
import { factTrainingQueries, mineTrainingGroups, type DocumentFacet } from './training-queries';

/** Facts about three countries; BO is a held-out entity whose documents are outside the training corpus. */
const facets: Record<string, DocumentFacet> = {
  'PE-currency': { entity: 'PE', facet: 'currency' },
  'PE-capital': { entity: 'PE', facet: 'capital' },
  'PE-profile-1': { entity: 'PE', facet: 'profile' },
  'CL-currency': { entity: 'CL', facet: 'currency' },
  'CL-capital': { entity: 'CL', facet: 'capital' },
  'BO-currency': { entity: 'BO', facet: 'currency' },
};
const document = (id: string): BeirDocument => ({ id, title: '', text: `${facets[id].entity} ${facets[id].facet}` });
const training = new Map(
  Object.keys(facets)
    .filter((id) => !id.startsWith('BO'))
    .map((id) => [id, document(id)]),
);
const query = (id: string, text: string, kind: string): BeirQuery => ({ id, text, metadata: { kind } });
const pair = (id: string, original: string[], altered: string[]): InstructionPair => ({
  id,
  query: 'money',
  original: { instruction: 'any country', qrels: new Map(original.map((d) => [d, 1])) },
  altered: { instruction: 'only Peru', qrels: new Map(altered.map((d) => [d, 1])) },
});
const split = {
  queries: new Map([
    ['q-fact', query('q-fact', 'currency of Peru', 'fact')],
    ['q-value', query('q-value', 'which use the sol', 'value')],
  ]),
  qrels: new Map([
    [
      'q-fact',
      new Map([
        ['PE-currency', 2],
        ['PE-profile-1', 1],
      ]),
    ],
    [
      'q-value',
      new Map([
        ['PE-currency', 2],
        ['BO-currency', 2],
      ]),
    ],
  ]),
  pairs: [pair('p1', ['PE-currency', 'CL-currency', 'BO-currency'], ['PE-currency']), pair('p2', ['BO-currency'], [])],
};
const options = { facetOf: (id: string) => facets[id], repeatKinds: { value: 3 }, seed: 1 };

describe('training queries for a collection of facts about entities', () => {
  it('contrasts a fact question with the same fact of another entity and another fact of the same entity', () => {
    const queries = factTrainingQueries(split, training, options);
    const fact = queries.find((q) => q.id === 'q-fact')!;
    expect(fact.relevant).toEqual(split.qrels.get('q-fact'));
    expect(fact.preferNegatives).toEqual(['CL-currency', 'PE-capital']);
  });

  it('asks a repeated kind several times, without contrast, judged on the training corpus only', () => {
    const values = factTrainingQueries(split, training, options).filter((q) => q.text === 'which use the sol');
    expect(values.map((q) => q.id)).toEqual(['q-value:0', 'q-value:1', 'q-value:2']);
    for (const q of values) {
      expect([...q.relevant.keys()]).toEqual(['PE-currency']);
      expect(q.preferNegatives).toBeUndefined();
    }
  });

  it('asks each pair twice under each instruction, the excluded documents first in line as negatives', () => {
    const pairs = factTrainingQueries(split, training, options).filter((q) => q.id.startsWith('p'));
    // p2's altered judgments are all outside the training corpus: it is left out
    expect(pairs.map((q) => q.id)).toEqual(['p1:og0', 'p1:alt0', 'p1:og1', 'p1:alt1']);
    expect(pairs[0].instruction).toBe('any country');
    expect(pairs[0].preferNegatives).toBeUndefined();
    expect([...pairs[0].relevant.keys()]).toEqual(['PE-currency', 'CL-currency']);
    expect(pairs[1]).toMatchObject({ instruction: 'only Peru', preferNegatives: ['CL-currency'] });
  });

  it('gives the same queries for the same seed', () => {
    expect(factTrainingQueries(split, training, options)).toEqual(factTrainingQueries(split, training, options));
  });
});

describe('mining training groups', () => {
  const reranker = Reranker.create(Llama.init(tinyConfig, 1), tinyTokenizer, { mode: 'yes_no' }, 1);
  const corpus = new Map(
    Array.from({ length: 40 }, (_, i) => [`d${i}`, { id: `d${i}`, title: '', text: `the thing number ${i}` }]),
  );
  const index = new Bm25Index(corpus.values());
  const queries = Array.from({ length: 40 }, (_, i) => ({
    id: `q${i}`,
    text: `find thing number ${i}`,
    relevant: new Map([[`d${i}`, 1]]),
  }));
  const long = { id: 'long', text: 'find '.repeat(400), relevant: new Map([['d0', 1]]) };
  const mining = {
    negatives: 2,
    ranks: [1, 10] as [number, number],
    gradedNegatives: false,
    freshNegatives: true,
    seed: 3,
    name: 'test',
  };

  it('leaves out queries too long for the context and holds back whole queries for validation', () => {
    const mined = mineTrainingGroups(reranker, [...queries, long], corpus, index, { ...mining, groupsNeeded: 10 });
    expect(mined.tooLong).toEqual(['long']);
    expect(mined.queries).toBe(40);
    expect(mined.validation).toHaveLength(2); // 5 % of 40
    const validation = new Set(mined.validation.map((g) => g.query));
    const trainQueries = new Set(mined.train.map((g) => g.query));
    for (const q of validation) expect(trainQueries.has(q)).toBe(false);
    for (const g of mined.train) expect(g.negatives).toHaveLength(2);
  });

  it('mines a round of fresh negatives per pass over the queries, at most 10', () => {
    const rounds = (groupsNeeded: number, freshNegatives = true) =>
      mineTrainingGroups(reranker, queries, corpus, index, { ...mining, groupsNeeded, freshNegatives });
    expect(rounds(38).rounds).toBe(1);
    expect(rounds(38 * 3).rounds).toBe(3);
    expect(rounds(38 * 3).train).toHaveLength(38 * 3);
    expect(rounds(38 * 3 + 1).rounds).toBe(4);
    expect(rounds(38 * 100).rounds).toBe(10);
    expect(rounds(38 * 3, false).rounds).toBe(1);
  });

  it('says why when nothing is left to train on', () => {
    expect(() => mineTrainingGroups(reranker, [long], corpus, index, { ...mining, groupsNeeded: 1 })).toThrow(
      'test: no training groups (0 queries without a relevant document, 1 too long for the context)',
    );
  });
});
