import * as tf from '@tensorflow/tfjs';
import { IGNORE_INDEX } from '@tunekit/data';
import { transposeFlagsAreFree } from './native-gemm';

type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];

/** tf.customGrad with typed inputs: `f(inputs, save)` returns the value and its gradient function. */
function customOp(
  f: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: GradFunc },
): (...inputs: tf.Tensor[]) => tf.Tensor {
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    return f(args as tf.Tensor[], save);
  }) as Parameters<typeof tf.customGrad>[0]);
  return (...inputs) => op(...inputs);
}

/**
 * The model's differentiable building blocks, with their backward passes written out. Matrix
 * products go through `mm`: on the plain wasm backend a matMul with transpose flags is 10–18×
 * slower than transposing first, so it transposes explicitly; with the native GEMM the flags cost
 * nothing and the copies are skipped.
 */

/**
 * a·b with optional transposes, in the form that is fastest on the active backend. On plain wasm,
 * batched products run as a loop of 2-D ones (its batched kernel is ~6× slower than the loop).
 */
function mm(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (transposeFlagsAreFree()) return tf.matMul(a, b, transposeA, transposeB);
  const t = (x: tf.Tensor) => tf.transpose(x, [...Array(x.rank - 2).keys(), x.rank - 1, x.rank - 2]);
  if (a.rank <= 2 || tf.getBackend() !== 'wasm' || a.shape.slice(0, -2).join() !== b.shape.slice(0, -2).join()) {
    return tf.matMul(transposeA ? t(a) : a, transposeB ? t(b) : b);
  }
  const lead = a.shape.slice(0, -2);
  const flat = (x: tf.Tensor) => tf.unstack(x.reshape([-1, ...x.shape.slice(-2)]));
  const bs = flat(b);
  const products = flat(a).map((x, i) =>
    tf.matMul(transposeA ? tf.transpose(x) : x, transposeB ? tf.transpose(bs[i]) : bs[i]),
  ); // each [m, n]
  const out = tf.stack(products); // [batch, m, n]
  return out.reshape([...lead, ...out.shape.slice(-2)]);
}

/** y = x·Wᵀ for x [..., in] and W [out, in] (the checkpoint's layout). */
export function linear(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const [out, inFeatures] = w.shape as [number, number];
  const lead = x.shape.slice(0, -1);
  const op = customOp(([xIn, wIn], save) => {
    const x2 = xIn.reshape([-1, inFeatures]); // [N, in]
    save([x2, wIn]);
    const y = mm(x2, wIn, false, true); // [N, out]
    return {
      value: y.reshape([...lead, out]),
      gradFunc: (dy, saved) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = dy.reshape([-1, out]) as tf.Tensor2D; // [N, out]
        const dx = mm(dy2, ws).reshape([...lead, inFeatures]); // [N, in]
        const dw = mm(dy2, xs, true); // [out, in]
        return [dx, dw];
      },
    };
  });
  return op(x, w);
}

/** Token embedding lookup; the gradient is accumulated in JS (wasm has no UnsortedSegmentSum). */
export function embed(table: tf.Tensor2D, ids: Int32Array, shape: [number, number]): tf.Tensor3D {
  const [vocab, hidden] = table.shape;
  const op = customOp(([t], save) => {
    save([]);
    const y = tf.gather(t, tf.tensor1d(ids, 'int32')); // [B·T, hidden]
    return {
      value: y.reshape([...shape, hidden]),
      gradFunc: (dy) => {
        const g = dy.dataSync() as Float32Array; // [B·T, hidden]
        const dt = new Float32Array(vocab * hidden);
        for (let i = 0; i < ids.length; i++) {
          const row = ids[i] * hidden;
          const src = i * hidden;
          for (let j = 0; j < hidden; j++) dt[row + j] += g[src + j];
        }
        return [tf.tensor2d(dt, [vocab, hidden])];
      },
    };
  });
  return op(table) as tf.Tensor3D;
}

/** Rows `rows` of x [N, h] → [n, h]; the gradient scatters back (no UnsortedSegmentSum needed). */
export function gatherRows(x: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const [N, h] = x.shape;
  const op = customOp(([xi], save) => {
    save([]);
    return {
      value: tf.gather(xi, tf.tensor1d(rows, 'int32')), // [n, h]
      gradFunc: (dy) => [tf.scatterND(tf.tensor2d(rows, [rows.length, 1], 'int32'), dy, [N, h])], // [N, h]
    };
  });
  return op(x) as tf.Tensor2D;
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · w. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w));
}

/** cos and sin tables for rotary embedding at the given positions, as arrays laid out [B, 1, T, d]. */
export function rotaryTables(
  positions: Int32Array,
  batch: number,
  seq: number,
  headDim: number,
  theta: number,
): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(batch * seq * headDim);
  const sin = new Float32Array(batch * seq * headDim);
  for (let i = 0; i < batch * seq; i++) {
    for (let j = 0; j < half; j++) {
      const angle = positions[i] / theta ** ((2 * j) / headDim);
      const c = Math.cos(angle),
        s = Math.sin(angle);
      cos[i * headDim + j] = cos[i * headDim + j + half] = c;
      sin[i * headDim + j] = sin[i * headDim + j + half] = s;
    }
  }
  return { cos, sin };
}

