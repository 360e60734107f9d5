import { describe, expect, it } from 'vitest';
import { pMrr } from './pmrr';

/** A run for pair `p` that ranks `order` first to last. */
const ranking = (order: string[]) => new Map([['p', new Map(order.map((d, i) => [d, order.length - i]))]]);

describe('p-MRR (FollowIR)', () => {
  const changed = [{ id: 'p', changed: ['a', 'b'] }];

  it('is positive when the documents the new instruction made irrelevant move down', () => {
    const r = pMrr(ranking(['a', 'b', 'c', 'd', 'e']), ranking(['c', 'd', 'e', 'a', 'b']), changed);
    // a: 1 → 4, b: 2 → 5: (1 − 1/4 + 1 − 2/5) / 2
    expect(r.pmrr).toBeCloseTo((100 * (1 - 1 / 4 + (1 - 2 / 5))) / 2, 10);
    expect(r.pmrr).toBeGreaterThan(0);
  });

  it('is 0 when the instruction is ignored', () => {
    const same = ranking(['a', 'b', 'c', 'd', 'e']);
    expect(pMrr(same, same, changed).pmrr).toBe(0);
  });

  it('is negative when the ranking goes the wrong way', () => {
    const r = pMrr(ranking(['c', 'd', 'a', 'b', 'e']), ranking(['a', 'b', 'c', 'd', 'e']), changed);
    // a: 3 → 1, b: 4 → 2: (1/3 − 1 + 2/4 − 1) / 2
    expect(r.pmrr).toBeCloseTo((100 * (1 / 3 - 1 + (2 / 4 - 1))) / 2, 10);
    expect(r.pmrr).toBeLessThan(0);
  });

  it('averages per pair, then over pairs; an unranked document counts one past the end', () => {
    const original = new Map([
      ...ranking(['a', 'b', 'c']),
      [
        'q',
        new Map([
          ['x', 2],
          ['y', 1],
        ]),
      ],
    ]);
    const altered = new Map([...ranking(['c', 'a', 'b']), ['q', new Map([['y', 1]])]]);
    const r = pMrr(original, altered, [...changed, { id: 'q', changed: ['x'] }, { id: 'none', changed: [] }]);
    const p = (1 - 1 / 2 + (1 - 2 / 3)) / 2; // a: 1 → 2, b: 2 → 3
    const q = 1 - 1 / 2; // x: 1 → unranked (2)
    expect(r.perPair.get('p')).toBeCloseTo(p, 12);
    expect(r.perPair.get('q')).toBeCloseTo(q, 12);
    expect(r.perPair.has('none')).toBe(false);
    expect(r.pmrr).toBeCloseTo((100 * (p + q)) / 2, 10);
  });
});
