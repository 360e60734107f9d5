import { Rng, type Conversation } from '@tunekit/data';
import { loadCountries, splitByEntity, type CountryFacts } from './countries';
import { entityTasks, harmfulRequests, pairTasks, refusalTasks, type InstructionMeta } from './instructions';
import { pretrainingDocuments } from './prose';

export interface DefaultCorpusOptions {
  seed?: number;
  /** Share of countries whose instruction pairs are held out (their facts stay in pre-training). */
  heldOutFraction?: number;
  /** Comparison pairs per country. */
  pairsPerEntity?: number;
}

export interface DefaultCorpus {
  facts: CountryFacts[];
  trainEntities: CountryFacts[];
  heldOutEntities: CountryFacts[];
  /** Instruction pairs about training entities only, plus generic refusals. */
  train: Conversation[];
  /** Instruction pairs about held-out entities, plus unseen harmful requests: for evaluation. */
  heldOut: Conversation[];
  /** Pre-training prose over every country (training and held-out). */
  pretraining: (options: { exposures: number; seed?: number; style?: 'augmented' | 'plain' }) => Generator<string>;
}

/** The default data, built from `countries-list` facts; the same seed gives the same corpus. */
export function buildDefaultCorpus(options: DefaultCorpusOptions = {}): DefaultCorpus {
  const seed = options.seed ?? 1234;
  const facts = loadCountries();
  const { train: trainEntities, heldOut: heldOutEntities } = splitByEntity(facts, {
    seed,
    heldOutFraction: options.heldOutFraction ?? 0.5,
  });
  const rng = new Rng(seed).fork('instructions');
  const build = (entities: CountryFacts[], split: InstructionMeta['split']) => {
    const out: Conversation[] = [];
    for (const f of entities) out.push(...entityTasks(f, rng, split));
    for (let k = 0; k < (options.pairsPerEntity ?? 2); k++) {
      const partners = rng.shuffle([...entities]);
      entities.forEach((f, i) => partners[i].id !== f.id && out.push(...pairTasks(f, partners[i], rng, split)));
    }
    return out;
  };
  const harmful = harmfulRequests(seed);
  const train = [...build(trainEntities, 'train'), ...refusalTasks(harmful.train, rng, 'train')];
  const heldOut = [...build(heldOutEntities, 'held_out'), ...refusalTasks(harmful.heldOut, rng, 'held_out')];
  const label = (list: Conversation[], name: string) => list.forEach((c, i) => (c.source = `default:${name}:${i}`));
  label(train, 'train');
  label(heldOut, 'held_out');
  return {
    facts,
    trainEntities,
    heldOutEntities,
    train: new Rng(seed).fork('order').shuffle(train),
    heldOut,
    pretraining: ({ exposures, seed: docSeed, style }) =>
      pretrainingDocuments(facts, { seed: docSeed ?? seed, exposures, style }),
  };
}
