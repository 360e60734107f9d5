import * as tf from '@tensorflow/tfjs';
import type { StepLoss } from '@tunekit/model';
import { rankingLoss, type RankingLoss } from './losses';
import type { Reranker } from './reranker';

/** One training group: a query under an instruction, one relevant document and k irrelevant ones. */
export interface RankingGroup {
  instruction?: string;
  query: string;
  positive: string;
  negatives: string[];
}

/** Share of groups whose positive scores above every negative, and the mean loss per group. */
export type GroupEvaluation = { loss: number; accuracy: number };

/**
 * A reranker's step loss over ranking groups, for `trainLoop`: micro-batches of `microGroups` groups, the loss summed
 * over groups and divided by the groups in the whole step, so micro-batching equals one large batch. Every group must
 * have the same number of documents (`checkGroups`).
 */
export function rankingStepLoss(
  reranker: Reranker,
  o: { loss: RankingLoss; microGroups: number },
): (groups: RankingGroup[]) => StepLoss {
  return (groups) => {
    const batches: number[][][][] = [];
    for (let i = 0; i < groups.length; i += o.microGroups)
      batches.push(groups.slice(i, i + o.microGroups).map((g) => encodeGroup(reranker, g)));
    const n = 1 + groups[0].negatives.length;
    const parts = batches.map(
      (encoded) => () =>
        tf.div(rankingLoss(o.loss, reranker.scoreGroups(encoded).reshape([-1, n]) as tf.Tensor2D), groups.length),
    ) as (() => tf.Scalar)[];
    return { parts, tokens: batches.flat(2).reduce((a, ids) => a + ids.length, 0) };
  };
}

/** Refuses groups a ranking loss cannot batch: none, or groups with different numbers of negatives. */
export function checkGroups(groups: readonly RankingGroup[]): void {
  const sizes = new Set(groups.map((g) => g.negatives.length));
  if (groups.length === 0) throw new Error('reranker training: no groups to train on');
  if (sizes.size !== 1 || sizes.has(0))
    throw new Error(
      `reranker training: every group needs the same number (≥ 1) of negatives, got ${[...sizes].join(', ')}`,
    );
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
