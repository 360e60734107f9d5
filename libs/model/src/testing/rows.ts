import { IGNORE_INDEX, Rng, type PackedRow } from '@tunekit/data';

/** Random packed rows: two examples per row, the first half of each example masked as a prompt. */
export function randomRows(n: number, seq: number, vocab: number, seed: number): PackedRow[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const row: PackedRow = {
      input_ids: new Int32Array(seq),
      labels: new Int32Array(seq).fill(IGNORE_INDEX),
      position_ids: new Int32Array(seq),
      segment_ids: new Int32Array(seq),
    };
    const split = 2 + rng.int(seq - 4);
    for (let t = 0; t < seq; t++) {
      const first = t < split;
      const start = first ? 0 : split;
      const len = first ? split : seq - split;
      row.input_ids[t] = rng.int(vocab);
      row.position_ids[t] = t - start;
      row.segment_ids[t] = first ? 1 : 2;
      if (t - start >= len / 2) row.labels[t] = row.input_ids[t];
    }
    return row;
  });
}
