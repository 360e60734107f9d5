import { IGNORE_INDEX, type TokenizedExample } from './mask';

export interface Histogram {
  /** Bin edges, `edges.length === counts.length + 1`; bin i is [edges[i], edges[i+1]). */
  edges: number[];
  counts: number[];
}

/** Per-dataset numbers, JSON-ready for reports and the dashboard. */
export interface DatasetStatistics {
  name: string;
  rows: number;
  tokens: number;
  trainableTokens: number;
  trainableFraction: number;
  length: { min: number; max: number; mean: number; p50: number; p95: number };
  lengthHistogram: Histogram;
  perSource: Record<string, { rows: number; tokens: number; trainableTokens: number }>;
}

export function datasetStatistics(
  name: string,
  examples: readonly (TokenizedExample & { mixSource?: string })[],
  options: { bins?: number; sourceOf?: (e: TokenizedExample, i: number) => string } = {},
): DatasetStatistics {
  const lengths = examples.map((e) => e.input_ids.length).sort((a, b) => a - b);
  let tokens = 0;
  let trainable = 0;
  const perSource: DatasetStatistics['perSource'] = {};
  examples.forEach((e, i) => {
    const n = e.input_ids.length;
    const t = e.labels.reduce((a, l) => a + (l !== IGNORE_INDEX ? 1 : 0), 0);
    tokens += n;
    trainable += t;
    const source = options.sourceOf?.(e, i) ?? e.mixSource ?? name;
    const entry = (perSource[source] ??= { rows: 0, tokens: 0, trainableTokens: 0 });
    entry.rows++;
    entry.tokens += n;
    entry.trainableTokens += t;
  });
  const quantile = (q: number) =>
    lengths.length ? lengths[Math.min(lengths.length - 1, Math.floor(q * lengths.length))] : 0;
  return {
    name,
    rows: examples.length,
    tokens,
    trainableTokens: trainable,
    trainableFraction: tokens ? trainable / tokens : 0,
    length: {
      min: lengths[0] ?? 0,
      max: lengths.at(-1) ?? 0,
      mean: examples.length ? tokens / examples.length : 0,
      p50: quantile(0.5),
      p95: quantile(0.95),
    },
    lengthHistogram: histogram(lengths, options.bins ?? 20),
    perSource,
  };
}

/** Equal-width integer bins from the minimum to the maximum. */
export function histogram(values: readonly number[], bins: number): Histogram {
  if (values.length === 0) return { edges: [0, 1], counts: [0] };
  const min = values.reduce((a, b) => Math.min(a, b));
  const max = values.reduce((a, b) => Math.max(a, b));
  const width = Math.max(1, Math.ceil((max - min + 1) / bins));
  const n = Math.ceil((max - min + 1) / width);
  const edges = Array.from({ length: n + 1 }, (_, i) => min + i * width);
  const counts = new Array<number>(n).fill(0);
  for (const v of values) counts[Math.floor((v - min) / width)]++;
  return { edges, counts };
}
