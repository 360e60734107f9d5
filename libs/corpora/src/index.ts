// The corpora of the default run, all built from the facts in `countries-list`: pre-training prose, instruction
// tasks with held-out countries, and a retrieval collection. The generic toolkit they use is @tunekit/data.
export { loadCountries } from './countries';

export { REFUSAL_MARKERS, type InstructionMeta } from './instructions';
export { buildDefaultCorpus, type DefaultCorpus } from './default-corpus';
export { buildFactRetrieval, factOf, type FactRetrieval } from './retrieval';
