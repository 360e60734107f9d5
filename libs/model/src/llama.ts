import * as tf from '@tensorflow/tfjs';
import { Rng, hashString } from '@tunekit/data';
import type { LlamaConfig } from './config';
import { attention, embed, linear, rmsNorm, rope, ropeTables } from './ops';
import type { NamedTensor } from './safetensors';

/**
 * The Llama / Qwen2 / Qwen3 decoder, as Hugging Face defines it. Parameters are held by their
 * checkpoint names (`model.layers.0.self_attn.q_proj.weight`, …) with the checkpoint's shapes.
 */

/** One batch of token rows. Packed rows carry position ids that restart per example and segment ids. */
export interface ModelInputs {
  inputIds: Int32Array; // [B·T]
  batch: number;
  seq: number;
  /** Default 0‥T−1 in every row. */
  positionIds?: Int32Array; // [B·T]
  /** Attention stays within equal ids (block-diagonal for packed rows); default one segment per row. */
  segmentIds?: Int32Array; // [B·T]
}

/**
 * Keys and values of a shared prefix that stay part of the computation (gradients flow into them),
 * one row per input row: for training on many continuations of one prefix at the cost of one.
 */
export interface PrefixKV {
  layers: { k: tf.Tensor4D; v: tf.Tensor4D }[]; // each [B, KV, P, d]
  segments: Int32Array[]; // per row: segment id of each prefix position (0 = padding)
}

/** Keys and values of earlier positions, for generation. */
export interface KVCache {
  layers: { k: tf.Tensor4D; v: tf.Tensor4D }[]; // each [B, KV, Tpast, d]
  segments: Int32Array[]; // per row: segment id of each cached position
  length: number;
}

/** A low-rank adapter on one projection: W + scale·B·A. */
export interface Adapter {
  a: tf.Variable; // [r, in]
  b: tf.Variable; // [out, r]
  scale: number;
  dropout: number;
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

export class Llama {
  readonly config: LlamaConfig;
  readonly params: Map<string, tf.Variable>;
  /** LoRA adapters by projection name (`model.layers.0.self_attn.q_proj`). */
  readonly adapters = new Map<string, Adapter>();
  /** Dropout on adapter inputs is applied only while training, with masks seeded by this and the projection. */
  training = false;
  dropoutSeed = 0;

  constructor(config: LlamaConfig, params: Map<string, tf.Variable>) {
    this.config = config;
    this.params = params;
  }

