export type { Conversation, Example, Message } from './conversation';
export { DataError } from './errors';
export { Rng, hashString } from './rng';

export { FORMATS } from './formats/schemas';
export { readDataset, type ReadReport } from './formats/read';

export type { ChatTemplate } from './template/template';

export { TextTokenizer } from './tokenizer/tokenizer';
export { saveTokenizer, trainByteLevelBpe } from './tokenizer/train-bpe';

export { IGNORE_INDEX, MASK_STRATEGIES, type MaskStrategy, type TokenizedExample } from './mask';
export { explainLabels } from './explain';
export { prepareExamples, type PrepareReport } from './prepare';
export { packExamples, padExamples, type PackedRow, type PackingReport } from './pack';
export { mixSources, type MixReport, type MixSource } from './mix';
export { datasetStatistics, type DatasetStatistics } from './stats';

export { mentions, wholeWords } from './text';

export {
  readBeir,
  writeBeir,
  type BeirCollection,
  type BeirDocument,
  type BeirQuery,
  type Qrels,
} from './retrieval/beir';
export type { InstructionPair } from './retrieval/instruction-pairs';
export { writeTrecRun, type Run } from './retrieval/trec';
