import { continents, countries, languages } from 'countries-list';
import { Rng, mentions } from '@tunekit/data';

/** One country's facts, from the `countries-list` package. */
export interface CountryFacts {
  /** ISO 3166-1 alpha-2 code. */
  id: string;
  name: string;
  capital: string;
  continent: string;
  /** First listed ISO 4217 currency code. */
  currency: string;
  /** English name of the first listed language. */
  language: string;
  /** First international calling code, without `+`. */
  phone: string;
}

export const ATTRIBUTES = ['capital', 'continent', 'currency', 'language', 'phone'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

/** Every country that has all five facts (247 in countries-list 3.4.1), sorted by id. */
export function loadCountries(): CountryFacts[] {
  const out: CountryFacts[] = [];
  for (const [id, c] of Object.entries(countries)) {
    const language = c.languages[0] ? languages[c.languages[0] as keyof typeof languages]?.name : undefined;
    if (!c.capital || !c.currency[0] || !language || !c.phone[0]) continue;
    out.push({
      id,
      name: c.name,
      capital: c.capital,
      continent: continents[c.continent as keyof typeof continents],
      currency: c.currency[0],
      language,
      phone: String(c.phone[0]),
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Splits entities by a seeded shuffle, keeping together entities whose names contain one another
 * ("Niger" / "Nigeria" is fine, "Guinea" / "Papua New Guinea" is not), so no held-out name can
 * appear inside a training question.
 */
export function splitByEntity(
  facts: readonly CountryFacts[],
  options: { seed: number; heldOutFraction: number },
): { train: CountryFacts[]; heldOut: CountryFacts[] } {
  const parent = facts.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const names = facts.map((f) => [f.name, f.capital]);
  for (let i = 0; i < facts.length; i++) {
    for (let j = i + 1; j < facts.length; j++) {
      if (names[i].some((a) => names[j].some((b) => mentions(a, b) || mentions(b, a)))) parent[find(i)] = find(j);
    }
  }
  const groups = new Map<number, CountryFacts[]>();
  facts.forEach((f, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), f]);
  });
  const order = new Rng(options.seed).shuffle([...groups.values()]);
  const target = Math.round(facts.length * options.heldOutFraction);
  const heldOut: CountryFacts[] = [];
  const train: CountryFacts[] = [];
  for (const group of order) (heldOut.length < target ? heldOut : train).push(...group);
  const byId = (a: CountryFacts, b: CountryFacts) => a.id.localeCompare(b.id);
  return { train: train.sort(byId), heldOut: heldOut.sort(byId) };
}
