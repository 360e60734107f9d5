import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IGNORE_INDEX, Rng, type PackedRow } from '@tunekit/data';
import { saveModel } from './hf-directory';
import type { Llama } from './llama';
import { gatherRows, maskedCrossEntropy } from './ops';
import { AdamW, clipScale, globalNorm, learningRate, type OptimizerConfig } from './optim';
import { readSafetensors, writeFileAtomic, writeSafetensors, type NamedTensor } from './safetensors';

/** Rows ready for the model: targets are the labels shifted left (target t is the token after t). */
export interface TrainBatch {
  batch: number;
  seq: number;
  inputIds: Int32Array; // [B·T]
  targets: Int32Array; // [B·T], −100 where untrained
  positionIds: Int32Array; // [B·T]
  segmentIds: Int32Array; // [B·T]
}

export function rowsToBatch(rows: readonly PackedRow[]): TrainBatch {
  const B = rows.length,
    T = rows[0].input_ids.length;
  const out: TrainBatch = {
    batch: B,
    seq: T,
    inputIds: new Int32Array(B * T),
    targets: new Int32Array(B * T).fill(IGNORE_INDEX),
    positionIds: new Int32Array(B * T),
    segmentIds: new Int32Array(B * T),
  };
  rows.forEach((r, b) => {
    out.inputIds.set(r.input_ids, b * T);
    out.targets.set(r.labels.subarray(1), b * T);
    out.positionIds.set(r.position_ids, b * T);
    out.segmentIds.set(r.segment_ids, b * T);
  });
  return out;
}

export const trainedTargets = (b: TrainBatch) => b.targets.reduce((n, t) => n + (t !== IGNORE_INDEX ? 1 : 0), 0);

/**
 * Cross-entropy summed over the trained positions of a batch and divided by `count`. The LM head
 * runs only on positions that have a target: masked prompt tokens cost no vocabulary projection.
 */
export function trainingLoss(model: Llama, batch: TrainBatch, count: number): tf.Scalar {
  const rows: number[] = [];
  const targets: number[] = [];
  batch.targets.forEach((t, i) => {
    if (t === IGNORE_INDEX) return;
    rows.push(i);
    targets.push(t);
  });
  const hidden = model.hidden(batch).reshape([-1, model.config.hidden_size]) as tf.Tensor2D; // [B·T, h]
  const logits = model.logits(gatherRows(hidden, Int32Array.from(rows))); // [n, V]
  return maskedCrossEntropy(logits, Int32Array.from(targets), count);
}

/** Summed loss of a batch divided by `count`, without gradients (evaluation). */
export function batchLoss(model: Llama, batch: TrainBatch, count = trainedTargets(batch)): number {
  if (trainedTargets(batch) === 0) return 0;
  return tf.tidy(() => trainingLoss(model, batch, Math.max(1, count)).dataSync()[0]);
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  lr: number;
  tokens: number;
  trainedTokens: number;
}

export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

/**
 * The loss of one optimiser step: one closure per micro-batch, each already divided by the size of the whole step,
 * so that their gradients add up to the step's gradient.
 */
export interface StepLoss {
  parts: (() => tf.Scalar)[];
  /** Tokens the step reads, for tokens/s. */
  tokens: number;
}

/**
 * A language model's loss over micro-batches. The loss of every micro-batch is divided by the number of trained
 * targets in the whole step, so accumulating K micro-batches gives exactly the update of one batch K times larger.
 */
export function languageModelLoss(
  model: Llama,
  micro: readonly TrainBatch[],
  step: number,
): StepLoss & { trainedTokens: number } {
  const count = micro.reduce((n, b) => n + trainedTargets(b), 0);
  if (count === 0) throw new Error(`step ${step}: no trained targets in the batch (all labels are -100)`);
  return {
    parts: micro.filter((b) => trainedTargets(b) > 0).map((b) => () => trainingLoss(model, b, count)),
    tokens: micro.reduce((n, b) => n + b.batch * b.seq, 0),
    trainedTokens: count,
  };
}

/**
 * One optimiser step of a language model over micro-batches (see `languageModelLoss`). Gradients are checked before
 * anything changes: a NaN/Inf leaves the weights as they were.
 */
export function trainStep(
  model: Llama,
  micro: readonly TrainBatch[],
  optimizer: AdamW,
  trainable: Map<string, tf.Variable>,
  step: number,
): StepResult {
  const { parts, tokens, trainedTokens } = languageModelLoss(model, micro, step);
  return { ...optimizerStep(model, parts, optimizer, trainable, step), tokens, trainedTokens };
}

/**
 * One optimiser step from the losses of its micro-batches, each already divided by the size of the
 * whole step (so their gradients add up to the step's). Gradients are accumulated in plain arrays
 * and checked before anything changes: a NaN/Inf leaves the weights as they were. Model dropout is
 * on during the step, with masks seeded by the step and micro-batch.
 */
