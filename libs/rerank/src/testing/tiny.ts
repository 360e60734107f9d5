import { trainByteLevelBpe } from '@tunekit/data';
import { parseConfig, type LlamaConfig } from '@tunekit/model';

export const COLORS = ['red', 'blue', 'green', 'yellow', 'black', 'white', 'orange', 'purple'];

/** A small BPE tokenizer with the reranker's wording and single-token "yes"/"no". */
export const tinyTokenizer = trainByteLevelBpe(
  Array.from(
    { length: 40 },
    (_, i) =>
      `yes no find the ${COLORS[i % 8]} one, a ${COLORS[(i + 3) % 8]} thing. ` +
      'Judge whether the Document meets the Query.',
  ),
  { vocabSize: 420 },
);

/**
 * A two-layer decoder (GQA, tied embeddings; with `qwen3`, q/k norms) for a tokenizer of `vocabSize` tokens: small
 * enough that tests train and serve it in seconds. Other projects' tests reach it as `@tunekit/rerank/testing`.
 */
export function tinyDecoderConfig(
  vocabSize: number,
  o: { modelType?: 'llama' | 'qwen3'; maxPositions?: number } = {},
): LlamaConfig {
  return parseConfig({
    model_type: o.modelType ?? 'qwen3',
    vocab_size: vocabSize,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    max_position_embeddings: o.maxPositions ?? 256,
  });
}

/** The Qwen3-style tiny decoder sized for `tinyTokenizer`. */
export const tinyConfig = tinyDecoderConfig(tinyTokenizer.vocabSize);