/** cos and sin tables for rotary embedding at the given positions: each [B, 1, T, d]. */
export function ropeTables(
  positions: Int32Array,
  batch: number,
  seq: number,
  headDim: number,
  theta: number,
): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  const { cos, sin } = rotaryTables(positions, batch, seq, headDim, theta);
  return { cos: tf.tensor4d(cos, [batch, 1, seq, headDim]), sin: tf.tensor4d(sin, [batch, 1, seq, headDim]) };
}

/** HF's rotate_half convention: x·cos + [−x₂, x₁]·sin. */
export function rope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const half = x.shape[3] / 2;
    const [x1, x2] = tf.split(x, [half, half], 3);
    const rotated = tf.concat([tf.neg(x2), x1], 3);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
  });
}

/**
 * softmax(q·kᵀ·scale + bias)·v with grouped-query attention: q [B, H, Tq, d], k and v [B, KV, Tk, d]
 * with H = KV·g, query head h reading key/value head ⌊h/g⌋ (HF's repeat_interleave). The g query
 * heads of a group are stacked along time ([B, KV, g·Tq, d]) so keys and values are never copied;
 * bias [B, 1, Tq, Tk] is 0 where attention is allowed and a large negative number elsewhere. The
 * backward pass is written out, without transpose flags.
 */
export function attention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  bias: tf.Tensor4D,
  scale: number,
): tf.Tensor4D {
  const [B, H, Tq, d] = q.shape;
  const [, KV, Tk] = k.shape;
  const g = H / KV;
  const bias5 = bias.reshape([B, 1, 1, Tq, Tk]);
  const op = customOp(([qi, ki, vi], save) => {
    const qg = qi.reshape([B, KV, g * Tq, d]) as tf.Tensor4D; // [B, KV, g·Tq, d]
    const raw = tf.mul(mm(qg, ki, false, true), scale); // [B, KV, g·Tq, Tk]
    const scores = tf.add(raw.reshape([B, KV, g, Tq, Tk]), bias5); // [B, KV, g, Tq, Tk]
    const p = tf.softmax(scores).reshape([B, KV, g * Tq, Tk]) as tf.Tensor4D; // [B, KV, g·Tq, Tk]
    save([qg, ki, vi, p]);
    return {
      value: mm(p, vi).reshape([B, H, Tq, d]), // [B, H, Tq, d]
      gradFunc: (dy, saved) => {
        const [qs, ks, vs, ps] = saved as tf.Tensor4D[];
        const dyg = dy.reshape([B, KV, g * Tq, d]) as tf.Tensor4D; // [B, KV, g·Tq, d]
        const dv = mm(ps, dyg, true); // [B, KV, Tk, d]
        const dp = mm(dyg, vs, false, true); // [B, KV, g·Tq, Tk]
        const ds = tf.mul(ps, tf.sub(dp, tf.sum(tf.mul(dp, ps), -1, true))); // [B, KV, g·Tq, Tk]
        const dq = tf.mul(mm(ds, ks), scale).reshape([B, H, Tq, d]); // [B, H, Tq, d]
        const dk = tf.mul(mm(ds, qs, true), scale); // [B, KV, Tk, d]
        return [dq, dk, dv];
      },
    };
  });
  return op(q, k, v) as tf.Tensor4D;
}

/**
 * Mean cross-entropy over the positions whose target is not IGNORE_INDEX (-100), divided by `count` (the number of
 * trained targets in the whole optimiser step, so gradient accumulation equals one big batch).
 * logits [N, V]; targets already shifted (target i is the token after position i).
 */
export function maskedCrossEntropy(logits: tf.Tensor2D, targets: Int32Array, count: number): tf.Scalar {
  const [n, vocab] = logits.shape;
  const valid = new Float32Array(n);
  const flat = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = targets[i];
    if (t === IGNORE_INDEX) continue;
    if (t < 0 || t >= vocab) throw new Error(`target ${t} at position ${i} is outside the vocabulary (${vocab})`);
    valid[i] = 1;
    flat[i] = i * vocab + t;
  }
  const op = customOp(([z], save) => {
    const m = tf.max(z, -1, true); // [N, 1]
    const shifted = tf.sub(z, m);
    const e = tf.exp(shifted); // [N, V]
    const total = tf.sum(e, -1); // [N]
    const lse = tf.log(total); // [N]
    const picked = tf.gather(shifted.reshape([-1]), tf.tensor1d(flat, 'int32')); // [N]
    const w = tf.tensor1d(valid);
    const loss = tf.div(tf.sum(tf.mul(tf.sub(lse, picked), w)), count) as tf.Scalar;
    save([e, total, w]);
    return {
      value: loss,
      gradFunc: (dy, saved) => {
        const [es, totals, wv] = saved;
        const p = tf.div(es, totals.expandDims(1)); // softmax [N, V]
        const hot = new Float32Array(n * vocab);
        for (let i = 0; i < n; i++) if (valid[i]) hot[flat[i]] = 1;
        const g = tf.mul(tf.sub(p, tf.tensor2d(hot, [n, vocab])), tf.div(tf.mul(wv.expandDims(1), dy), count));
        return [g];
      },
    };
  });
  return op(logits) as tf.Scalar;
}
