import * as tf from '@tensorflow/tfjs';
import { Rng } from '@tunekit/data';
import type { LlamaConfig } from './config';
import { embed, linear, ropeTables } from './ops';
import { Block, RMSNorm } from './parts';
import type { NamedTensor } from './safetensors';

/**
 * The Llama / Qwen2 / Qwen3 decoder, as Hugging Face defines it, in the parts nanoGPT's model.py has:
 * `CausalSelfAttention`, `MLP`, `Block` and the model, `Llama`. Each part is named by its checkpoint prefix
 * (`model.layers.0.self_attn`) and reads its parameters from the model's one map by their checkpoint names
 * (`model.layers.0.self_attn.q_proj.weight`, …), with the checkpoint's shapes: loading, saving, LoRA and the
 * optimiser all go by those names. Each part writes its ONNX nodes next to its forward, so the exported graph
 * is this decoder, not a second copy of it.
 */

/** One batch of token rows. Packed rows carry position ids that restart per example and segment ids. */
export interface ModelInputs {
  inputIds: Int32Array; // [B·T]
  batch: number;
  seq: number;
  /** Default P‥P+T−1 in every row, P the positions already in the past keys and values. */
  positionIds?: Int32Array; // [B·T]
  /** Attention stays within equal ids (block-diagonal for packed rows); default one segment per row. */
  segmentIds?: Int32Array; // [B·T]
}

/** One layer's keys (after RoPE) and values: tensors in tfjs, value names in an ONNX graph. */
export interface LayerKV<T = tf.Tensor4D> {
  k: T; // [B, KV, T, d]
  v: T; // [B, KV, T, d]
}

/** Keys and values of earlier positions, per layer, and each row's segment ids at those positions. */
export interface PastKV {
  layers: LayerKV[]; // each [B, KV, P, d]
  segments: Int32Array[]; // per row: segment id of each past position (0 = padding)
}

/**
 * Keys and values of a shared prefix that stay part of the computation (gradients flow into them),
 * one row per input row: for training on many continuations of one prefix at the cost of one.
 */
export type PrefixKV = PastKV;

/** Keys and values of earlier positions, for generation; `hiddenCached` extends it in place. */
export interface KVCache extends PastKV {
  length: number;
}

/** A low-rank adapter on one projection: W + scale·B·A. */
export interface Adapter {
  a: tf.Variable; // [r, in]
  b: tf.Variable; // [out, r]
  scale: number;
  dropout: number;
}

/** What every layer's attention shares within one call. */
export interface AttentionContext {
  cos: tf.Tensor4D; // [B, 1, T, d]
  sin: tf.Tensor4D; // [B, 1, T, d]
  bias: tf.Tensor4D; // [B, 1, T, P+T]: 0 where attention is allowed, a large negative number elsewhere
}

