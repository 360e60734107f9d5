import { describe, expect, it } from 'vitest';
import { DataError } from './errors';
import { IGNORE_INDEX } from './mask';
import { mixSources } from './mix';
import { datasetStatistics } from './stats';

describe('mixing', () => {
  const sft = Array.from({ length: 300 }, (_, i) => ({ id: `sft${i}` }));
  const replay = Array.from({ length: 50 }, (_, i) => ({ id: `pre${i}` }));

  it('takes each source in proportion to its weight, deterministically', () => {
    const a = mixSources(
      [
        { name: 'sft', items: sft, weight: 3 },
        { name: 'replay', items: replay, weight: 1 },
      ],
      { seed: 7, size: 200 },
    );
    expect(a.items).toHaveLength(200);
    expect(a.items.filter((x) => x.mixSource === 'replay')).toHaveLength(50);
    expect(a.report.sources.map((s) => [s.name, s.taken, s.epochs])).toEqual([
      ['sft', 150, 0.5],
      ['replay', 50, 1],
    ]);
    const b = mixSources(
      [
        { name: 'sft', items: sft, weight: 3 },
        { name: 'replay', items: replay, weight: 1 },
      ],
      { seed: 7, size: 200 },
    );
    expect(b.items.map((x) => x.id)).toEqual(a.items.map((x) => x.id));
  });

  it('uses the first source exactly once by default, and repeats a small source evenly to reach its share', () => {
    const a = mixSources(
      [
        { name: 'sft', items: sft, weight: 1 },
        { name: 'replay', items: replay, weight: 0.5 },
      ],
      { seed: 1 },
    );
    expect(a.report.size).toBe(450);
    expect(new Set(a.items.filter((x) => x.mixSource === 'sft').map((x) => x.id)).size).toBe(300);
    expect(a.report.sources.map((s) => [s.name, s.taken, s.epochs])).toEqual([
      ['sft', 300, 1],
      ['replay', 150, 3],
    ]);
    // a tiny source with a large weight is repeated; it never shrinks the mixture to its own size
    const tiny = mixSources(
      [
        { name: 'sft', items: sft, weight: 1 },
        { name: 'tiny', items: replay.slice(0, 2), weight: 0.5 },
      ],
      { seed: 1 },
    );
    expect(tiny.report.sources.map((s) => s.taken)).toEqual([300, 150]);
    const c = mixSources(
      [
        { name: 'sft', items: sft.slice(0, 277), weight: 1 },
        { name: 'replay', items: replay, weight: 0.1 },
      ],
      { seed: 1 },
    );
    expect(c.report.sources.map((s) => s.taken)).toEqual([277, 28]);
    const b = mixSources([{ name: 'replay', items: replay, weight: 1 }], { seed: 1, size: 120 });
    const counts = new Map<string, number>();
    for (const x of b.items) counts.set(x.id, (counts.get(x.id) ?? 0) + 1);
    expect(Math.min(...counts.values())).toBe(2);
    expect(Math.max(...counts.values())).toBe(3);
  });

  it('rejects empty sources and non-positive weights', () => {
    expect(() => mixSources([{ name: 'x', items: [], weight: 1 }], { seed: 1 })).toThrow(DataError);
    expect(() => mixSources([{ name: 'x', items: sft, weight: 0 }], { seed: 1 })).toThrow(/weight 0/);
  });
});

describe('statistics', () => {
  it('counts rows, tokens, trainable tokens, lengths and sources', () => {
    const ex = (n: number, trained: number, mixSource: string) => ({
      input_ids: Array(n).fill(5),
      labels: Array.from({ length: n }, (_, i) => (i >= n - trained ? 5 : IGNORE_INDEX)),
      truncated: 0,
      mixSource,
    });
    const stats = datasetStatistics('demo', [ex(10, 4, 'sft'), ex(20, 20, 'replay'), ex(30, 6, 'sft')], { bins: 3 });
    expect(stats).toMatchObject({
      rows: 3,
      tokens: 60,
      trainableTokens: 30,
      trainableFraction: 0.5,
      length: { min: 10, max: 30, mean: 20, p50: 20 },
      lengthHistogram: { edges: [10, 17, 24, 31], counts: [1, 1, 1] },
      perSource: {
        sft: { rows: 2, tokens: 40, trainableTokens: 10 },
        replay: { rows: 1, tokens: 20, trainableTokens: 20 },
      },
    });
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
  });
});
