import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mentions, readBeir, writeBeir } from '@tunekit/data';
import { ATTRIBUTES } from './countries';
import { buildDefaultCorpus } from './default-corpus';
import { buildFactRetrieval, factOf } from './retrieval';

describe('the fact retrieval collection', () => {
  const r = buildFactRetrieval({ seed: 1234 });
  const { heldOutEntities, trainEntities } = buildDefaultCorpus({ seed: 1234 });

  it('builds passages, profiles, questions and instruction pairs', () => {
    const kinds = (split: typeof r.train) =>
      [...split.queries.values()].reduce<Record<string, number>>(
        (acc, q) => ({ ...acc, [String(q.metadata?.kind)]: (acc[String(q.metadata?.kind)] ?? 0) + 1 }),
        {},
      );
    const summary = {
      documents: r.corpus.size,
      trainQueries: kinds(r.train),
      testQueries: kinds(r.test),
      trainPairs: r.train.pairs.length,
      testPairs: r.test.pairs.length,
      sample: {
        document: r.corpus.get('PE-currency'),
        query: [...r.test.queries.values()][0],
        pair: r.test.pairs.at(-1) && {
          ...r.test.pairs.at(-1)!,
          original: r.test.pairs.at(-1)!.original.instruction,
          altered: r.test.pairs.at(-1)!.altered.instruction,
        },
      },
    };
    console.log(JSON.stringify(summary, null, 2));
    expect(r.corpus.size).toBe(247 * 7);
    expect(summary.testQueries.fact).toBe(heldOutEntities.length * 5);
    expect(summary.trainQueries.fact).toBe(trainEntities.length * 5 * 2);
    expect(summary.testQueries.bridge).toBe(heldOutEntities.length);
    expect(summary.testQueries.value).toBeGreaterThan(10);
    expect(r.test.pairs.length).toBeGreaterThan(heldOutEntities.length);
  });

  it('judges every question, and the altered instruction of a pair makes some relevant documents irrelevant', () => {
    for (const split of [r.train, r.test]) {
      for (const [qid, judged] of split.qrels) {
        expect(split.queries.has(qid)).toBe(true);
        expect([...judged.values()].some((g) => g >= 1)).toBe(true);
        for (const doc of judged.keys()) expect(r.corpus.has(doc)).toBe(true);
      }
      for (const p of split.pairs) {
        const changed = [...p.original.qrels.keys()].filter((d) => !p.altered.qrels.has(d));
        expect(changed.length, p.id).toBeGreaterThan(0);
        expect(p.altered.qrels.size, p.id).toBeGreaterThan(0);
        for (const d of p.altered.qrels.keys()) expect(p.original.qrels.has(d), `${p.id} ${d}`).toBe(true);
      }
    }
  });

  it('asks test questions only about held-out countries, and training questions never name one', () => {
    const heldOut = new Set(heldOutEntities.map((f) => f.id));
    const trainText = [...r.train.queries.values()]
      .map((q) => q.text)
      .concat(r.train.pairs.flatMap((p) => [p.query, p.original.instruction, p.altered.instruction]))
      .join('\n');
    expect(
      heldOutEntities.filter((f) => mentions(trainText, f.name) || mentions(trainText, f.capital)).map((f) => f.name),
    ).toEqual([]);
    for (const [qid, judged] of r.test.qrels) {
      if (r.test.queries.get(qid)!.metadata?.kind === 'value') continue;
      for (const doc of judged.keys()) expect(heldOut.has(doc.split('-')[0]), `${qid} ${doc}`).toBe(true);
    }
    const trainValues = new Set(
      [...r.train.queries.values()].filter((q) => q.metadata?.kind === 'value').map((q) => q.text),
    );
    for (const q of r.test.queries.values())
      if (q.metadata?.kind === 'value') expect(trainValues.has(q.text)).toBe(false);
  });

  it("gives every document its country and facet as metadata, agreeing with its id and the split's entities", () => {
    const entities = new Set([...r.entities.train, ...r.entities.test]);
    const facets = new Map<string, number>();
    for (const doc of r.corpus.values()) {
      const fact = factOf(doc);
      expect(fact, doc.id).toBeDefined();
      const { entity, facet } = fact!;
      expect(entities.has(entity), doc.id).toBe(true);
      expect(doc.id.startsWith(`${entity}-${facet}`), doc.id).toBe(true);
      facets.set(facet, (facets.get(facet) ?? 0) + 1);
    }
    expect(Object.fromEntries(facets)).toEqual({
      ...Object.fromEntries(ATTRIBUTES.map((a) => [a, 247])),
      profile: 247 * 2,
    });
    expect(factOf({ id: 'PE-currency', title: '', text: 'The currency of Peru is PEN.' })).toBeUndefined();
    expect(factOf({ id: 'x', title: '', text: '', metadata: { entity: 'PE', facet: 'weather' } })).toBeUndefined();
  });

  it('is deterministic, and round-trips through BEIR files', async () => {
    const again = buildFactRetrieval({ seed: 1234 });
    expect([...again.corpus.values()]).toEqual([...r.corpus.values()]);
    expect(buildFactRetrieval({ seed: 7 }).corpus.get('PE-currency')).toBeDefined();
    const dir = await mkdtemp(path.join(tmpdir(), 'facts-'));
    await writeBeir(dir, { corpus: r.corpus, ...r.test });
    const read = await readBeir(dir);
    expect(read.corpus).toEqual(r.corpus);
    expect(read.qrels).toEqual(r.test.qrels);
    expect(read.queries).toEqual(r.test.queries);
  });
});
