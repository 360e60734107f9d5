import { describe, expect, it } from 'vitest';
import { mentions } from '@tunekit/data';
import { buildDefaultCorpus } from './default-corpus';
import type { InstructionMeta } from './instructions';

describe('the default corpus from countries-list facts', () => {
  const corpus = buildDefaultCorpus({ seed: 1234 });
  const metaOf = (c: { meta?: Record<string, unknown> }) => c.meta as InstructionMeta;

  it('splits countries by entity and builds every task type', () => {
    const tasks = (list: typeof corpus.train) =>
      Object.fromEntries(
        [...new Set(list.map((c) => metaOf(c).task))]
          .sort()
          .map((t) => [t, list.filter((c) => metaOf(c).task === t).length]),
      );
    const summary = {
      countries: corpus.facts.length,
      trainEntities: corpus.trainEntities.length,
      heldOutEntities: corpus.heldOutEntities.length,
      trainInstructions: corpus.train.length,
      heldOutInstructions: corpus.heldOut.length,
      trainTasks: tasks(corpus.train),
      heldOutTasks: tasks(corpus.heldOut),
    };
    console.log(JSON.stringify(summary, null, 2));
    expect(summary.countries).toBe(247);
    expect(summary.trainEntities + summary.heldOutEntities).toBe(247);
    expect(Math.abs(summary.heldOutEntities - 124)).toBeLessThanOrEqual(3);
    for (const task of [
      'qa',
      'classification',
      'comparison',
      'extraction',
      'json',
      'bullets',
      'table',
      'summary',
      'multi_turn',
      'refusal_harmful',
      'refusal_out_of_scope',
    ]) {
      expect(summary.trainTasks[task], task).toBeGreaterThan(0);
      expect(summary.heldOutTasks[task], task).toBeGreaterThan(0);
    }
  });

  it('never puts a held-out country into a training instruction', () => {
    const heldOutIds = new Set(corpus.heldOutEntities.map((f) => f.id));
    const trainText = corpus.train.map((c) => c.messages.map((m) => m.content).join('\n')).join('\n');
    for (const c of corpus.train) for (const id of metaOf(c).entities) expect(heldOutIds.has(id)).toBe(false);
    const leaked = corpus.heldOutEntities.filter((f) => mentions(trainText, f.name));
    expect(leaked.map((f) => f.name)).toEqual([]);
    // held-out harmful requests are new to the model too
    const trainPrompts = new Set(corpus.train.map((c) => c.messages.at(-2)!.content));
    const heldOutHarmful = corpus.heldOut.filter((c) => metaOf(c).task === 'refusal_harmful');
    expect(heldOutHarmful.length).toBeGreaterThan(20);
    for (const c of heldOutHarmful) expect(trainPrompts.has(c.messages.at(-2)!.content)).toBe(false);
    // and the check itself can fail: every training country is mentioned
    expect(corpus.trainEntities.every((f) => mentions(trainText, f.name))).toBe(true);
  });

  it('states every held-out fact in the pre-training prose, in several paraphrases and orders', () => {
    const docs = [...corpus.pretraining({ exposures: 3 })];
    expect(docs).toHaveLength(3 * 247);
    const f = corpus.heldOutEntities[0];
    const about = docs.filter((d) => d.includes(f.name) && d.includes(f.capital));
    expect(about.length).toBeGreaterThanOrEqual(3);
    expect(new Set(about).size).toBe(about.length);
    for (const d of about)
      for (const value of [f.capital, f.continent, f.currency, f.language, `+${f.phone}`]) expect(d).toContain(value);
    console.log('pre-training samples:\n' + about.join('\n'));
  });

  it('is deterministic under a seed and changes with it', () => {
    const again = buildDefaultCorpus({ seed: 1234 });
    expect(again.train.map((c) => c.messages)).toEqual(corpus.train.map((c) => c.messages));
    expect([...again.pretraining({ exposures: 1 })]).toEqual([...corpus.pretraining({ exposures: 1 })]);
    expect(buildDefaultCorpus({ seed: 99 }).heldOutEntities.map((f) => f.id)).not.toEqual(
      corpus.heldOutEntities.map((f) => f.id),
    );
  });

  it('prints a few rows of each kind', () => {
    const seen = new Set<string>();
    for (const c of corpus.train) {
      const task = metaOf(c).task;
      if (seen.has(task)) continue;
      seen.add(task);
      console.log(`[${task}] ${JSON.stringify(c.messages)}`);
    }
    expect(seen.size).toBe(11);
  });
});
