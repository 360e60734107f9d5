import { z } from 'zod';

/**
 * The decoder's configuration: Hugging Face `config.json` field names, so a directory we save is an
 * HF model directory and an HF Llama / Qwen2 / Qwen3 directory loads here.
 */
export interface LlamaConfig {
  /** "llama" | "qwen2" | "qwen3": selects the small architectural differences below. */
  model_type: 'llama' | 'qwen2' | 'qwen3';
  /** Tokens in the embedding table. */
  vocab_size: number;
  /** Width of the residual stream. */
  hidden_size: number;
  /** Width of the SwiGLU MLP. */
  intermediate_size: number;
  /** Decoder blocks. */
  num_hidden_layers: number;
  /** Query heads. */
  num_attention_heads: number;
  /** Key/value heads (grouped-query attention when fewer than query heads). */
  num_key_value_heads: number;
  /** Per-head width; HF default hidden_size / num_attention_heads (Qwen3 sets it explicitly). */
  head_dim: number;
  /** Epsilon inside RMSNorm. */
  rms_norm_eps: number;
  /** Base of the rotary position embedding frequencies. */
  rope_theta: number;
  /** Longest sequence the model is meant for. */
  max_position_embeddings: number;
  /** The LM head reuses the embedding matrix (no `lm_head.weight`). */
  tie_word_embeddings: boolean;
  /** Biases on q/k/v projections (Qwen2 sets it). */
  attention_bias: boolean;
  /** RMSNorm on each query and key head before RoPE (Qwen3). Not an HF field: set from model_type, never written. */
  qk_norm: boolean;
  /** Token that starts a sequence, if the tokenizer has one. */
  bos_token_id?: number | null;
  /** Token (or tokens) that end a sequence. */
  eos_token_id?: number | number[] | null;
  /** Token that pads rows. */
  pad_token_id?: number | null;
}

const hfConfig = z
  .object({
    model_type: z.enum(['llama', 'qwen2', 'qwen3'], { error: 'supported model_type: llama, qwen2, qwen3' }),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().optional(),
    head_dim: z.number().int().positive().optional().nullable(),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    max_position_embeddings: z.number().int().positive().default(2048),
    tie_word_embeddings: z.boolean().default(false),
    attention_bias: z.boolean().optional(),
    hidden_act: z.literal('silu', { error: 'only hidden_act "silu" (SwiGLU) is supported' }).default('silu'),
    rope_scaling: z
      .null({ error: 'rope_scaling is not supported yet; remove it or use a model without it' })
      .optional(),
    bos_token_id: z.number().int().nullable().optional(),
    eos_token_id: z
      .union([z.number().int(), z.array(z.number().int())])
      .nullable()
      .optional(),
    pad_token_id: z.number().int().nullable().optional(),
  })
  .loose();

/** Validates an HF `config.json` object and fills in the family's defaults. */
export function parseConfig(json: unknown, where = 'config.json'): LlamaConfig {
  const result = hfConfig.safeParse(json);
  if (!result.success) {
    throw new Error(
      `${where}: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  const c = result.data;
  const kv = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % kv !== 0)
    throw new Error(
      `${where}: num_attention_heads (${c.num_attention_heads}) must be a multiple of num_key_value_heads (${kv})`,
    );
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0)
    throw new Error(`${where}: head_dim ${headDim} must be an even integer`);
  return {
    model_type: c.model_type,
    vocab_size: c.vocab_size,
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: kv,
    head_dim: headDim,
    rms_norm_eps: c.rms_norm_eps,
    rope_theta: c.rope_theta,
    max_position_embeddings: c.max_position_embeddings,
    tie_word_embeddings: c.tie_word_embeddings,
    attention_bias: c.attention_bias ?? c.model_type === 'qwen2',
    qk_norm: c.model_type === 'qwen3',
    bos_token_id: c.bos_token_id,
    eos_token_id: c.eos_token_id,
    pad_token_id: c.pad_token_id,
  };
}

/** The `config.json` we write: HF fields, with `architectures` for transformers. */
export function toHfConfig(c: LlamaConfig): Record<string, unknown> {
  const arch = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' }[c.model_type];
  const { qk_norm: _qkNorm, ...fields } = c;
  return { architectures: [arch], ...fields, hidden_act: 'silu', torch_dtype: 'float32' };
}
