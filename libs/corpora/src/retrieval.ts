import { Rng, hashString, type BeirDocument, type BeirQuery, type InstructionPair, type Qrels } from '@tunekit/data';
import { ATTRIBUTES, loadCountries, splitByEntity, type Attribute, type CountryFacts } from './countries';

/**
 * A retrieval collection built from the same countries-list facts as the default corpora: short
 * passages about one fact of one country (worded so that many share few words with the questions
 * that they answer), profiles that combine several facts, natural questions over them, and
 * FollowIR-style instruction pairs. Training queries are about training countries only; test
 * queries are about held-out countries (or held-out values), as in the instruction corpus.
 */

export interface RetrievalSplit {
  /** Natural questions; the reranker's default instruction applies. */
  queries: Map<string, BeirQuery>;
  qrels: Qrels;
  pairs: InstructionPair[];
}

export interface FactRetrieval {
  /** Every document's metadata says which country it is about and what it states: read it with `factOf`. */
  corpus: Map<string, BeirDocument>;
  train: RetrievalSplit;
  test: RetrievalSplit;
  /** Country ids of each split (`FactMetadata.entity`). */
  entities: { train: string[]; test: string[] };
}

/** What a document states: one fact of its country (`PE-currency`), or a profile of three (`PE-profile-1`). */
export type FactFacet = Attribute | 'profile';
const FACETS: readonly FactFacet[] = [...ATTRIBUTES, 'profile'];

/** The metadata of every document `buildFactRetrieval` builds (a type, not an interface, to fit BeirDocument's). */
export type FactMetadata = {
  /** The country's id (ISO 3166-1 alpha-2, as in `CountryFacts.id`). */
  entity: string;
  facet: FactFacet;
};

/**
 * The country and facet of a document built by `buildFactRetrieval`, also after a round trip through BEIR files;
 * undefined for any other document. Ask this instead of parsing the id, whose layout is no contract.
 */
export function factOf(doc: BeirDocument): FactMetadata | undefined {
  const m = doc.metadata;
  if (typeof m?.entity !== 'string' || !FACETS.includes(m.facet as FactFacet)) return undefined;
  return { entity: m.entity, facet: m.facet as FactFacet };
}

type Passage = (f: CountryFacts) => string;

/** Passages per fact: half of them avoid the words a question about the fact would use. */
const PASSAGES: Record<Attribute, Passage[]> = {
  capital: [
    (f) => `The capital of ${f.name} is ${f.capital}.`,
    (f) => `${f.name} is governed from ${f.capital}, where its parliament and ministries sit.`,
    (f) => `Most visitors to ${f.name} arrive first in ${f.capital}, the seat of its government.`,
    (f) => `${f.capital} hosts the government offices of ${f.name}.`,
  ],
  continent: [
    (f) => `${f.name} is a country in ${f.continent}.`,
    (f) => `On a world map, ${f.name} is found in ${f.continent}.`,
    (f) => `${f.name} counts among the nations of ${f.continent}.`,
    (f) => `Travellers reach ${f.name} on a journey through ${f.continent}.`,
  ],
  currency: [
    (f) => `The currency of ${f.name} is ${f.currency}.`,
    (f) => `Shops in ${f.name} price their goods in ${f.currency}.`,
    (f) => `Wages and rents in ${f.name} are paid in ${f.currency}.`,
    (f) => `Money in ${f.name}: banks exchange foreign cash for ${f.currency}.`,
  ],
  language: [
    (f) => `The main language of ${f.name} is ${f.language}.`,
    (f) => `Most people in ${f.name} speak ${f.language}.`,
    (f) => `Schools in ${f.name} teach mainly in ${f.language}.`,
    (f) => `${f.language} is what you hear on the streets of ${f.name}.`,
  ],
  phone: [
    (f) => `The calling code of ${f.name} is +${f.phone}.`,
    (f) => `Numbers in ${f.name} are dialled from abroad with +${f.phone}.`,
    (f) => `To reach someone in ${f.name}, put +${f.phone} before the number.`,
    (f) => `The prefix +${f.phone} connects international calls to ${f.name}.`,
  ],
};