  /** Fresh weights: N(0, 0.02) matrices, unit norms, zero biases; the same seed gives the same model. */
  static init(config: LlamaConfig, seed: number): Llama {
    const rng = new Rng(seed);
    const params = new Map<string, tf.Variable>();
    for (const [name, shape] of parameterShapes(config)) {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (name.endsWith('norm.weight')) data.fill(1);
      else if (!name.endsWith('.bias')) for (let i = 0; i < size; i++) data[i] = 0.02 * gaussian(rng);
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

  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** A projection with its optional bias and LoRA adapter. */
  private proj(name: string, x: tf.Tensor): tf.Tensor {
    let y = linear(x, this.p(`${name}.weight`));
    const bias = this.params.get(`${name}.bias`);
    if (bias) y = tf.add(y, bias);
    const adapter = this.adapters.get(name);
    if (adapter) {
      const input =
        this.training && adapter.dropout > 0
          ? tf.dropout(x, adapter.dropout, undefined, hashString(`${this.dropoutSeed}:${name}`))
          : x;
      y = tf.add(y, tf.mul(linear(linear(input, adapter.a), adapter.b), adapter.scale));
    }
    return y;
  }

  /**
   * Final hidden states [B, T, hidden] (after the last norm). With a cache, the inputs continue the
   * cached positions and the cache is extended in place. With `prefix`, the inputs continue a
   * differentiable prefix (give position ids that continue it); `collect` receives each layer's
   * keys and values (after RoPE), to be a later call's prefix.
   */
  hidden(
    inputs: ModelInputs,
    cache?: KVCache,
    o: { prefix?: PrefixKV; collect?: { k: tf.Tensor4D; v: tf.Tensor4D }[] } = {},
  ): tf.Tensor3D {
    const c = this.config;
    const { batch: B, seq: T } = inputs;
    const H = c.num_attention_heads,
      KV = c.num_key_value_heads,
      d = c.head_dim;
    if (cache && o.prefix) throw new Error('hidden: a cache and a prefix cannot be combined');
    const past = cache?.length ?? o.prefix?.layers[0].k.shape[2] ?? 0;
    const positions = inputs.positionIds ?? defaultPositions(B, T, past);
    const segments = inputs.segmentIds ?? new Int32Array(B * T).fill(1);
    const bias = attentionBias(B, T, past, segments, cache?.segments ?? o.prefix?.segments);
    const { cos, sin } = ropeTables(positions, B, T, d, c.rope_theta);
    const heads = (x: tf.Tensor, n: number) => tf.transpose(x.reshape([B, T, n, d]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, n, T, d]

    let x: tf.Tensor = embed(this.p('model.embed_tokens.weight') as tf.Tensor2D, inputs.inputIds, [B, T]); // [B, T, h]
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const pre = `model.layers.${i}.`;
      const h = rmsNorm(x, this.p(`${pre}input_layernorm.weight`), c.rms_norm_eps); // [B, T, h]
      let q = heads(this.proj(`${pre}self_attn.q_proj`, h), H); // [B, H, T, d]
      let k = heads(this.proj(`${pre}self_attn.k_proj`, h), KV); // [B, KV, T, d]
      let v = heads(this.proj(`${pre}self_attn.v_proj`, h), KV); // [B, KV, T, d]
      if (c.qk_norm) {
        q = rmsNorm(q, this.p(`${pre}self_attn.q_norm.weight`), c.rms_norm_eps) as tf.Tensor4D;
        k = rmsNorm(k, this.p(`${pre}self_attn.k_norm.weight`), c.rms_norm_eps) as tf.Tensor4D;
      }
      q = rope(q, cos, sin);
      k = rope(k, cos, sin);
      if (cache) {
        const layer = cache.layers[i];
        if (layer) {
          k = tf.concat([layer.k, k], 2) as tf.Tensor4D; // [B, KV, past+T, d]
          v = tf.concat([layer.v, v], 2) as tf.Tensor4D;
          layer.k.dispose();
          layer.v.dispose();
        }
        cache.layers[i] = { k: tf.keep(k), v: tf.keep(v) };
      }
      o.collect?.push({ k, v });
      if (o.prefix) {
        k = tf.concat([o.prefix.layers[i].k, k], 2) as tf.Tensor4D; // [B, KV, P+T, d]
        v = tf.concat([o.prefix.layers[i].v, v], 2) as tf.Tensor4D;
      }
      const y = attention(q, k, v, bias, 1 / Math.sqrt(d)); // [B, H, T, d]
      const merged = tf.transpose(y, [0, 2, 1, 3]).reshape([B, T, H * d]); // [B, T, H·d]
      x = tf.add(x, this.proj(`${pre}self_attn.o_proj`, merged)); // [B, T, h]
      const h2 = rmsNorm(x, this.p(`${pre}post_attention_layernorm.weight`), c.rms_norm_eps); // [B, T, h]
      const gate = this.proj(`${pre}mlp.gate_proj`, h2); // [B, T, I]
      const up = this.proj(`${pre}mlp.up_proj`, h2); // [B, T, I]
      x = tf.add(x, this.proj(`${pre}mlp.down_proj`, tf.mul(tf.mul(gate, tf.sigmoid(gate)), up))); // [B, T, h]
    }
    if (cache) {
      cache.segments = Array.from({ length: B }, (_, b) =>
        concatInt(cache.segments[b], segments.subarray(b * T, (b + 1) * T)),
      );
      cache.length = past + T;
    }
    return rmsNorm(x, this.p('model.norm.weight'), c.rms_norm_eps) as tf.Tensor3D;
  }

  /** Next-token logits [..., vocab] for hidden states [..., hidden]. */
  logits<T extends tf.Tensor>(hidden: T): T {
    const head = this.config.tie_word_embeddings ? this.p('model.embed_tokens.weight') : this.p('lm_head.weight');
    return linear(hidden, head) as T;
  }

  forward(inputs: ModelInputs, cache?: KVCache): tf.Tensor3D {
    return tf.tidy(() => this.logits(this.hidden(inputs, cache)));
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

function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** A trainable variable holding a copy of `data` (the staging tensor is released). */
export function variableOf(data: Float32Array, shape: number[]): tf.Variable {
  const t = tf.tensor(data, shape);
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}
