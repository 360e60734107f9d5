import * as tf from '@tensorflow/tfjs';
import { hashString } from '@tunekit/data';
import type { LlamaConfig } from './config';
import type { Adapter, AttentionContext, LayerKV, Llama } from './llama';
import type { OnnxBuilder } from './onnx';
import { attention, linear, rmsNorm, rope } from './ops';

// The parts of the decoder (llama.ts): each reads its parameters from the model's one map by their checkpoint
// names, and writes its ONNX nodes next to its forward.

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

function concatTime(past: tf.Tensor4D, now: tf.Tensor4D): tf.Tensor4D {
  return tf.concat([past, now], 2) as tf.Tensor4D;
}
