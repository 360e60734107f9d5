import type * as tf from '@tensorflow/tfjs';
import { packExamples, padExamples, type PackedRow, type PackingReport, type TokenizedExample } from '@tunekit/data';
import {
  DEFAULT_OPTIMIZER,
  evaluateRows,
  languageModelStepLoss,
  trainLoop,
  type Evaluation,
  type Llama,
  type OptimizerConfig,
  type StepLoss,
} from '@tunekit/model';
import type { TrainerConfig } from '../config';
import { log, progress } from '../progress';
import type { RunContext } from '../run-context';

/** The optimiser and interval settings every trained stage has (pretrain, sft, rerank). */
type Schedule = TrainerConfig['pretrain'] | TrainerConfig['sft'] | TrainerConfig['rerank'];

export interface StageTraining<Row> {
  /** The stage's name: its metrics, its checkpoints/<name>/ directory, its progress bar. */
  name: string;
  model: Llama;
  rows: readonly Row[];
  rowsPerStep: number;
  stepLoss: (rows: Row[], step: number) => StepLoss;
  evaluate?: () => Evaluation;
  schedule: Schedule;
  steps: number;
  trainable?: Map<string, tf.Variable>;
}

export interface StageTrained {
  steps: number;
  seconds: number;
  tokensPerSecond: number;
  finalLoss: number;
  /** The last evaluation during training (null without an evaluation). */
  lastEval: Evaluation | null;
  resumedFrom: string | null;
}

/**
 * Trains one stage with progress, metrics in metrics.jsonl (and the registry), evaluation and checkpoints under
 * checkpoints/<name>; when the run is being resumed, continues from the newest checkpoint there.
 */
export async function trainStage<Row>(ctx: RunContext, o: StageTraining<Row>): Promise<StageTrained> {
  const resumeFrom = await resumePoint(ctx, o.name);
  const bar = progress(o.name, o.steps);
  const started = performance.now();
  let tokens = 0;
  let lastLoss = NaN;
  const result = await trainLoop({
    model: o.model,
    rows: o.rows,
    rowsPerStep: o.rowsPerStep,
    stepLoss: o.stepLoss,
    steps: o.steps,
    seed: ctx.config.seed,
    trainable: o.trainable,
    optimizer: optimizerFor(o.schedule, o.steps),
    evaluate: o.evaluate,
    evalEvery: o.schedule.evalEvery,
    checkpointDir: ctx.path('checkpoints', o.name),
    checkpointEvery: o.schedule.checkpointEvery,
    resumeFrom,
    onStep: (step, r) => {
      tokens += r.tokens;
      lastLoss = r.loss;
      const rate = tokens / ((performance.now() - started) / 1000);
      ctx.metric(o.name, step, { loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: rate });
      if (step % 20 === 0) void ctx.flush();
      bar.update(step, { loss: r.loss.toFixed(3), lr: r.lr.toExponential(1), 'tok/s': Math.round(rate) });
    },
    onEval: (step, e) =>
      ctx.metric(o.name, step, Object.fromEntries(Object.entries(e).map(([k, v]) => [`eval_${k}`, v]))),
    // metrics.jsonl never falls behind a checkpoint, so a resume loses no step
    beforeCheckpoint: () => ctx.flush(),
    onCheckpoint: (step, dir) => ctx.sink?.checkpoint(o.name, step, dir),
  });
  await ctx.flush();
  const seconds = (performance.now() - started) / 1000;
  const lastEval = result.evals.at(-1) ?? null;
  const evaluated = lastEval ? Object.entries(lastEval).filter(([k]) => k !== 'step') : [];
  bar.finish(
    [
      `loss ${lastLoss.toFixed(3)}`,
      ...evaluated.map(([k, v]) => `eval ${k} ${k === 'accuracy' ? `${(100 * v).toFixed(1)}%` : v.toFixed(3)}`),
    ].join(', '),
  );
  return {
    steps: o.steps,
    seconds,
    tokensPerSecond: tokens / seconds,
    finalLoss: result.history.at(-1)?.loss ?? lastLoss,
    lastEval: lastEval && (Object.fromEntries(evaluated) as Evaluation),
    resumedFrom: resumeFrom ?? null,
  };
}

