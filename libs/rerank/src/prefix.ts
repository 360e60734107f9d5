import type { RerankPair } from './format';

/** Pairs whose tokens all start with the same `prefix` tokens (0: no shared prefix is used). */
export interface PrefixGroup {
  members: number[];
  prefix: number;
}

/** Shorter shared prefixes are not worth a pass of their own. */
const MIN_PREFIX = 8;

/**
 * Plans scoring with shared prefixes: pairs with the same instruction and query share the start of
 * their tokens (system message, instruction, query), which can run once per group and have its
 * keys and values reused for every document. Groups of one, and groups whose shared start is short,
 * are pooled into one group without a prefix, so that they still batch together.
 */
export function prefixGroups(
  pairs: readonly RerankPair[],
  encoded: readonly number[][],
  enabled = true,
): PrefixGroup[] {
  const byQuery = new Map<string, number[]>();
  pairs.forEach((p, i) => {
    const key = enabled ? JSON.stringify([p.instruction ?? '', p.query]) : '';
    const members = byQuery.get(key);
    if (members) members.push(i);
    else byQuery.set(key, [i]);
  });
  const groups: PrefixGroup[] = [];
  const rest: number[] = [];
  for (const members of byQuery.values()) {
    const prefix = enabled && members.length > 1 ? commonPrefix(members.map((i) => encoded[i])) : 0;
    if (prefix >= MIN_PREFIX) groups.push({ members, prefix });
    else rest.push(...members);
  }
  if (rest.length) groups.push({ members: rest, prefix: 0 });
  return groups;
}

/** The members in batches of at most `batchSize`, sorted by length and evenly sized (less padding). */
export function lengthBatches(members: readonly number[], encoded: readonly number[][], batchSize: number): number[][] {
  const order = [...members].sort((a, b) => encoded[a].length - encoded[b].length);
  const count = Math.ceil(order.length / batchSize);
  return Array.from({ length: count }, (_, k) =>
    order.slice(Math.round((k * order.length) / count), Math.round(((k + 1) * order.length) / count)),
  );
}

/** Length of the token prefix all sequences share, leaving at least one token of each to feed. */
export function commonPrefix(seqs: number[][]): number {
  let n = Math.min(...seqs.map((s) => s.length)) - 1;
  const first = seqs[0];
  for (const s of seqs) {
    let i = 0;
    while (i < n && s[i] === first[i]) i++;
    n = i;
  }
  return n;
}
