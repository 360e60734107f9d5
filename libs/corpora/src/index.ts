// The corpora of the default run, all built from the facts in `countries-list`: pre-training prose, instruction
// tasks with held-out countries, and a retrieval collection. The generic toolkit they use is @tunekit/data.
export { ATTRIBUTES, loadCountries, splitByEntity, type Attribute, type CountryFacts } from './countries';
export { FACT_SENTENCES, biography, plainBiography, pretrainingDocuments, type PretrainingOptions } from './prose';
export { REFUSAL_MARKERS, VALUE, harmfulRequests, type InstructionMeta, type TaskType } from './instructions';
export { buildDefaultCorpus, type DefaultCorpus, type DefaultCorpusOptions } from './default-corpus';
export {
  buildFactRetrieval,
  factOf,
  type FactFacet,
  type FactMetadata,
  type FactRetrieval,
  type FactRetrievalOptions,
  type RetrievalSplit,
} from './retrieval';
