import * as tf from '@tensorflow/tfjs';
import { storageOf } from './heap';

export interface OptimizerConfig {
  /** Peak learning rate. */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay, applied to matrices only (never to norms or biases). */
  weightDecay: number;
  /** Linear warm-up steps from 0 to `lr`. */
  warmupSteps: number;
  /** Cosine decay ends at `lr · minLrRatio` after `totalSteps`. */
  totalSteps: number;
  minLrRatio: number;
  /** Global-norm gradient clipping threshold (0 = off). */
  clipNorm: number;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  warmupSteps: 0,
  totalSteps: 1,
  minLrRatio: 0.1,
  clipNorm: 1,
};

/** Warm-up then cosine: the learning rate for 0-based `step`. */
export function learningRate(c: OptimizerConfig, step: number): number {
  if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  const span = Math.max(1, c.totalSteps - c.warmupSteps);
  const progress = Math.min(1, (step - c.warmupSteps) / span);
  const min = c.lr * c.minLrRatio;
  return min + 0.5 * (c.lr - min) * (1 + Math.cos(Math.PI * progress));
}

/** AdamW state: first and second moments per parameter, and the number of updates taken. */
export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/**
 * AdamW with decoupled weight decay, fused into one pass over each parameter in JavaScript (no
 * intermediate tensors). Parameters with one axis (norms, biases) are not decayed.
 */
export class AdamW {
  readonly config: OptimizerConfig;
  state: AdamWState = { step: 0, m: new Map(), v: new Map() };

  constructor(config: OptimizerConfig) {
    this.config = config;
  }

  /**
   * Applies one update at learning rate `lr`, with gradients multiplied by `gradScale` (the clipping
   * factor) on the fly. Parameters are updated in place in the backend's storage when it allows.
   */
  apply(params: Map<string, tf.Variable>, grads: Map<string, Float32Array>, lr: number, gradScale = 1): void {
    const { beta1, beta2, eps, weightDecay } = this.config;
    const t = ++this.state.step;
    const c1 = 1 - beta1 ** t;
    const c2 = 1 - beta2 ** t;
    for (const [name, variable] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const inPlace = storageOf(variable);
      const p = inPlace ?? (variable.dataSync().slice() as Float32Array);
      let m = this.state.m.get(name);
      let v = this.state.v.get(name);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.state.m.set(name, m);
        this.state.v.set(name, v);
      }
      const decay = variable.shape.length >= 2 ? 1 - lr * weightDecay : 1;
      const stepSize = lr / c1;
      const rc2 = 1 / c2;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] * gradScale;
        const mi = (m[i] = beta1 * m[i] + (1 - beta1) * gi);
        const vi = (v[i] = beta2 * v[i] + (1 - beta2) * gi * gi);
        p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi * rc2) + eps);
      }
      if (!inPlace) {
        const next = tf.tensor(p, variable.shape);
        variable.assign(next);
        next.dispose();
      }
    }
  }
}

/** Global L2 norm of all gradients. */
export function globalNorm(grads: Map<string, Float32Array>): number {
  let sum = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  return Math.sqrt(sum);
}

/** The factor that brings the global norm down to `maxNorm` (1 when it is already within, or clipping is off). */
export function clipScale(norm: number, maxNorm: number): number {
  return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}

/** Scales gradients in place so their global norm is at most `maxNorm`; returns the norm before clipping. */
export function clipGradients(grads: Map<string, Float32Array>, maxNorm: number): number {
  const norm = globalNorm(grads);
  const scale = clipScale(norm, maxNorm);
  if (scale !== 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= scale;
  return norm;
}
