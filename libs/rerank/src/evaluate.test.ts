import { Llama, selectBackend } from '@tunekit/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { Bm25Index } from './bm25';
import { evaluatePairs, firstStage, fuseRuns, rerankRun, type EvalQuery } from './evaluate';
import { Reranker } from './reranker';
import { tinyConfig, tinyTokenizer } from './testing/tiny';

const doc = (id: string, text: string) => [id, { id, title: '', text }] as const;
const corpus = new Map([
  doc('r1', 'the red one'),
  doc('r2', 'a red thing'),
  doc('b1', 'the blue one'),
  doc('g1', 'the green one'),
]);

describe('retrieval evaluation', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it("reranks the first stage's candidates, keeping BM25's order for a query too long for the model", () => {
    const reranker = Reranker.create(Llama.init(tinyConfig, 1), tinyTokenizer, { maxLength: 200 });
    const index = new Bm25Index(corpus.values(), { stem: false, stopWords: false });
    const queries: EvalQuery[] = [
      { id: 'q', text: 'red one' },
      { id: 'long', text: `red ${'blue '.repeat(200)}` },
    ];
    const first = firstStage(index, queries, 3);
    expect([...first.get('q')!.keys()]).toEqual(['r1', 'r2', 'g1']); // b1 and g1 tie: the larger id first
    const fallback: string[] = [];
    const run = rerankRun(reranker, corpus, queries, first, { onFallback: (id) => fallback.push(id) });
    expect(fallback).toEqual(['long']);
    expect(run.get('long')).toEqual(first.get('long'));
    const direct = reranker.score(['r1', 'r2', 'g1'].map((d) => ({ query: 'red one', document: corpus.get(d)!.text })));
    expect([...run.get('q')!.values()]).toEqual([...direct]);
  });

  it('fuses min-max normalised scores with the given weight', () => {
    const first = new Map([
      [
        'q',
        new Map([
          ['a', 10],
          ['b', 5],
          ['c', 0],
        ]),
      ],
    ]);
    const second = new Map([
      [
        'q',
        new Map([
          ['a', -1],
          ['b', 3],
          ['c', 1],
        ]),
      ],
    ]);
    const fused = fuseRuns(first, second, 0.25).get('q')!;
    expect(fused.get('a')).toBeCloseTo(0.25 * 0 + 0.75 * 1, 12);
    expect(fused.get('b')).toBeCloseTo(0.25 * 1 + 0.75 * 0.5, 12);
    expect(fused.get('c')).toBeCloseTo(0.25 * 0.5 + 0.75 * 0, 12);
  });

  it('scores instruction pairs with p-MRR: following the altered instruction is positive, ignoring it zero', () => {
    const index = new Bm25Index(corpus.values(), { stem: false, stopWords: false });
    const pair = {
      id: 'p',
      query: 'the one',
      original: {
        instruction: 'Any colour.',
        qrels: new Map([
          ['r1', 1],
          ['b1', 1],
          ['g1', 1],
        ]),
      },
      altered: { instruction: 'Only red.', qrels: new Map([['r1', 1]]) },
    };
    // a ranker that follows the instruction: under "Only red." the non-red documents go to the bottom
    const following = (queries: EvalQuery[], candidates: Map<string, Map<string, number>>) =>
      new Map(
        queries.map((q) => [
          q.id,
          new Map(
            [...candidates.get(q.id)!.keys()].map(
              (d) =>
                [
                  d,
                  q.instruction === 'Only red.' && !d.startsWith('r')
                    ? -1
                    : ({ b1: 3, g1: 2, r1: 1, r2: 0 } as Record<string, number>)[d],
                ] as const,
            ),
          ),
        ]),
      );
    const ignoring = (queries: EvalQuery[], candidates: Map<string, Map<string, number>>) =>
      new Map(queries.map((q) => [q.id, new Map(candidates.get(q.id)!)]));
    const followed = evaluatePairs(following, index, [pair], 10);
    expect(followed.pmrr).toBeGreaterThan(0);
    expect(followed.alteredMetrics.mean['ndcg@10']).toBe(1);
    expect(evaluatePairs(ignoring, index, [pair], 10).pmrr).toBe(0);
  });
});
