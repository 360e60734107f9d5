import { IGNORE_INDEX, type TokenizedExample } from './mask';

/** One fixed-length training row holding one or more whole examples. */
export interface PackedRow {
  input_ids: Int32Array;
  labels: Int32Array;
  /** Restart at 0 for every example, so positions never run across a boundary. */
  position_ids: Int32Array;
  /** 1, 2, … per example in the row, 0 for padding: attention is allowed only within equal ids. */
  segment_ids: Int32Array;
}

export interface PackingReport {
  rows: number;
  examples: number;
  /** Tokens of real examples. */
  tokens: number;
  /** rows × seqLength. */
  slots: number;
  /** tokens / slots. */
  efficiency: number;
}

/**
 * Best-fit-decreasing bin packing: examples longest first, each into the open row with the least
 * room that still fits it (found in O(log L) through a segment tree over remaining room).
 */
export function packExamples(
  examples: readonly TokenizedExample[],
  options: { seqLength: number; padId: number },
): { rows: PackedRow[]; report: PackingReport } {
  const { seqLength } = options;
  const order = examples
    .map((_, i) => i)
    .sort((a, b) => examples[b].input_ids.length - examples[a].input_ids.length || a - b);
  const bins: number[][] = [];
  const room: number[] = [];
  const byRoom = new RoomIndex(seqLength);
  for (const i of order) {
    const length = examples[i].input_ids.length;
    if (length > seqLength) throw tooLong('packExamples', length, seqLength);
    let bin = byRoom.takeSmallestAtLeast(length);
    if (bin < 0) {
      bin = bins.length;
      bins.push([]);
      room.push(seqLength);
    }
    bins[bin].push(i);
    room[bin] -= length;
    if (room[bin] > 0) byRoom.put(room[bin], bin);
  }

  return fillRows(examples, bins, options);
}

/** Rows of `seqLength` holding the examples of each bin one after another, each its own segment. */
function fillRows(
  examples: readonly TokenizedExample[],
  bins: readonly number[][],
  { seqLength, padId }: { seqLength: number; padId: number },
): { rows: PackedRow[]; report: PackingReport } {
  let tokens = 0;
  const rows = bins.map((members) => {
    const row: PackedRow = {
      input_ids: new Int32Array(seqLength).fill(padId),
      labels: new Int32Array(seqLength).fill(IGNORE_INDEX),
      position_ids: new Int32Array(seqLength),
      segment_ids: new Int32Array(seqLength),
    };
    let at = 0;
    members.forEach((i, k) => {
      const { input_ids, labels } = examples[i];
      row.input_ids.set(input_ids, at);
      row.labels.set(labels, at);
      row.labels[at] = IGNORE_INDEX; // the first token of an example is never predicted from the previous one
      for (let p = 0; p < input_ids.length; p++) {
        row.position_ids[at + p] = p;
        row.segment_ids[at + p] = k + 1;
      }
      at += input_ids.length;
    });
    tokens += at;
    return row;
  });
  const slots = rows.length * seqLength;
  return {
    rows,
    report: { rows: rows.length, examples: examples.length, tokens, slots, efficiency: slots ? tokens / slots : 0 },
  };
}

function tooLong(caller: string, length: number, seqLength: number): Error {
  return new Error(
    `${caller}: example of ${length} tokens exceeds seqLength ${seqLength}; tokenize with maxLength ${seqLength}`,
  );
}

/** Bins by remaining room; finds the bin with the smallest room ≥ n. */
class RoomIndex {
  private readonly size: number;
  private readonly tree: Int32Array; // counts of bins per room value, as a segment tree over 0..max
  private readonly stacks: number[][];

  constructor(max: number) {
    this.size = 1 << Math.ceil(Math.log2(max + 1));
    this.tree = new Int32Array(2 * this.size);
    this.stacks = Array.from({ length: max + 1 }, () => []);
  }

  put(room: number, bin: number): void {
    this.stacks[room].push(bin);
    for (let node = room + this.size; node >= 1; node >>= 1) this.tree[node]++;
  }

  takeSmallestAtLeast(n: number): number {
    const room = this.firstNonEmpty(1, 0, this.size - 1, n);
    if (room < 0) return -1;
    for (let node = room + this.size; node >= 1; node >>= 1) this.tree[node]--;
    return this.stacks[room].pop()!;
  }

  private firstNonEmpty(node: number, lo: number, hi: number, n: number): number {
    if (hi < n || this.tree[node] === 0) return -1;
    if (lo === hi) return lo;
    const mid = (lo + hi) >> 1;
    const left = this.firstNonEmpty(2 * node, lo, mid, n);
    return left >= 0 ? left : this.firstNonEmpty(2 * node + 1, mid + 1, hi, n);
  }
}

/** One example per fixed-length row, padded (no packing); same row format as `packExamples`. */
export function padExamples(
  examples: readonly TokenizedExample[],
  options: { seqLength: number; padId: number },
): { rows: PackedRow[]; report: PackingReport } {
  for (const e of examples)
    if (e.input_ids.length > options.seqLength) throw tooLong('padExamples', e.input_ids.length, options.seqLength);
  return fillRows(
    examples,
    examples.map((_, i) => [i]),
    options,
  );
}

export interface PaddedBatch {
  input_ids: Int32Array[];
  labels: Int32Array[];
  attention_mask: Int32Array[];
  position_ids: Int32Array[];
}

/** Plain padding (right side): each example in its own row, padded to the longest (or `length`). */
export function padBatch(
  examples: readonly TokenizedExample[],
  options: { padId: number; length?: number },
): PaddedBatch {
  const length = options.length ?? examples.reduce((a, e) => Math.max(a, e.input_ids.length), 0);
  const batch: PaddedBatch = { input_ids: [], labels: [], attention_mask: [], position_ids: [] };
  for (const e of examples) {
    if (e.input_ids.length > length)
      throw new Error(`padBatch: example of ${e.input_ids.length} tokens exceeds length ${length}`);
    const ids = new Int32Array(length).fill(options.padId);
    const labels = new Int32Array(length).fill(IGNORE_INDEX);
    const mask = new Int32Array(length);
    const positions = new Int32Array(length);
    ids.set(e.input_ids);
    labels.set(e.labels);
    for (let p = 0; p < e.input_ids.length; p++) {
      mask[p] = 1;
      positions[p] = p;
    }
    batch.input_ids.push(ids);
    batch.labels.push(labels);
    batch.attention_mask.push(mask);
    batch.position_ids.push(positions);
  }
  return batch;
}
