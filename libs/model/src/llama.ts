import * as tf from '@tensorflow/tfjs';
import { Rng, hashString } from '@tunekit/data';
import type { LlamaConfig } from './config';
import type { OnnxBuilder } from './onnx';
import { attention, embed, linear, rmsNorm, rope, ropeTables } from './ops';
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

/** The projection `name` (`….q_proj`): y = x·Wᵀ + b, plus its LoRA adapter when one is attached. */
export class Linear {
  constructor(
    private readonly model: Llama,
    readonly name: string,
  ) {}

  forward(x: tf.Tensor): tf.Tensor {
    let y = linear(x, this.model.param(`${this.name}.weight`)); // [..., out]
    const bias = this.model.params.get(`${this.name}.bias`);
    if (bias) y = tf.add(y, bias);
    const adapter = this.model.adapters.get(this.name);
    return adapter ? tf.add(y, this.adapterForward(adapter, x)) : y;
  }

  /** scale·B·A·x; dropout on the input only while training, its mask seeded by the model's seed and the name. */
  private adapterForward(adapter: Adapter, x: tf.Tensor): tf.Tensor {
    const { training, dropoutSeed } = this.model;
    const input =
      training && adapter.dropout > 0
        ? tf.dropout(x, adapter.dropout, undefined, hashString(`${dropoutSeed}:${this.name}`))
        : x;
    return tf.mul(linear(linear(input, adapter.a), adapter.b), adapter.scale); // [..., out]
  }

  onnx(g: OnnxBuilder, x: string): string {
    return g.linear(x, this.name);
  }
}

/** The RMSNorm `name` (`….input_layernorm`) over the last axis. */
export class RMSNorm {
  constructor(
    private readonly model: Llama,
    readonly name: string,
  ) {}

  forward<T extends tf.Tensor>(x: T): T {
    return rmsNorm(x, this.model.param(`${this.name}.weight`), this.model.config.rms_norm_eps) as T;
  }

  onnx(g: OnnxBuilder, x: string): string {
    return g.rmsNorm(x, `${this.name}.weight`);
  }
}

/** Grouped-query self-attention with RoPE (`model.layers.{i}.self_attn`). */
export class CausalSelfAttention {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;
  /** Qwen3: an RMSNorm on each query and key head before RoPE. */
  readonly q_norm?: RMSNorm;
  readonly k_norm?: RMSNorm;

  constructor(
    private readonly config: LlamaConfig,
    model: Llama,
    readonly name: string,
  ) {
    [this.q_proj, this.k_proj, this.v_proj, this.o_proj] = ['q', 'k', 'v', 'o'].map(
      (p) => new Linear(model, `${name}.${p}_proj`),
    );
    if (config.qk_norm) [this.q_norm, this.k_norm] = ['q', 'k'].map((p) => new RMSNorm(model, `${name}.${p}_norm`));
  }

  /**
   * x [B, T, h] (normed) continuing `past` (earlier positions' keys and values). `present` holds the keys and
   * values of every position attended to, past and new: what a cache keeps for the next call.
   */
  forward(x: tf.Tensor3D, ctx: AttentionContext, past?: LayerKV): { y: tf.Tensor3D; present: LayerKV } {
    const { num_attention_heads: H, num_key_value_heads: KV, head_dim: d } = this.config;
    const [B, T] = x.shape;
    // [B, T, n·d] → [B, n, T, d]
    const heads = (t: tf.Tensor, n: number) => tf.transpose(t.reshape([B, T, n, d]), [0, 2, 1, 3]) as tf.Tensor4D;
    let q = heads(this.q_proj.forward(x), H); // [B, H, T, d]
    let k = heads(this.k_proj.forward(x), KV); // [B, KV, T, d]
    const v = heads(this.v_proj.forward(x), KV); // [B, KV, T, d]
    if (this.q_norm && this.k_norm) {
      q = this.q_norm.forward(q);
      k = this.k_norm.forward(k);
    }
    q = rope(q, ctx.cos, ctx.sin);
    k = rope(k, ctx.cos, ctx.sin);
    const present = past ? { k: concatTime(past.k, k), v: concatTime(past.v, v) } : { k, v }; // [B, KV, P+T, d]
    const y = attention(q, present.k, present.v, ctx.bias, 1 / Math.sqrt(d)); // [B, H, T, d]
    const merged = tf.transpose(y, [0, 2, 1, 3]).reshape([B, T, H * d]); // [B, T, H·d]
    return { y: this.o_proj.forward(merged) as tf.Tensor3D, present }; // y [B, T, h]
  }

