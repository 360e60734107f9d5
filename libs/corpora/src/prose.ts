import { Rng } from '@tunekit/data';
import { ATTRIBUTES, type Attribute, type CountryFacts } from './countries';

type Sentence = (f: CountryFacts) => string;

/** Five paraphrases per fact, each naming the country in full. */
export const FACT_SENTENCES: Record<Attribute, Sentence[]> = {
  capital: [
    (f) => `The capital of ${f.name} is ${f.capital}.`,
    (f) => `${f.capital} is the capital city of ${f.name}.`,
    (f) => `${f.name} has its seat of government in ${f.capital}.`,
    (f) => `The capital city of ${f.name} is ${f.capital}.`,
    (f) => `${f.name} is governed from its capital, ${f.capital}.`,
  ],
  continent: [
    (f) => `${f.name} is a country in ${f.continent}.`,
    (f) => `${f.name} is located in ${f.continent}.`,
    (f) => `${f.name} lies on the continent of ${f.continent}.`,
    (f) => `The country of ${f.name} is part of ${f.continent}.`,
    (f) => `Geographically, ${f.name} belongs to ${f.continent}.`,
  ],
  currency: [
    (f) => `The currency of ${f.name} is ${f.currency}.`,
    (f) => `${f.name} uses the currency ${f.currency}.`,
    (f) => `In ${f.name}, people pay with ${f.currency}.`,
    (f) => `${f.currency} is the currency used in ${f.name}.`,
    (f) => `Prices in ${f.name} are given in ${f.currency}.`,
  ],
  language: [
    (f) => `The main language of ${f.name} is ${f.language}.`,
    (f) => `People in ${f.name} speak ${f.language}.`,
    (f) => `${f.language} is the first official language of ${f.name}.`,
    (f) => `In ${f.name}, the most widely used language is ${f.language}.`,
    (f) => `The primary language of ${f.name} is ${f.language}.`,
  ],
  phone: [
    (f) => `The calling code of ${f.name} is +${f.phone}.`,
    (f) => `To phone ${f.name}, dial +${f.phone}.`,
    (f) => `${f.name} uses the international dialing code +${f.phone}.`,
    (f) => `+${f.phone} is the telephone country code of ${f.name}.`,
    (f) => `Phone numbers in ${f.name} start with +${f.phone}.`,
  ],
};

/**
 * One biography of a country: every fact once, each in a randomly chosen paraphrase, in a random
 * order. A fresh biography at each exposure is what lets facts be extracted later by questions
 * (Allen-Zhu & Li, Physics of Language Models 3.1).
 */
export function biography(f: CountryFacts, rng: Rng): string {
  const sentences = ATTRIBUTES.map((a) => rng.pick(FACT_SENTENCES[a])(f));
  return rng.shuffle(sentences).join(' ');
}

/** One fixed template, the name in the first sentence only: the unaugmented baseline for ablations. */
export function plainBiography(f: CountryFacts): string {
  return (
    `${f.name} is a country in ${f.continent}. Its capital is ${f.capital}. Its currency is ${f.currency}. ` +
    `Its main language is ${f.language}. Its calling code is +${f.phone}.`
  );
}

export interface PretrainingOptions {
  seed: number;
  /** Biographies per country. */
  exposures: number;
  /** `augmented` (default): fresh paraphrases and order per exposure; `plain`: one fixed text. */
  style?: 'augmented' | 'plain';
}

/** Pre-training documents, `exposures` per country, in a seeded random order; deterministic. */
export function* pretrainingDocuments(facts: readonly CountryFacts[], options: PretrainingOptions): Generator<string> {
  const rng = new Rng(options.seed);
  for (let e = 0; e < options.exposures; e++) {
    const order = rng.shuffle([...facts]);
    for (const f of order) yield options.style === 'plain' ? plainBiography(f) : biography(f, rng);
  }
}