/**
 * The checkpoint a resumed stage continues from. Steps after it (or all of them, without one) run again: their old
 * metrics go, so each step keeps exactly one value.
 */
async function resumePoint(ctx: RunContext, name: string): Promise<string | undefined> {
  if (!ctx.config.resume) return undefined;
  const from = await ctx.latestCheckpoint(name);
  await ctx.dropMetricsAfter(name, from ? Number(/checkpoint-(\d+)$/.exec(from)![1]) : 0);
  log(from ? `${name}: resuming from ${from}` : `${name}: no checkpoint yet; starting the stage over`);
  return from;
}

/** AdamW with warm-up (at most half the steps) and cosine decay over the stage's steps. */
function optimizerFor(s: Schedule, steps: number): OptimizerConfig {
  return {
    ...DEFAULT_OPTIMIZER,
    lr: s.lr,
    warmupSteps: Math.min(s.warmupSteps, Math.floor(steps / 2)),
    totalSteps: steps,
    minLrRatio: s.minLrRatio,
    weightDecay: s.weightDecay,
    clipNorm: s.clipNorm,
  };
}

/** A language model's training as the report shows it. */
export interface TrainSummary {
  name: string;
  steps: number;
  rows: number;
  tokensPerStep: number;
  seconds: number;
  tokensPerSecond: number;
  finalLoss: number;
  evalLoss: number | null;
  resumedFrom: string | null;
}

/**
 * Trains a language model on packed rows for the schedule's epochs (or exactly `steps`): micro-batches of
 * `batchSize` rows, `gradAccum` of them per step, loss on the trained targets only.
 */
export async function trainLanguageModel(
  ctx: RunContext,
  o: {
    name: string;
    model: Llama;
    rows: PackedRow[];
    evalRows?: PackedRow[];
    schedule: TrainerConfig['pretrain'] | TrainerConfig['sft'];
    steps?: number;
    trainable?: Map<string, tf.Variable>;
  },
): Promise<TrainSummary> {
  const s = o.schedule;
  const rowsPerStep = s.batchSize * s.gradAccum;
  const steps = o.steps ?? Math.max(1, Math.ceil((o.rows.length * s.epochs) / rowsPerStep));
  const evaluate = o.evalRows && (() => ({ loss: evaluateRows(o.model, o.evalRows!, s.batchSize) }));
  const trained = await trainStage(ctx, {
    ...o,
    rowsPerStep,
    stepLoss: languageModelStepLoss(o.model, s.batchSize),
    evaluate,
    steps,
  });
  return {
    name: o.name,
    steps,
    rows: o.rows.length,
    tokensPerStep: rowsPerStep * o.rows[0].input_ids.length,
    seconds: trained.seconds,
    tokensPerSecond: trained.tokensPerSecond,
    finalLoss: trained.finalLoss,
    evalLoss: trained.lastEval?.loss ?? evaluate?.().loss ?? null,
    resumedFrom: trained.resumedFrom,
  };
}

/** The parameters to train with the token embeddings (and an untied output matrix) frozen. */
export function withoutEmbeddings(params: Map<string, tf.Variable>): Map<string, tf.Variable> {
  return new Map([...params].filter(([k]) => k !== 'model.embed_tokens.weight' && k !== 'lm_head.weight'));
}

/** Packs examples into rows of the configured length (or pads one per row when packing is off). */
export function pack(
  ctx: RunContext,
  examples: readonly TokenizedExample[],
  padId: number,
): { rows: PackedRow[]; report: PackingReport } {
  const options = { seqLength: ctx.config.sequence.maxLength, padId };
  return ctx.config.sequence.packing ? packExamples(examples, options) : padExamples(examples, options);
}
