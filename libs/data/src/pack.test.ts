import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX, type TokenizedExample } from './mask';
import { packExamples, padBatch, padExamples } from './pack';

/** An example of `n` tokens whose ids say which example and position they are: 1000·k + p. */
function example(k: number, n: number): TokenizedExample {
  const ids = Array.from({ length: n }, (_, p) => 1000 * k + p);
  return { input_ids: ids, labels: ids.map((id, p) => (p === 0 ? IGNORE_INDEX : id)), truncated: 0 };
}

describe('packing', () => {
  const lengths = [7, 5, 4, 3, 3, 2, 1, 9, 6];
  const examples = lengths.map((n, k) => example(k + 1, n));
  const { rows, report } = packExamples(examples, { seqLength: 10, padId: 0 });

  it('never lets a position id or a segment cross an example boundary', () => {
    for (const row of rows) {
      for (let t = 0; t < 10; t++) {
        const id = row.input_ids[t];
        if (row.segment_ids[t] === 0) {
          expect(id).toBe(0);
          expect(row.labels[t]).toBe(IGNORE_INDEX);
          continue;
        }
        // position ids restart at 0 and count the example's own tokens
        expect(row.position_ids[t]).toBe(id % 1000);
        // tokens share a segment exactly when they come from the same example
        for (let u = 0; u < 10; u++) {
          if (row.segment_ids[u] === 0) continue;
          expect(row.segment_ids[u] === row.segment_ids[t]).toBe(
            Math.floor(row.input_ids[u] / 1000) === Math.floor(id / 1000),
          );
        }
      }
    }
  });

  it('never trains the first token of an example on the previous example', () => {
    for (const row of rows) {
      for (let t = 0; t < 10; t++) if (row.position_ids[t] === 0) expect(row.labels[t]).toBe(IGNORE_INDEX);
    }
  });

  it('keeps every example whole, once', () => {
    const seen = rows
      .flatMap((row) => [...row.input_ids].filter((id) => id % 1000 === 0 && id > 0))
      .sort((a, b) => a - b);
    expect(seen).toEqual(lengths.map((_, k) => 1000 * (k + 1)));
  });

  it('fills rows best-fit-decreasing and reports efficiency', () => {
    // 40 tokens need at least 4 rows of 10; BFD finds 9+1, 7+3, 6+4, 5+3+2.
    expect(report).toEqual({ rows: 4, examples: 9, tokens: 40, slots: 40, efficiency: 1 });
  });

  it('refuses an example longer than the row', () => {
    expect(() => packExamples([example(1, 11)], { seqLength: 10, padId: 0 })).toThrow(/exceeds seqLength 10/);
  });

  it('pads one example per row when packing is off', () => {
    const { rows: padded, report: r } = padExamples([example(1, 3), example(2, 5)], { seqLength: 6, padId: 0 });
    expect([...padded[0].segment_ids]).toEqual([1, 1, 1, 0, 0, 0]);
    expect([...padded[1].position_ids]).toEqual([0, 1, 2, 3, 4, 0]);
    expect(r).toEqual({ rows: 2, examples: 2, tokens: 8, slots: 12, efficiency: 8 / 12 });
  });

  it('pads plainly with an attention mask', () => {
    const batch = padBatch([example(1, 3), example(2, 1)], { padId: 0 });
    expect([...batch.input_ids[1]]).toEqual([2000, 0, 0]);
    expect([...batch.attention_mask[0]]).toEqual([1, 1, 1]);
    expect([...batch.attention_mask[1]]).toEqual([1, 0, 0]);
    expect([...batch.labels[1]]).toEqual([IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]);
  });
});
