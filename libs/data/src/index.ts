export type { Conversation, Example, Message, Role, TextDocument } from './conversation';
export { DataError, formatIssue, type RowIssue, type SkipReason } from './errors';
export { Rng, hashString } from './rng';

export { FORMATS, type FormatName } from './formats/schemas';
export { readDataset, streamDataset, type ReadOptions, type ReadReport } from './formats/read';

export type { ChatTemplate, MessageSpan, RenderedConversation } from './template/template';
export { CHATML_JINJA, ChatMLTemplate, IM_END, IM_START } from './template/chatml';
export { JinjaChatTemplate, type JinjaTemplateOptions } from './template/jinja';

export { TextTokenizer, type Encoding, type TokenizerConfig, type TokenizerJson } from './tokenizer/tokenizer';
export { DEFAULT_SPECIAL_TOKENS, saveTokenizer, trainByteLevelBpe, type TrainBpeOptions } from './tokenizer/train-bpe';

export {
  IGNORE_INDEX,
  MASK_STRATEGIES,
  tokenizeConversation,
  tokenizeDocument,
  tokenizeExample,
  type MaskStrategy,
  type TokenizeOptions,
  type TokenizedExample,
  type TruncationPolicy,
} from './mask';
export { explainLabels, labelTable } from './explain';
export { prepareExamples, type PrepareOptions, type PrepareReport, type SkippedExample } from './prepare';
export { packExamples, padBatch, padExamples, type PackedRow, type PackingReport, type PaddedBatch } from './pack';
export { mixSources, type MixReport, type MixSource } from './mix';
export { datasetStatistics, histogram, type DatasetStatistics, type Histogram } from './stats';

export { mentions, wholeWords } from './text';

export {
  readBeir,
  readQrels,
  writeBeir,
  type BeirCollection,
  type BeirDocument,
  type BeirQuery,
  type Qrels,
} from './retrieval/beir';
export type { InstructionPair } from './retrieval/instruction-pairs';
export { readTrecRun, writeTrecRun, type Run } from './retrieval/trec';
