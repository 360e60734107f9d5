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
  sources: {
    name: string;
    weight: number;
    share: number;
    available: number;
    taken: number;
    /** taken / available */ epochs: number;
  }[];
}

/**
 * A weighted mixture: source i contributes round(size · wᵢ / Σw) items, drawn without replacement
 * (reshuffled and repeated only when a source is too small), then everything is shuffled. `size`
 * defaults to the mixture in which the first source (the primary data) is used exactly once: a
 * small source given a large weight is repeated (its `epochs` in the report say how often) rather
 * than shrinking the whole mixture to its size. Use it to mix pre-training text into instruction
 * data as replay.
 */
export function mixSources<T>(
  sources: readonly MixSource<T>[],
  options: { seed: number; size?: number },
): { items: (T & { mixSource: string })[]; report: MixReport } {
  if (sources.length === 0) throw new DataError('mixture: no sources');
  for (const s of sources) {
    if (!(s.weight > 0)) throw new DataError(`mixture: source "${s.name}" has weight ${s.weight}; weights must be > 0`);
    if (s.items.length === 0) throw new DataError(`mixture: source "${s.name}" is empty`);
  }
  const total = sources.reduce((a, s) => a + s.weight, 0);
  // Without a size, the first source is used exactly once and the others are drawn to their share.
  const primary = sources[0];
  const quotas =
    options.size === undefined
      ? sources.map((s, i) =>
          i === 0 ? primary.items.length : Math.max(1, Math.round((primary.items.length * s.weight) / primary.weight)),
        )
      : largestRemainder(
          sources.map((s) => (options.size! * s.weight) / total),
          options.size,
        );
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
    report.sources.push({
      name: s.name,
      weight: s.weight,
      share: s.weight / total,
      available: s.items.length,
      taken: quotas[i],
      epochs: quotas[i] / s.items.length,
    });
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
