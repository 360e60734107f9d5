import type * as tf from '@tensorflow/tfjs';
import type { PackedRow } from '@tunekit/data';
import type { Llama } from './llama';
import { AdamW, type OptimizerConfig } from './optim';
import {
  NonFiniteError,
  batchLoss,
  loadCheckpoint,
  rowsToBatch,
  saveCheckpoint,
  takeRows,
  trainStep,
  trainedTargets,
  type StepResult,
  type TrainerState,
} from './train';

export interface TrainLoopOptions {
  model: Llama;
  rows: readonly PackedRow[];
  /** Rows per micro-batch, and micro-batches per optimiser step. */
  batchSize: number;
  gradAccum?: number;
  steps: number;
  optimizer: OptimizerConfig;
  seed: number;
  /** Variables to train (default: every parameter of the model). */
  trainable?: Map<string, tf.Variable>;
  evalRows?: readonly PackedRow[];
  evalEvery?: number;
  checkpointDir?: string;
  checkpointEvery?: number;
  /** A checkpoint directory to continue from. */
  resumeFrom?: string;
  onStep?: (step: number, result: StepResult, seconds: number) => void;
  onEval?: (step: number, loss: number) => void;
  /** Awaited before each checkpoint is written: persist what must never fall behind it (metrics). */
  beforeCheckpoint?: (step: number) => Promise<void>;
  onCheckpoint?: (step: number, dir: string) => void;
}

export interface TrainLoopResult {
  steps: number;
  lastCheckpoint?: string;
  history: { step: number; loss: number; lr: number; gradNorm: number }[];
  evals: { step: number; loss: number }[];
}

/** Mean loss over rows, weighted by trained targets. */
export function evaluateRows(model: Llama, rows: readonly PackedRow[], batchSize: number): number {
  let sum = 0,
    count = 0;
  for (let i = 0; i < rows.length; i += batchSize) {
    const batch = rowsToBatch(rows.slice(i, i + batchSize));
    const n = trainedTargets(batch);
    if (n === 0) continue;
    sum += batchLoss(model, batch, 1);
    count += n;
  }
  return count ? sum / count : NaN;
}

/**
 * Trains for `steps` optimiser steps with evaluation and checkpoints at intervals. A NaN/Inf stops
 * the run with a message naming the last good checkpoint; weights stay as they were before the bad
 * step.
 */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const trainable = o.trainable ?? o.model.params;
  const optimizer = new AdamW(o.optimizer);
  const accum = o.gradAccum ?? 1;
  let state: TrainerState = { step: 0, cursor: { epoch: 0, offset: 0 }, seed: o.seed };
  if (o.resumeFrom) state = await loadCheckpoint(o.resumeFrom, o.model, trainable, optimizer);
  const result: TrainLoopResult = { steps: state.step, history: [], evals: [], lastCheckpoint: o.resumeFrom };
  while (state.step < o.steps) {
    const started = performance.now();
    const micro = [];
    for (let k = 0; k < accum; k++) {
      const taken = takeRows(o.rows, o.batchSize, state.seed, state.cursor);
      state = { ...state, cursor: taken.cursor };
      micro.push(rowsToBatch(taken.rows));
    }
    let r: StepResult;
    try {
      r = trainStep(o.model, micro, optimizer, trainable, state.step);
    } catch (err) {
      if (err instanceof NonFiniteError) {
        throw new NonFiniteError(
          `${err.message}. Last good checkpoint: ${result.lastCheckpoint ?? 'none (no checkpoint written yet)'}`,
        );
      }
      throw err;
    }
    state = { ...state, step: state.step + 1 };
    result.steps = state.step;
    result.history.push({ step: state.step, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm });
    o.onStep?.(state.step, r, (performance.now() - started) / 1000);
    if (o.evalRows && o.evalEvery && (state.step % o.evalEvery === 0 || state.step === o.steps)) {
      const loss = evaluateRows(o.model, o.evalRows, o.batchSize);
      result.evals.push({ step: state.step, loss });
      o.onEval?.(state.step, loss);
    }
    if (o.checkpointDir && o.checkpointEvery && (state.step % o.checkpointEvery === 0 || state.step === o.steps)) {
      await o.beforeCheckpoint?.(state.step);
      result.lastCheckpoint = await saveCheckpoint(o.checkpointDir, o.model, trainable, optimizer, state);
      o.onCheckpoint?.(state.step, result.lastCheckpoint);
    }
  }
  return result;
}
