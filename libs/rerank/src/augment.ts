import { Rng, wholeWords } from '@tunekit/data';
import type { RankingGroup } from './train';

const ONSETS = [
  'b',
  'd',
  'f',
  'g',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'v',
  'z',
  'br',
  'dr',
  'kr',
  'st',
  'tr',
  'sh',
];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'm'];
const FRAMES = [
  (n: string) => n,
  (n: string) => n,
  (n: string) => n,
  (n: string) => `${n} Islands`,
  (n: string) => `North ${n}`,
  (n: string) => `Saint ${n}`,
  (n: string) => `${n}ia`,
];

/** An invented place name of two to four syllables ("Drounal", "Saint Kemi"), never one of `taken`. */
export function inventName(rng: Rng, taken: ReadonlySet<string> = new Set()): string {
  for (;;) {
    const syllables = 2 + rng.int(3);
    let word = '';
    for (let i = 0; i < syllables; i++)
      word += rng.pick(ONSETS) + rng.pick(VOWELS) + (i === syllables - 1 ? rng.pick(CODAS) : '');
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
  return rewriteGroup(group, (text) => text.replace(pattern, () => replacement));
}

/** The group with `swap` applied to its instruction, query and every document. */
function rewriteGroup(group: RankingGroup, swap: (text: string) => string): RankingGroup {
  return {
    ...(group.instruction === undefined ? {} : { instruction: swap(group.instruction) }),
    query: swap(group.query),
    positive: swap(group.positive),
    negatives: group.negatives.map(swap),
  };
}

export interface SubstitutionOptions {
  /** Share of the groups whose query's entity (the longest of `names` it mentions) is renamed throughout the group. */
  share: number;
  /**
   * Chance that each other entity a group mentions is renamed too, each to its own invented name
   * (default 0). Without it the invented names all belong to the query's entity, so the model
   * learns that an unfamiliar name marks the relevant document.
   */
  others?: number;
  seed: number;
}

/**
 * Entity substitution over groups: in a share of the groups whose query names one of `names`, that
 * name becomes an invented one throughout the group, and (with `others`) so does each other name the
 * group mentions, each to its own. One pass over each text, longest names first, whole words only.
 * Deterministic under the seed.
 */
export function substituteEntities(
  groups: readonly RankingGroup[],
  names: readonly string[],
  o: SubstitutionOptions,
): { groups: RankingGroup[]; substituted: number; othersSubstituted: number } {
  const rng = new Rng(o.seed).fork('entity-substitution');
  const taken = new Set(names);
  const longestFirst = [...names].sort((a, b) => b.length - a.length);
  const any = new RegExp(longestFirst.map((n) => wholeWords(n).source).join('|'), 'gu');
  let substituted = 0,
    othersSubstituted = 0;
  const out = groups.map((g) => {
    const texts = [g.instruction ?? '', g.query, g.positive, ...g.negatives];
    const mentioned = new Set(texts.flatMap((t) => t.match(any) ?? []));
    const queryName = (g.query.match(any) ?? []).reduce<string | undefined>(
      (a, b) => (a && a.length >= b.length ? a : b),
      undefined,
    );
    const renamed = new Map<string, string>();
    if (queryName && rng.next() < o.share) {
      renamed.set(queryName, inventName(rng, taken));
      substituted++;
    }
    for (const name of [...mentioned].sort()) {
      if (name === queryName || !o.others || !(rng.next() < o.others)) continue;
      renamed.set(name, inventName(rng, taken));
      othersSubstituted++;
    }
    if (renamed.size === 0) return g;
    return rewriteGroup(g, (text) => text.replace(any, (m) => renamed.get(m) ?? m));
  });
  return { groups: out, substituted, othersSubstituted };
}