const QUESTIONS: Record<Attribute, Passage[]> = {
  capital: [
    (f) => `What is the capital of ${f.name}?`,
    (f) => `Which city is the capital of ${f.name}?`,
    (f) => `${f.name} capital city`,
    (f) => `Where is the government of ${f.name} based?`,
  ],
  continent: [
    (f) => `On which continent is ${f.name}?`,
    (f) => `Where in the world is ${f.name}?`,
    (f) => `${f.name} continent`,
    (f) => `Which part of the world is ${f.name} in?`,
  ],
  currency: [
    (f) => `What currency does ${f.name} use?`,
    (f) => `Which money do people pay with in ${f.name}?`,
    (f) => `${f.name} currency`,
    (f) => `What do I need to pay for things in ${f.name}?`,
  ],
  language: [
    (f) => `What language is spoken in ${f.name}?`,
    (f) => `Which language do people in ${f.name} speak?`,
    (f) => `${f.name} language`,
    (f) => `What language will I hear in ${f.name}?`,
  ],
  phone: [
    (f) => `What is the calling code of ${f.name}?`,
    (f) => `Which dialing code do I use to phone ${f.name}?`,
    (f) => `${f.name} phone code`,
    (f) => `How do I call a number in ${f.name} from abroad?`,
  ],
};

/** Questions that name the country by its capital: answering needs the fact that links them. */
const BRIDGES: Record<Exclude<Attribute, 'capital'>, (capital: string) => string> = {
  continent: (c) => `On which continent is the country whose capital is ${c}?`,
  currency: (c) => `What currency is used in the country whose capital is ${c}?`,
  language: (c) => `What language is spoken in the country governed from ${c}?`,
  phone: (c) => `What is the calling code of the country whose capital is ${c}?`,
};

/** Questions that ask for every country with a value. */
const BY_VALUE: Record<Exclude<Attribute, 'capital' | 'phone'>, (v: string) => string> = {
  continent: (v) => `Which countries are in ${v}?`,
  currency: (v) => `Which countries use ${v}?`,
  language: (v) => `In which countries is ${v} spoken?`,
};

const LABELS: Record<Attribute, string> = {
  capital: 'capital',
  continent: 'continent',
  currency: 'currency',
  language: 'language',
  phone: 'calling code',
};
const ABOUT = [
  (f: CountryFacts) => `Tell me about ${f.name}.`,
  (f: CountryFacts) => `What do you know about ${f.name}?`,
  (f: CountryFacts) => `${f.name}`,
];

export interface FactRetrievalOptions {
  seed?: number;
  heldOutFraction?: number;
  /** Questions per (training country, fact); test countries get one. */
  trainPhrasings?: number;
}

