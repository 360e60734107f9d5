import type * as tf from '@tensorflow/tfjs';
import { packExamples, padExamples, type PackedRow, type TokenizedExample } from '@tunekit/data';
import { DEFAULT_OPTIMIZER, evaluateRows, trainLoop, type Llama } from '@tunekit/model';
import type { TrainerConfig } from '../config';
import { log, progress } from '../progress';
import type { RunContext } from '../run-context';

type Schedule = TrainerConfig['pretrain'] | TrainerConfig['sft'];

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

/** The parameters to train with the token embeddings (and an untied output matrix) frozen. */
export function withoutEmbeddings(params: Map<string, tf.Variable>): Map<string, tf.Variable> {
  return new Map([...params].filter(([k]) => k !== 'model.embed_tokens.weight' && k !== 'lm_head.weight'));
}

/** Packs examples into rows of the configured length (or pads one per row when packing is off). */
export function pack(ctx: RunContext, examples: readonly TokenizedExample[], padId: number): PackedRow[] {
  const options = { seqLength: ctx.config.sequence.maxLength, padId };
  return (ctx.config.sequence.packing ? packExamples(examples, options) : padExamples(examples, options)).rows;
}

/**
 * Trains `model` on packed rows for `epochs` (or exactly `steps`) with progress, metrics in
 * metrics.jsonl, evaluation and checkpoints under checkpoints/<name>; resumes from the newest
 * checkpoint there when the run is being resumed.
 */
export async function trainModel(
  ctx: RunContext,
  o: {
    name: string;
    model: Llama;
    rows: PackedRow[];
    evalRows?: PackedRow[];
    schedule: Schedule;
    steps?: number;
    trainable?: Map<string, tf.Variable>;
  },
): Promise<TrainSummary> {
  const s = o.schedule;
  const perStep = s.batchSize * s.gradAccum;
  const steps = o.steps ?? Math.max(1, Math.ceil((o.rows.length * s.epochs) / perStep));
  const resumeFrom = ctx.config.resume ? await ctx.latestCheckpoint(o.name) : undefined;
  if (ctx.config.resume) {
    // Steps after the checkpoint (or all of them, without one) run again: their old metrics go.
    const from = resumeFrom ? Number(/checkpoint-(\d+)$/.exec(resumeFrom)![1]) : 0;
    await ctx.dropMetricsAfter(o.name, from);
    log(
      resumeFrom ? `${o.name}: resuming from ${resumeFrom}` : `${o.name}: no checkpoint yet; starting the stage over`,
    );
  }
  const seqLength = o.rows[0].input_ids.length;
  const bar = progress(o.name, steps);
  const started = performance.now();
  let tokens = 0;
  let lastLoss = NaN;
  const result = await trainLoop({
    model: o.model,
    rows: o.rows,
    batchSize: s.batchSize,
    gradAccum: s.gradAccum,
    steps,
    seed: ctx.config.seed,
    trainable: o.trainable,
    optimizer: {
      ...DEFAULT_OPTIMIZER,
      lr: s.lr,
      warmupSteps: Math.min(s.warmupSteps, Math.floor(steps / 2)),
      totalSteps: steps,
      minLrRatio: s.minLrRatio,
      weightDecay: s.weightDecay,
      clipNorm: s.clipNorm,
    },
    evalRows: o.evalRows,
    evalEvery: s.evalEvery,
    checkpointDir: ctx.path('checkpoints', o.name),
    checkpointEvery: s.checkpointEvery,
    resumeFrom,
    onStep: (step, r) => {
      tokens += r.tokens;
      lastLoss = r.loss;
      const rate = tokens / ((performance.now() - started) / 1000);
      ctx.metric(o.name, step, { loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: rate });
      if (step % 20 === 0) void ctx.flush();
      bar.update(step, { loss: r.loss.toFixed(3), lr: r.lr.toExponential(1), 'tok/s': Math.round(rate) });
    },
    onEval: (step, loss) => ctx.metric(o.name, step, { eval_loss: loss }),
    // metrics.jsonl never falls behind a checkpoint, so a resume loses no step
    beforeCheckpoint: () => ctx.flush(),
    onCheckpoint: (step, dir) => ctx.sink?.checkpoint(o.name, step, dir),
  });
  await ctx.flush();
  const seconds = (performance.now() - started) / 1000;
  const evalLoss = result.evals.at(-1)?.loss ?? (o.evalRows ? evaluateRows(o.model, o.evalRows, s.batchSize) : null);
  bar.finish(`loss ${lastLoss.toFixed(3)}${evalLoss !== null ? `, eval loss ${evalLoss.toFixed(3)}` : ''}`);
  return {
    name: o.name,
    steps,
    rows: o.rows.length,
    tokensPerStep: perStep * seqLength,
    seconds,
    tokensPerSecond: tokens / seconds,
    finalLoss: result.history.at(-1)?.loss ?? lastLoss,
    evalLoss,
    resumedFrom: resumeFrom ?? null,
  };
}
