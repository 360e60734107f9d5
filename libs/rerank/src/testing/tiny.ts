import { trainByteLevelBpe } from '@tunekit/data';
import { parseConfig } from '@tunekit/model';

export const COLORS = ['red', 'blue', 'green', 'yellow', 'black', 'white', 'orange', 'purple'];

/** A small BPE tokenizer with the reranker's wording and single-token "yes"/"no". */
export const tinyTokenizer = trainByteLevelBpe(
  Array.from(
    { length: 40 },
    (_, i) =>
      `yes no find the ${COLORS[i % 8]} one, a ${COLORS[(i + 3) % 8]} thing. Judge whether the Document meets the Query.`,
  ),
  { vocabSize: 420 },
);

/** A two-layer Qwen3-style config (GQA, q/k norms, tied embeddings) sized for that tokenizer. */
export const tinyConfig = parseConfig({
  model_type: 'qwen3',
  vocab_size: tinyTokenizer.vocabSize,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
  max_position_embeddings: 256,
});
