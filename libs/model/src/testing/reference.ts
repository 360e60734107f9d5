import type { LlamaConfig } from '../config';

/**
 * A deliberately plain float64 implementation of the decoder, written with loops straight from the
 * Hugging Face modelling code (no tensors, no shared helpers with the real model), to check the
 * tfjs model on the architecture variants the PyTorch peer does not cover (Qwen2 biases, Qwen3 q/k
 * norms, explicit head_dim).
 */
export function referenceLogits(c: LlamaConfig, w: Map<string, Float32Array>, ids: number[]): number[][] {
  const h = c.hidden_size,
    d = c.head_dim,
    H = c.num_attention_heads,
    KV = c.num_key_value_heads;
  const get = (name: string) => {
    const t = w.get(name);
    if (!t) throw new Error(`reference: missing ${name}`);
    return t;
  };
  const matvec = (W: Float32Array, x: number[], out: number, bias?: Float32Array) =>
    Array.from({ length: out }, (_, o) => {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < x.length; i++) s += W[o * x.length + i] * x[i];
      return s;
    });
  const rms = (x: number[], g: Float32Array) => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    const r = 1 / Math.sqrt(ms + c.rms_norm_eps);
    return x.map((v, i) => v * r * g[i]);
  };
  const rope = (x: number[], pos: number) => {
    const half = d / 2;
    return x.map((v, i) => {
      const j = i % half;
      const angle = pos / c.rope_theta ** ((2 * j) / d);
      const rotated = i < half ? -x[i + half] : x[i - half];
      return v * Math.cos(angle) + rotated * Math.sin(angle);
    });
  };
  const emb = get('model.embed_tokens.weight');
  let xs = ids.map((id) => Array.from(emb.subarray(id * h, (id + 1) * h)));
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const opt = (n: string) => w.get(p + n);
    const normed = xs.map((x) => rms(x, get(p + 'input_layernorm.weight')));
    const heads = (proj: string, n: number, norm?: string) =>
      normed.map((x, t) => {
        const flat = matvec(get(`${p}self_attn.${proj}.weight`), x, n * d, opt(`self_attn.${proj}.bias`));
        return Array.from({ length: n }, (_, k) => {
          let v = flat.slice(k * d, (k + 1) * d);
          if (norm && c.qk_norm) v = rms(v, get(`${p}self_attn.${norm}.weight`));
          return proj === 'v_proj' ? v : rope(v, t);
        });
      });
    const q = heads('q_proj', H, 'q_norm'),
      k = heads('k_proj', KV, 'k_norm'),
      v = heads('v_proj', KV);
    const attn = xs.map((_, t) => {
      const out: number[] = [];
      for (let hh = 0; hh < H; hh++) {
        const kv = Math.floor(hh / (H / KV));
        const scores = Array.from(
          { length: t + 1 },
          (_, s) => q[t][hh].reduce((a, qv, i) => a + qv * k[s][kv][i], 0) / Math.sqrt(d),
        );
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const z = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < d; i++) out.push(e.reduce((a, ev, s) => a + (ev / z) * v[s][kv][i], 0));
      }
      return out;
    });
    xs = xs.map((x, t) => {
      const o = matvec(get(p + 'self_attn.o_proj.weight'), attn[t], h);
      return x.map((xv, i) => xv + o[i]);
    });
    xs = xs.map((x) => {
      const n = rms(x, get(p + 'post_attention_layernorm.weight'));
      const g = matvec(get(p + 'mlp.gate_proj.weight'), n, c.intermediate_size);
      const u = matvec(get(p + 'mlp.up_proj.weight'), n, c.intermediate_size);
      const m = matvec(
        get(p + 'mlp.down_proj.weight'),
        g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]),
        h,
      );
      return x.map((xv, i) => xv + m[i]);
    });
  }
  const head = c.tie_word_embeddings ? emb : get('lm_head.weight');
  return xs.map((x) => matvec(head, rms(x, get('model.norm.weight')), c.vocab_size));
}