  /** The same as ONNX nodes; the graph's inputs carry the rotary tables and the attention bias. */
  onnx(g: OnnxBuilder, x: string, past?: LayerKV<string>): { y: string; present: LayerKV<string> } {
    const { num_attention_heads: H, num_key_value_heads: KV, head_dim: d } = this.config;
    let q = g.heads(this.q_proj.onnx(g, x), H); // [B, H, T, d]
    let k = g.heads(this.k_proj.onnx(g, x), KV); // [B, KV, T, d]
    const v = g.heads(this.v_proj.onnx(g, x), KV); // [B, KV, T, d]
    if (this.q_norm && this.k_norm) {
      q = this.q_norm.onnx(g, q);
      k = this.k_norm.onnx(g, k);
    }
    q = g.rope(q);
    k = g.rope(k);
    const present = past ? { k: g.concat([past.k, k], 2), v: g.concat([past.v, v], 2) } : { k, v }; // [B, KV, P+T, d]
    const y = g.attention(q, present.k, present.v); // [B, H, T, d]
    return { y: this.o_proj.onnx(g, g.mergeHeads(y, H * d)), present }; // y [B, T, h]
  }
}

/** The SwiGLU feed-forward (`model.layers.{i}.mlp`): down(silu(gate(x)) · up(x)). */
export class MLP {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(
    model: Llama,
    readonly name: string,
  ) {
    [this.gate_proj, this.up_proj, this.down_proj] = ['gate', 'up', 'down'].map(
      (p) => new Linear(model, `${name}.${p}_proj`),
    );
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    const gate = this.gate_proj.forward(x); // [B, T, I]
    const up = this.up_proj.forward(x); // [B, T, I]
    return this.down_proj.forward(tf.mul(tf.mul(gate, tf.sigmoid(gate)), up)) as tf.Tensor3D; // [B, T, h]
  }

  onnx(g: OnnxBuilder, x: string): string {
    const gate = this.gate_proj.onnx(g, x); // [B, T, I]
    const up = this.up_proj.onnx(g, x); // [B, T, I]
    return this.down_proj.onnx(g, g.node('Mul', [g.node('Mul', [gate, g.node('Sigmoid', [gate])]), up])); // [B, T, h]
  }
}

/** One pre-norm decoder layer (`model.layers.{i}`): x + attention(norm(x)), then + mlp(norm(x)). */
export class Block {
  readonly input_layernorm: RMSNorm;
  readonly self_attn: CausalSelfAttention;
  readonly post_attention_layernorm: RMSNorm;
  readonly mlp: MLP;

  constructor(
    model: Llama,
    readonly name: string,
  ) {
    this.input_layernorm = new RMSNorm(model, `${name}.input_layernorm`);
    this.self_attn = new CausalSelfAttention(model.config, model, `${name}.self_attn`);
    this.post_attention_layernorm = new RMSNorm(model, `${name}.post_attention_layernorm`);
    this.mlp = new MLP(model, `${name}.mlp`);
  }

  forward(x: tf.Tensor3D, ctx: AttentionContext, past?: LayerKV): { x: tf.Tensor3D; present: LayerKV } {
    const attended = this.self_attn.forward(this.input_layernorm.forward(x), ctx, past);
    const h = tf.add(x, attended.y) as tf.Tensor3D; // [B, T, h]
    return { x: tf.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h))), present: attended.present };
  }

  onnx(g: OnnxBuilder, x: string, past?: LayerKV<string>): { x: string; present: LayerKV<string> } {
    const attended = this.self_attn.onnx(g, this.input_layernorm.onnx(g, x), past);
    const h = g.node('Add', [x, attended.y]); // [B, T, h]
    return {
      x: g.node('Add', [h, this.mlp.onnx(g, this.post_attention_layernorm.onnx(g, h))]),
      present: attended.present,
    };
  }
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
function concatTime(past: tf.Tensor4D, now: tf.Tensor4D): tf.Tensor4D {
  return tf.concat([past, now], 2) as tf.Tensor4D;
}

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
