import * as tf from '@tensorflow/tfjs';
import {
  AdamW,
  NonFiniteError,
  loadCheckpoint,
  optimizerStep,
  saveCheckpoint,
  takeRows,
  type OptimizerConfig,
  type TrainerState,
} from '@tunekit/model';
import { rankingLoss, type RankingLoss } from './losses';
import type { Reranker } from './reranker';

/** One training group: a query under an instruction, one relevant document and k irrelevant ones. */
export interface RankingGroup {
  instruction?: string;
  query: string;
  positive: string;
  negatives: string[];
}

export interface RerankTrainOptions {
  reranker: Reranker;
  groups: readonly RankingGroup[];
  loss: RankingLoss;
  steps: number;
  /** Groups per optimiser step, and per forward pass (micro-batch). */
  groupsPerStep: number;
  microGroups?: number;
  optimizer: OptimizerConfig;
  seed: number;
  /** Variables to train (default: every parameter of the model, with the head). */
  trainable?: Map<string, tf.Variable>;
  evalGroups?: readonly RankingGroup[];
  evalEvery?: number;
  checkpointDir?: string;
  checkpointEvery?: number;
  resumeFrom?: string;
  onStep?: (step: number, r: { loss: number; lr: number; gradNorm: number; tokens: number; seconds: number }) => void;
  onEval?: (step: number, e: GroupEvaluation) => void;
  beforeCheckpoint?: (step: number) => Promise<void>;
  onCheckpoint?: (step: number, dir: string) => void;
}

export interface GroupEvaluation {
  /** Mean loss per group. */
  loss: number;
  /** Share of groups whose positive scores above every negative. */
  accuracy: number;
}

/**
 * Fine-tunes a reranker on ranking groups with a listwise, pointwise or pairwise loss. Every group
 * of a step has the same number of documents; the loss is summed over groups and divided by the
 * groups in the whole step, so micro-batching equals one large batch. Checkpoints hold weights,
 * head, adapters, optimiser moments and the data cursor, so a resumed run continues exactly.
 */
export async function trainReranker(o: RerankTrainOptions): Promise<{
  steps: number;
  lastCheckpoint?: string;
  history: { step: number; loss: number }[];
  evals: ({ step: number } & GroupEvaluation)[];
}> {
  const { reranker } = o;
  const sizes = new Set(o.groups.map((g) => g.negatives.length));
  if (o.groups.length === 0) throw new Error('reranker training: no groups to train on');
  if (sizes.size !== 1 || sizes.has(0))
    throw new Error(
      `reranker training: every group needs the same number (≥ 1) of negatives, got ${[...sizes].join(', ')}`,
    );
  const trainable = o.trainable ?? reranker.model.params;
  const optimizer = new AdamW(o.optimizer);
  const micro = o.microGroups ?? o.groupsPerStep;
  let state: TrainerState = { step: 0, cursor: { epoch: 0, offset: 0 }, seed: o.seed };
  if (o.resumeFrom) state = await loadCheckpoint(o.resumeFrom, reranker.model, trainable, optimizer);
  const result: Awaited<ReturnType<typeof trainReranker>> = {
    steps: state.step,
    history: [],
    evals: [],
    lastCheckpoint: o.resumeFrom,
  };
  while (state.step < o.steps) {
    const started = performance.now();
    const taken = takeRows(o.groups, o.groupsPerStep, state.seed, state.cursor);
    state = { ...state, cursor: taken.cursor };
    const batches: number[][][][] = [];
    for (let i = 0; i < taken.rows.length; i += micro)
      batches.push(taken.rows.slice(i, i + micro).map((g) => encodeGroup(reranker, g)));
    const n = 1 + taken.rows[0].negatives.length;
    const losses = batches.map(
      (groups) => () =>
        tf.div(
          rankingLoss(o.loss, reranker.scoreGroups(groups).reshape([-1, n]) as tf.Tensor2D),
          taken.rows.length,
        ) as tf.Scalar,
    );
    let r: { loss: number; gradNorm: number; lr: number };
    try {
      r = optimizerStep(reranker.model, losses, optimizer, trainable, state.step);
    } catch (err) {
      if (err instanceof NonFiniteError)
        throw new NonFiniteError(
          `${err.message}. Last good checkpoint: ${result.lastCheckpoint ?? 'none (no checkpoint written yet)'}`,
        );
      throw err;
    }
    state = { ...state, step: state.step + 1 };
    result.steps = state.step;
    result.history.push({ step: state.step, loss: r.loss });
    o.onStep?.(state.step, {
      ...r,
      tokens: batches.flat(2).reduce((a, s) => a + s.length, 0),
      seconds: (performance.now() - started) / 1000,
    });
    if (o.evalGroups?.length && o.evalEvery && (state.step % o.evalEvery === 0 || state.step === o.steps)) {
      const e = evaluateGroups(reranker, o.evalGroups, o.loss, micro);
      result.evals.push({ step: state.step, ...e });
      o.onEval?.(state.step, e);
    }
    if (o.checkpointDir && o.checkpointEvery && (state.step % o.checkpointEvery === 0 || state.step === o.steps)) {
      await o.beforeCheckpoint?.(state.step);
      result.lastCheckpoint = await saveCheckpoint(o.checkpointDir, reranker.model, trainable, optimizer, state);
      o.onCheckpoint?.(state.step, result.lastCheckpoint);
    }
  }
  return result;
}

/** Loss and within-group accuracy on held-out groups, without gradients. */
export function evaluateGroups(
  reranker: Reranker,
  groups: readonly RankingGroup[],
  loss: RankingLoss,
  microGroups = 8,
): GroupEvaluation {
  let total = 0,
    correct = 0;
  for (let i = 0; i < groups.length; i += microGroups) {
    const chunk = groups.slice(i, i + microGroups);
    const n = 1 + chunk[0].negatives.length;
    const [l, scores] = tf.tidy(() => {
      const s = reranker.scoreGroups(chunk.map((g) => encodeGroup(reranker, g))).reshape([-1, n]) as tf.Tensor2D;
      return [rankingLoss(loss, s).dataSync()[0], s.dataSync() as Float32Array] as const;
    });
    total += l;
    for (let g = 0; g < chunk.length; g++) {
      const row = scores.subarray(g * n, (g + 1) * n);
      if (row.slice(1).every((x) => x < row[0])) correct++;
    }
  }
  return { loss: total / groups.length, accuracy: correct / groups.length };
}

function encodeGroup(reranker: Reranker, g: RankingGroup): number[][] {
  return [g.positive, ...g.negatives].map(
    (document) => reranker.encode({ instruction: g.instruction, query: g.query, document }).ids,
  );
}