export function optimizerStep(
  model: Llama,
  losses: readonly (() => tf.Scalar)[],
  optimizer: AdamW,
  trainable: Map<string, tf.Variable>,
  step: number,
): { loss: number; gradNorm: number; lr: number } {
  const vars = [...trainable.values()];
  const keyOf = new Map([...trainable].map(([k, v]) => [v.name, k]));
  const grads = new Map<string, Float32Array>();
  let loss = 0;
  model.training = true;
  try {
    for (const [k, f] of losses.entries()) {
      model.dropoutSeed = step * 1024 + k; // reproducible dropout masks, also after a resume
      const { value, grads: g } = tf.variableGrads(f, vars);
      loss += value.dataSync()[0];
      for (const [varName, t] of Object.entries(g)) {
        const key = keyOf.get(varName)!;
        const data = t.dataSync() as Float32Array;
        const acc = grads.get(key);
        if (acc) for (let i = 0; i < acc.length; i++) acc[i] += data[i];
        else grads.set(key, data.slice());
      }
      value.dispose();
      tf.dispose(Object.values(g));
    }
  } finally {
    model.training = false;
  }
  const gradNorm = globalNorm(grads);
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
    throw new NonFiniteError(
      `step ${step}: ${!Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${gradNorm}`}; ` +
        'the update was not applied',
    );
  }
  const lr = learningRate(optimizer.config, step);
  optimizer.apply(trainable, grads, lr, clipScale(gradNorm, optimizer.config.clipNorm));
  return { loss, gradNorm, lr };
}

/** Where the data stream is: epoch and the next row of that epoch's shuffled order. */
export interface DataCursor {
  epoch: number;
  offset: number;
}

/** Rows in a seeded order per epoch; `next` advances a cursor that can be saved and restored. */
export function epochOrder(rows: number, seed: number, epoch: number): number[] {
  return new Rng(seed * 1_000_003 + epoch).shuffle(Array.from({ length: rows }, (_, i) => i));
}

export function takeRows<T>(
  rows: readonly T[],
  n: number,
  seed: number,
  cursor: DataCursor,
): { rows: T[]; cursor: DataCursor } {
  const out: T[] = [];
  let { epoch, offset } = cursor;
  let order = epochOrder(rows.length, seed, epoch);
  while (out.length < n) {
    if (offset >= order.length) {
      epoch++;
      offset = 0;
      order = epochOrder(rows.length, seed, epoch);
    }
    out.push(rows[order[offset++]]);
  }
  return { rows: out, cursor: { epoch, offset } };
}

export interface TrainerState {
  step: number;
  cursor: DataCursor;
  seed: number;
}

/**
 * Saves weights, optimiser moments and trainer state into `dir/checkpoint-<step>`, atomically: it is
 * written under a temporary name and renamed when complete.
 */
export async function saveCheckpoint(
  dir: string,
  model: Llama,
  trainable: Map<string, tf.Variable>,
  optimizer: AdamW,
  state: TrainerState,
): Promise<string> {
  const final = path.join(dir, `checkpoint-${state.step}`);
  const tmp = `${final}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await saveModel(model, tmp);
  const moments = new Map<string, NamedTensor>();
  for (const [name, m] of optimizer.state.m) {
    const shape = trainable.get(name)?.shape ?? [m.length];
    moments.set(`m.${name}`, { shape, data: m });
    moments.set(`v.${name}`, { shape, data: optimizer.state.v.get(name)! });
  }
  await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), moments);
  // Trainable variables outside the base weights (LoRA adapters), by their keys.
  const extra = new Map<string, NamedTensor>();
  for (const [name, v] of trainable)
    if (!model.params.has(name)) extra.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
  if (extra.size) await writeSafetensors(path.join(tmp, 'adapters.safetensors'), extra);
  await writeFileAtomic(
    path.join(tmp, 'trainer_state.json'),
    JSON.stringify({ ...state, optimizerStep: optimizer.state.step }, null, 2) + '\n',
  );
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  return final;
}

/** Restores weights (into the model's variables), optimiser moments and trainer state from a checkpoint. */
export async function loadCheckpoint(
  dir: string,
  model: Llama,
  trainable: Map<string, tf.Variable>,
  optimizer: AdamW,
): Promise<TrainerState> {
  const state = JSON.parse(await readFile(path.join(dir, 'trainer_state.json'), 'utf8')) as TrainerState & {
    optimizerStep: number;
  };
  const weights = await readSafetensors(path.join(dir, 'model.safetensors'));
  for (const [name, v] of model.params) {
    const t = weights.get(name);
    if (!t) throw new Error(`${dir}: checkpoint lacks ${name}`);
    const next = tf.tensor(t.data, v.shape);
    v.assign(next);
    next.dispose();
  }
  const adapters = [...trainable.keys()].some((k) => !model.params.has(k))
    ? await readSafetensors(path.join(dir, 'adapters.safetensors'))
    : new Map<string, NamedTensor>();
  for (const [name, v] of trainable) {
    if (model.params.has(name)) continue;
    const t = adapters.get(name);
    if (!t) throw new Error(`${dir}: checkpoint lacks adapter ${name}`);
    const next = tf.tensor(t.data, v.shape);
    v.assign(next);
    next.dispose();
  }
  const moments = await readSafetensors(path.join(dir, 'optimizer.safetensors'));
  optimizer.state = { step: state.optimizerStep, m: new Map(), v: new Map() };
  for (const [key, t] of moments)
    (key.startsWith('m.') ? optimizer.state.m : optimizer.state.v).set(key.slice(2), t.data);
  return { step: state.step, cursor: state.cursor, seed: state.seed };
}

export type { OptimizerConfig };
