import { Rng, wholeWords } from '@tunekit/data';
import type { RankingGroup } from './train';

const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'kr', 'st', 'tr', 'sh'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'm'];
const FRAMES = [(n: string) => n, (n: string) => n, (n: string) => n, (n: string) => `${n} Islands`, (n: string) => `North ${n}`, (n: string) => `Saint ${n}`, (n: string) => `${n}ia`];

/** An invented place name of two to four syllables ("Drounal", "Saint Kemi"), never one of `taken`. */
export function inventName(rng: Rng, taken: ReadonlySet<string> = new Set()): string {
  for (;;) {
    const syllables = 2 + rng.int(3);
    let word = '';
    for (let i = 0; i < syllables; i++) word += rng.pick(ONSETS) + rng.pick(VOWELS) + (i === syllables - 1 ? rng.pick(CODAS) : '');
    const name = rng.pick(FRAMES)(word[0].toUpperCase() + word.slice(1));
    if (!taken.has(name)) return name;
  }
}

/**
 * Entity substitution: the group with every whole-word mention of `name` (or matched by a global
 * `wholeWords` pattern) — in the query, the
 * instruction and every document — replaced by `replacement`. What stays relevant is what mentions
 * the entity the query asks about, whatever it is called, so a model trained on such groups has to
 * match the name in the query to the name in the document instead of memorising which entities it
 * has seen.
 */
export function substituteEntity(group: RankingGroup, name: string | RegExp, replacement: string): RankingGroup {
  const pattern = typeof name === 'string' ? wholeWords(name, 'gu') : name;
  const swap = (text: string) => text.replace(pattern, () => replacement);
  return {
    ...(group.instruction === undefined ? {} : { instruction: swap(group.instruction) }),
    query: swap(group.query), positive: swap(group.positive), negatives: group.negatives.map(swap),
  };
}

/**
 * Replaces, in a share of the groups whose query names one of `names`, that name (the longest one
 * the query names) by an invented one throughout the group. Deterministic under the seed.
 */
export function substituteEntities(groups: readonly RankingGroup[], names: readonly string[], o: { share: number; seed: number }): { groups: RankingGroup[]; substituted: number } {
  const rng = new Rng(o.seed).fork('entity-substitution');
  const taken = new Set(names);
  const patterns = [...names].sort((a, b) => b.length - a.length).map((n) => wholeWords(n, 'gu'));
  let substituted = 0;
  const out = groups.map((g) => {
    const pattern = patterns.find((p) => g.query.search(p) >= 0);
    if (!pattern || rng.next() >= o.share) return g;
    substituted++;
    return substituteEntity(g, pattern, inventName(rng, taken));
  });
  return { groups: out, substituted };
}