export function parameterShapes(c: LlamaConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const h = c.hidden_size,
    d = c.head_dim;
  shapes.set('model.embed_tokens.weight', [c.vocab_size, h]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}input_layernorm.weight`, [h]);
    shapes.set(`${p}self_attn.q_proj.weight`, [c.num_attention_heads * d, h]);
    shapes.set(`${p}self_attn.k_proj.weight`, [c.num_key_value_heads * d, h]);
    shapes.set(`${p}self_attn.v_proj.weight`, [c.num_key_value_heads * d, h]);
    if (c.attention_bias) {
      shapes.set(`${p}self_attn.q_proj.bias`, [c.num_attention_heads * d]);
      shapes.set(`${p}self_attn.k_proj.bias`, [c.num_key_value_heads * d]);
      shapes.set(`${p}self_attn.v_proj.bias`, [c.num_key_value_heads * d]);
    }
    if (c.qk_norm) {
      shapes.set(`${p}self_attn.q_norm.weight`, [d]);
      shapes.set(`${p}self_attn.k_norm.weight`, [d]);
    }
    shapes.set(`${p}self_attn.o_proj.weight`, [h, c.num_attention_heads * d]);
    shapes.set(`${p}post_attention_layernorm.weight`, [h]);
    shapes.set(`${p}mlp.gate_proj.weight`, [c.intermediate_size, h]);
    shapes.set(`${p}mlp.up_proj.weight`, [c.intermediate_size, h]);
    shapes.set(`${p}mlp.down_proj.weight`, [h, c.intermediate_size]);
  }
  shapes.set('model.norm.weight', [h]);
  if (!c.tie_word_embeddings) shapes.set('lm_head.weight', [c.vocab_size, h]);
  return shapes;
}

/** The decoder: token embedding, the blocks, the final norm and the LM head (tied to the embedding or not). */
export class Llama {
  readonly config: LlamaConfig;
  readonly params: Map<string, tf.Variable>;
  /** LoRA adapters by projection name (`model.layers.0.self_attn.q_proj`). */
  readonly adapters = new Map<string, Adapter>();
  /** Dropout on adapter inputs is applied only while training, with masks seeded by this and the projection. */
  training = false;
  dropoutSeed = 0;
  readonly layers: readonly Block[];
  readonly norm: RMSNorm;

  constructor(config: LlamaConfig, params: Map<string, tf.Variable>) {
    this.config = config;
    this.params = params;
    this.layers = Array.from({ length: config.num_hidden_layers }, (_, i) => new Block(this, `model.layers.${i}`));
    this.norm = new RMSNorm(this, 'model.norm');
  }

  /** Fresh weights: N(0, 0.02) matrices, unit norms, zero biases; the same seed gives the same model. */
  static init(config: LlamaConfig, seed: number): Llama {
    const rng = new Rng(seed);
    const params = new Map<string, tf.Variable>();
    for (const [name, shape] of parameterShapes(config)) {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (name.endsWith('norm.weight')) data.fill(1);
      else if (!name.endsWith('.bias')) for (let i = 0; i < size; i++) data[i] = 0.02 * rng.gaussian();
      params.set(name, variableOf(data, shape));
    }
    return new Llama(config, params);
  }

  /**
   * Wraps checkpoint tensors, checking that every expected name is present with its shape. Names in
   * `extra` (a task head such as `score.weight`) are kept too when the checkpoint has them.
   */
  static fromWeights(
    config: LlamaConfig,
    weights: Map<string, NamedTensor>,
    where = 'checkpoint',
    extra: readonly string[] = [],
  ): Llama {
    const params = new Map<string, tf.Variable>();
    const problems: string[] = [];
    for (const [name, shape] of parameterShapes(config)) {
      const t = weights.get(name);
      if (!t) problems.push(`missing ${name}`);
      else if (t.shape.join(',') !== shape.join(','))
        problems.push(`${name} has shape [${t.shape}], config says [${shape}]`);
      else params.set(name, variableOf(t.data, shape));
    }
    for (const name of extra) {
      const t = weights.get(name);
      if (t && !problems.length) params.set(name, variableOf(t.data, t.shape));
    }
    if (problems.length) {
      for (const v of params.values()) v.dispose();
      throw new Error(
        `${where}: ${problems.length} weights do not match config.json: ${problems.slice(0, 5).join('; ')}`,
      );
    }
    return new Llama(config, params);
  }

  /** The parameter with this checkpoint name (`model.norm.weight`); throws if there is none. */
  param(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /**
   * Final hidden states [B, T, hidden] (after the last norm) of inputs that continue `past` (give position
   * ids that continue it), and each layer's keys and values over past and inputs (after RoPE): a later
   * call's prefix or cache.
   */
  hiddenAndKV(inputs: ModelInputs, past?: PastKV): { hidden: tf.Tensor3D; kv: LayerKV[] } {
    const c = this.config;
    const { batch: B, seq: T } = inputs;
    const P = past?.layers[0]?.k.shape[2] ?? 0;
    const positions = inputs.positionIds ?? defaultPositions(B, T, P);
    const ctx: AttentionContext = {
      bias: attentionBias(B, T, P, segmentsOf(inputs), past?.segments),
      ...ropeTables(positions, B, T, c.head_dim, c.rope_theta),
    };
    let x = embed(this.param('model.embed_tokens.weight') as tf.Tensor2D, inputs.inputIds, [B, T]); // [B, T, h]
    const kv: LayerKV[] = [];
    this.layers.forEach((block, i) => {
      const out = block.forward(x, ctx, past?.layers[i]);
      x = out.x; // [B, T, h]
      kv.push(out.present);
    });
    return { hidden: this.norm.forward(x), kv };
  }

  /**
   * Final hidden states [B, T, hidden] (after the last norm). With `prefix`, the inputs continue a
   * differentiable prefix (give position ids that continue it).
   */
  hidden(inputs: ModelInputs, o: { prefix?: PrefixKV } = {}): tf.Tensor3D {
    return this.hiddenAndKV(inputs, o.prefix).hidden;
  }

  /** Hidden states of inputs that continue the cached positions; the cache is extended in place (kept). */
  hiddenCached(inputs: ModelInputs, cache: KVCache): tf.Tensor3D {
    const { hidden, kv } = this.hiddenAndKV(inputs, cache.layers.length ? cache : undefined);
    for (const layer of cache.layers) tf.dispose([layer.k, layer.v]);
    cache.layers = kv.map(({ k, v }) => ({ k: tf.keep(k), v: tf.keep(v) }));
    const { batch: B, seq: T } = inputs;
    const segments = segmentsOf(inputs);
    cache.segments = Array.from({ length: B }, (_, b) =>
      concatInt(cache.segments[b], segments.subarray(b * T, (b + 1) * T)),
    );
    cache.length += T;
    return hidden;
  }

  /** Next-token logits [..., vocab] for hidden states [..., hidden]. */
  logits<T extends tf.Tensor>(hidden: T): T {
    const c = this.config;
    return linear(hidden, this.param(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')) as T;
  }

  /** Next-token logits [B, T, vocab]. */
  forward(inputs: ModelInputs): tf.Tensor3D {
    return tf.tidy(() => this.logits(this.hidden(inputs)));
  }

  /** The weights as plain arrays, by checkpoint name (adapters not merged). */
  async weights(): Promise<Map<string, NamedTensor>> {
    const out = new Map<string, NamedTensor>();
    // a copy: on the cpu backend data() can hand out the live storage that updates write in place
    for (const [name, v] of this.params)
      out.set(name, { shape: v.shape, data: ((await v.data()) as Float32Array).slice() });
    return out;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const a of this.adapters.values()) {
      a.a.dispose();
      a.b.dispose();
    }
    this.adapters.clear();
  }
}

/** [B, KV, P, d] then [B, KV, T, d] → [B, KV, P+T, d]. */

function segmentsOf(inputs: ModelInputs): Int32Array {
  return inputs.segmentIds ?? new Int32Array(inputs.batch * inputs.seq).fill(1);
}

/**
 * Additive attention bias [B, 1, T, past+T]: query i (absolute position past+i) sees key j when
 * j ≤ past+i and both carry the same segment id. Every query sees at least itself, so no row is
 * all −∞ (padding attends to padding and is never trained on).
 */
function attentionBias(
  B: number,
  T: number,
  past: number,
  segments: Int32Array,
  pastSegments?: Int32Array[],
): tf.Tensor4D {
  const K = past + T;
  const bias = new Float32Array(B * T * K).fill(-1e9);
  for (let b = 0; b < B; b++) {
    const keys = new Int32Array(K);
    if (past) keys.set(pastSegments![b]);
    keys.set(segments.subarray(b * T, (b + 1) * T), past);
    for (let i = 0; i < T; i++) {
      const seg = segments[b * T + i];
      const row = (b * T + i) * K;
      for (let j = 0; j <= past + i; j++) if (keys[j] === seg) bias[row + j] = 0;
    }
  }
  return tf.tensor4d(bias, [B, 1, T, K]);
}

function defaultPositions(B: number, T: number, past: number): Int32Array {
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[b * T + t] = past + t;
  return out;
}

function concatInt(a: Int32Array | undefined, b: Int32Array): Int32Array {
  if (!a) return b.slice();
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A trainable variable holding a copy of `data` (the staging tensor is released). */
export function variableOf(data: Float32Array, shape: number[]): tf.Variable {
  const t = tf.tensor(data, shape);
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}
