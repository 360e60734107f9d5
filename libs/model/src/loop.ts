import type * as tf from '@tensorflow/tfjs';
import type { PackedRow } from '@tunekit/data';
import type { Llama } from './llama';
import { AdamW, type OptimizerConfig } from './optim';
import {
  NonFiniteError,
  batchLoss,
  languageModelLoss,
  loadCheckpoint,
  optimizerStep,
  rowsToBatch,
  saveCheckpoint,
  takeRows,
  trainedTargets,
  type StepLoss,
  type TrainerState,
} from './train';

/** Held-out metrics of the model as it is now; `loss` at least. */
export type Evaluation = { loss: number } & Record<string, number>;

export interface TrainLoopOptions<Row> {
  model: Llama;
  /** What is trained on: packed rows, ranking groups, … — shuffled per epoch, read in order. */
  rows: readonly Row[];
  /** Rows taken from the stream for each optimiser step. */
  rowsPerStep: number;
  /** Turns one step's rows into its loss (`languageModelLoss`, a ranking loss, …). */
  stepLoss: (rows: Row[], step: number) => StepLoss;
  steps: number;
  optimizer: OptimizerConfig;
  seed: number;
  /** Variables to train (default: every parameter of the model). */
  trainable?: Map<string, tf.Variable>;
  /** Run every `evalEvery` steps and after the last one. */
  evaluate?: () => Evaluation;
  evalEvery?: number;
  checkpointDir?: string;
  checkpointEvery?: number;
  /** A checkpoint directory to continue from. */
  resumeFrom?: string;
  onStep?: (step: number, result: StepReport) => void;
  onEval?: (step: number, evaluation: Evaluation) => void;
  /** Awaited before each checkpoint is written: persist what must never fall behind it (metrics). */
  beforeCheckpoint?: (step: number) => Promise<void>;
  onCheckpoint?: (step: number, dir: string) => void;
}

export interface StepReport {
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  seconds: number;
}

export interface TrainLoopResult {
  steps: number;
  lastCheckpoint?: string;
  history: { step: number; loss: number; lr: number; gradNorm: number }[];
  evals: ({ step: number } & Evaluation)[];
}

/**
 * Trains for `steps` optimiser steps, whatever a step's loss is, with evaluation and checkpoints at intervals. The
 * data cursor is part of each checkpoint, so a resumed run continues exactly. A NaN/Inf stops the run with a message
 * naming the last good checkpoint; the weights stay as they were before the bad step.
 */
export async function trainLoop<Row>(o: TrainLoopOptions<Row>): Promise<TrainLoopResult> {
  const trainable = o.trainable ?? o.model.params;
  const optimizer = new AdamW(o.optimizer);
  let state: TrainerState = { step: 0, cursor: { epoch: 0, offset: 0 }, seed: o.seed };
  if (o.resumeFrom) state = await loadCheckpoint(o.resumeFrom, o.model, trainable, optimizer);
  const result: TrainLoopResult = { steps: state.step, history: [], evals: [], lastCheckpoint: o.resumeFrom };
  const due = (every: number | undefined) => Boolean(every) && (state.step % every! === 0 || state.step === o.steps);
  while (state.step < o.steps) {
    const started = performance.now();
    const taken = takeRows(o.rows, o.rowsPerStep, state.seed, state.cursor);
    state = { ...state, cursor: taken.cursor };
    const loss = o.stepLoss(taken.rows, state.step);
    const r = withLastCheckpoint(result.lastCheckpoint, () =>
      optimizerStep(o.model, loss.parts, optimizer, trainable, state.step),
    );
    state = { ...state, step: state.step + 1 };
    result.steps = state.step;
    result.history.push({ step: state.step, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm });
    o.onStep?.(state.step, { ...r, tokens: loss.tokens, seconds: (performance.now() - started) / 1000 });
    if (o.evaluate && due(o.evalEvery)) {
      const evaluation = o.evaluate();
      result.evals.push({ step: state.step, ...evaluation });
      o.onEval?.(state.step, evaluation);
    }
    if (o.checkpointDir && due(o.checkpointEvery)) {
      await o.beforeCheckpoint?.(state.step);
      result.lastCheckpoint = await saveCheckpoint(o.checkpointDir, o.model, trainable, optimizer, state);
      o.onCheckpoint?.(state.step, result.lastCheckpoint);
    }
  }
  return result;
}

/** Runs one step; a non-finite loss or gradient says where the run can be resumed from. */
function withLastCheckpoint<T>(lastCheckpoint: string | undefined, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (!(err instanceof NonFiniteError)) throw err;
    throw new NonFiniteError(
      `${err.message}. Last good checkpoint: ${lastCheckpoint ?? 'none (no checkpoint written yet)'}`,
    );
  }
}

/** A language model's step loss over packed rows: micro-batches of `batchSize` rows (see `languageModelLoss`). */
export function languageModelStepLoss(model: Llama, batchSize: number): (rows: PackedRow[], step: number) => StepLoss {
  return (rows, step) => {
    const micro = [];
    for (let i = 0; i < rows.length; i += batchSize) micro.push(rowsToBatch(rows.slice(i, i + batchSize)));
    return languageModelLoss(model, micro, step);
  };
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
