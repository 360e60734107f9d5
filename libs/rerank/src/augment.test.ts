import { Rng } from '@tunekit/data';
import { describe, expect, it } from 'vitest';
import { inventName, substituteEntities, substituteEntity } from './augment';

const group = {
  query: 'What currency does Niger use?',
  positive: 'Wages and rents in Niger are paid in XOF.',
  negatives: [
    'The currency of Nigeria is NGN.',
    'The capital of Niger is Niamey.',
    'Niger. The river Niger flows here.',
  ],
};

describe('entity substitution', () => {
  it('replaces whole-word mentions only, in the query and every document', () => {
    const g = substituteEntity(group, 'Niger', 'Drounal');
    expect(g.query).toBe('What currency does Drounal use?');
    expect(g.positive).toBe('Wages and rents in Drounal are paid in XOF.');
    expect(g.negatives).toEqual([
      'The currency of Nigeria is NGN.',
      'The capital of Drounal is Niamey.',
      'Drounal. The river Drounal flows here.',
    ]);
  });

  it('invents names deterministically, never a taken one', () => {
    const a = Array.from({ length: 50 }, () => inventName(new Rng(3)));
    expect(new Set(a).size).toBe(1);
    const rng = new Rng(4);
    const names = Array.from({ length: 200 }, () => inventName(rng, new Set(['Peru'])));
    expect(new Set(names).size).toBeGreaterThan(150);
    for (const n of names) expect(n).toMatch(/^[A-Z][a-z]+( [A-Z][a-z]+)*$/);
  });

  it('substitutes the longest name a query mentions, in about the share asked for, leaves other groups alone', () => {
    const groups = Array.from({ length: 400 }, (_, i) =>
      i % 2 ? group : { ...group, query: 'What currency does Nigeria use?' },
    );
    const other = {
      query: 'Countries where French is spoken',
      positive: 'French is spoken in Niger.',
      negatives: ['x'],
    };
    const { groups: out, substituted } = substituteEntities([...groups, other], ['Niger', 'Nigeria'], {
      share: 0.5,
      seed: 1,
    });
    expect(substituted).toBeGreaterThan(150);
    expect(substituted).toBeLessThan(250);
    expect(out.at(-1)).toBe(other);
    const swapped = out.filter((g, i) => i % 2 === 0 && i < 400 && g !== groups[i]);
    for (const g of swapped) {
      expect(g.query).not.toContain('Nigeria');
      expect(g.negatives[0]).not.toContain('Nigeria');
      expect(g.negatives[1]).toBe('The capital of Niger is Niamey.');
    }
  });

  it('renames the other entities a group mentions, each to its own name, so an unfamiliar name marks nothing', () => {
    const mixed = {
      query: 'What currency does Niger use?',
      positive: 'Wages and rents in Niger are paid in XOF.',
      negatives: ['The currency of Nigeria is NGN.', 'The currency of Papua New Guinea is PGK.', 'Guinea uses GNF.'],
    };
    const names = ['Niger', 'Nigeria', 'Guinea', 'Papua New Guinea'];
    const {
      groups: [g],
      substituted,
      othersSubstituted,
    } = substituteEntities([mixed], names, { share: 1, others: 1, seed: 2 });
    expect([substituted, othersSubstituted]).toEqual([1, 3]);
    const texts = [g.query, g.positive, ...g.negatives].join(' ');
    for (const n of names) expect(texts).not.toMatch(new RegExp(`\\b${n}\\b`));
    const nameIn = (t: string, before: string, after: string) =>
      t.slice(t.indexOf(before) + before.length, t.indexOf(after));
    const queryName = nameIn(g.query, 'does ', ' use');
    expect(nameIn(g.positive, 'rents in ', ' are')).toBe(queryName);
    const others = [
      nameIn(g.negatives[0], 'of ', ' is'),
      nameIn(g.negatives[1], 'of ', ' is'),
      nameIn(g.negatives[2], '', ' uses'),
    ];
    expect(new Set([queryName, ...others]).size).toBe(4);
    // with others 0, only the query's entity is renamed; with share 0, only the others may be
    const queryOnly = substituteEntities([mixed], names, { share: 1, seed: 2 }).groups[0];
    expect(queryOnly.negatives).toEqual(mixed.negatives);
    const othersOnly = substituteEntities([mixed], names, { share: 0, others: 1, seed: 2 });
    expect(othersOnly.groups[0].query).toBe(mixed.query);
    expect(othersOnly.othersSubstituted).toBe(3);
  });
});