export function buildFactRetrieval(options: FactRetrievalOptions = {}): FactRetrieval {
  const seed = options.seed ?? 1234;
  const facts = loadCountries();
  const { train, heldOut } = splitByEntity(facts, { seed, heldOutFraction: options.heldOutFraction ?? 0.5 });
  const rng = new Rng(seed).fork('retrieval');

  // Corpus: one passage per fact, and two profiles of three facts per country; each document's metadata names its
  // country and facet, so that code using the collection never has to parse ids.
  const corpus = new Map<string, BeirDocument>();
  const factsIn = new Map<string, Set<Attribute>>(); // document → the facts it states
  for (const f of facts) {
    for (const a of ATTRIBUTES) {
      const metadata: FactMetadata = { entity: f.id, facet: a };
      corpus.set(`${f.id}-${a}`, { id: `${f.id}-${a}`, title: '', text: rng.pick(PASSAGES[a])(f), metadata });
      factsIn.set(`${f.id}-${a}`, new Set([a]));
    }
    for (const k of [1, 2]) {
      const chosen = rng.shuffle([...ATTRIBUTES]).slice(0, 3);
      const id = `${f.id}-profile-${k}`;
      const metadata: FactMetadata = { entity: f.id, facet: 'profile' };
      corpus.set(id, { id, title: f.name, text: chosen.map((a) => rng.pick(PASSAGES[a])(f)).join(' '), metadata });
      factsIn.set(id, new Set(chosen));
    }
  }
  const docsOf = (f: CountryFacts) => [
    ...ATTRIBUTES.map((a) => `${f.id}-${a}`),
    `${f.id}-profile-1`,
    `${f.id}-profile-2`,
  ];
  /** Documents stating fact `a` of `f`: its passage (grade 2) and the profiles that include it (grade 1). */
  const judged = (f: CountryFacts, a: Attribute, into = new Map<string, number>()) => {
    into.set(`${f.id}-${a}`, 2);
    for (const k of [1, 2])
      if (factsIn.get(`${f.id}-profile-${k}`)!.has(a))
        into.set(`${f.id}-profile-${k}`, Math.max(1, into.get(`${f.id}-profile-${k}`) ?? 0));
    return into;
  };

  const split = (entities: CountryFacts[], name: 'train' | 'test'): RetrievalSplit => {
    const queries = new Map<string, BeirQuery>();
    const qrels: Qrels = new Map();
    const add = (text: string, relevant: Map<string, number>, kind: string) => {
      const id = `${name}-${queries.size}`;
      queries.set(id, { id, text, metadata: { kind } });
      qrels.set(id, relevant);
    };
    const phrasings = name === 'train' ? (options.trainPhrasings ?? 2) : 1;
    for (const f of entities) {
      for (const a of ATTRIBUTES)
        for (const q of rng.shuffle([...QUESTIONS[a]]).slice(0, phrasings)) add(q(f), judged(f, a), 'fact');
      const a = rng.pick(['continent', 'currency', 'language', 'phone'] as const);
      add(BRIDGES[a](f.capital), judged(f, a), 'bridge');
    }
    // Questions by value: values are split by a hash, so test values are never asked about in training.
    for (const a of ['continent', 'currency', 'language'] as const) {
      const values = [...new Set(facts.map((f) => f[a]))].sort();
      for (const v of values) {
        if ((hashString(`${seed}:${a}:${v}`) % 2 === 0) !== (name === 'train')) continue;
        const relevant = new Map<string, number>();
        for (const f of facts) if (f[a] === v) judged(f, a, relevant);
        if (relevant.size >= 2) add(BY_VALUE[a](v), relevant, 'value');
      }
    }
    return { queries, qrels, pairs: instructionPairs(entities, name) };
  };

  /**
   * Instruction pairs. Aspect pairs: "Tell me about X" where any document about X is relevant, then
   * only documents that state one fact. Filter pairs: every country with a currency or language,
   * then only those on one continent (which the passages do not say: the model must know it).
   */
  const instructionPairs = (entities: CountryFacts[], name: 'train' | 'test'): InstructionPair[] => {
    const pairs: InstructionPair[] = [];
    for (const f of entities) {
      const a = rng.pick(ATTRIBUTES);
      pairs.push({
        id: `${name}-pair-${pairs.length}`,
        query: rng.pick(ABOUT)(f),
        original: {
          instruction: `Any document about ${f.name} is relevant.`,
          qrels: new Map(docsOf(f).map((d) => [d, 1])),
        },
        altered: {
          instruction: `Only documents that state the ${LABELS[a]} of ${f.name} are relevant.`,
          qrels: judged(f, a),
        },
      });
    }
    for (const a of ['currency', 'language'] as const) {
      const values = [...new Set(facts.map((f) => f[a]))].sort();
      for (const v of values) {
        if ((hashString(`${seed}:${a}:${v}`) % 2 === 0) !== (name === 'train')) continue;
        const sharing = facts.filter((f) => f[a] === v);
        const continents = [...new Set(sharing.map((f) => f.continent))].sort();
        if (continents.length < 2) continue;
        const where = a === 'currency' ? `${v} is the currency` : `${v} is spoken`;
        const original = new Map<string, number>();
        for (const f of sharing) original.set(`${f.id}-${a}`, 1);
        for (const continent of continents) {
          const altered = new Map<string, number>();
          for (const f of sharing) if (f.continent === continent) altered.set(`${f.id}-${a}`, 1);
          pairs.push({
            id: `${name}-pair-${pairs.length}`,
            query: BY_VALUE[a](v),
            original: {
              instruction: `A document is relevant if it names a country where ${where}.`,
              qrels: original,
            },
            altered: {
              instruction: `A document is relevant only if it names a country in ${continent} where ${where}.`,
              qrels: altered,
            },
          });
        }
      }
    }
    return pairs;
  };

  return {
    corpus,
    train: split(train, 'train'),
    test: split(heldOut, 'test'),
    entities: { train: train.map((f) => f.id), test: heldOut.map((f) => f.id) },
  };
}
