import { DataError } from './errors';
import { Rng } from './rng';

export interface MixSource<T> {
  name: string;
  items: readonly T[];
  /** Relative share of the mixture's items. */
  weight: number;
}

export interface MixReport {
  size: number;
  sources: { name: string; weight: number; share: number; available: number; taken: number; /** taken / available */ epochs: number }[];
}

/**
 * A weighted mixture: source i contributes round(size · wᵢ / Σw) items, drawn without replacement
 * (reshuffled and repeated only when a source is too small), then everything is shuffled. `size`
 * defaults to the largest mixture that repeats nothing. Use it to mix pre-training text into
 * instruction data as replay.
 */
export function mixSources<T>(sources: readonly MixSource<T>[], options: { seed: number; size?: number }): { items: (T & { mixSource: string })[]; report: MixReport } {
  if (sources.length === 0) throw new DataError('mixture: no sources');
  for (const s of sources) {
    if (!(s.weight > 0)) throw new DataError(`mixture: source "${s.name}" has weight ${s.weight}; weights must be > 0`);
    if (s.items.length === 0) throw new DataError(`mixture: source "${s.name}" is empty`);
  }
  const total = sources.reduce((a, s) => a + s.weight, 0);
  // Without a size, the scarcest source (relative to its weight) is used exactly once.
  const once = Math.min(...sources.map((s) => s.items.length / (s.weight / total)));
  const quotas = options.size === undefined
    ? sources.map((s) => Math.min(s.items.length, Math.round((once * s.weight) / total)))
    : largestRemainder(sources.map((s) => (options.size! * s.weight) / total), options.size);
  const size = quotas.reduce((a, b) => a + b, 0);
  const rng = new Rng(options.seed);
  const items: (T & { mixSource: string })[] = [];
  const report: MixReport = { size, sources: [] };
  sources.forEach((s, i) => {
    const draw = rng.fork(s.name);
    let pool: number[] = [];
    for (let k = 0; k < quotas[i]; k++) {
      if (pool.length === 0) pool = draw.shuffle(s.items.map((_, j) => j));
      items.push({ ...(s.items[pool.pop()!] as T & object), mixSource: s.name } as T & { mixSource: string });
    }
    report.sources.push({ name: s.name, weight: s.weight, share: s.weight / total, available: s.items.length, taken: quotas[i], epochs: quotas[i] / s.items.length });
  });
  rng.shuffle(items);
  return { items, report };
}

/** Integer quotas summing to `size` that stay closest to the exact shares. */
function largestRemainder(exact: number[], size: number): number[] {
  const floors = exact.map(Math.floor);
  let left = size - floors.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    floors[i]++;
  }
  return floors;
}
