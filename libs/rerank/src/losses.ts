import * as tf from '@tensorflow/tfjs';

/**
 * Ranking losses over groups of raw scores [G, n]: column 0 is the group's positive, columns 1‥n−1
 * its negatives. Each returns the sum over groups; the caller divides by the groups of the whole
 * optimiser step, so accumulation equals one large batch.
 */
export const RANKING_LOSSES = ['listwise', 'pointwise', 'pairwise'] as const;
export type RankingLoss = (typeof RANKING_LOSSES)[number];

/** Softmax cross-entropy of the positive within its group (InfoNCE over 1 + k documents), on raw scores. */
export function listwiseLoss(scores: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [G, n] = scores.shape;
    const positive = tf.slice(scores, [0, 0], [G, 1]).reshape([G]); // [G]
    // the row maximum as a constant: log-sum-exp's gradient does not depend on it
    const values = scores.dataSync();
    const max = tf.tensor2d(
      Float32Array.from({ length: G }, (_, g) => Math.max(...values.subarray(g * n, (g + 1) * n))),
      [G, 1],
    ); // [G, 1]
    const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(scores, max)), 1)), max.reshape([G])); // [G]
    return tf.sum(tf.sub(lse, positive)) as tf.Scalar;
  });
}

/** Binary cross-entropy on sigmoid(score): the positive is labelled 1, negatives 0 (numerically stable form). */
export function pointwiseLoss(scores: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [G, n] = scores.shape;
    const labels = tf.tensor2d(
      Float32Array.from({ length: G * n }, (_, i) => (i % n === 0 ? 1 : 0)),
      [G, n],
    ); // [G, n]
    // [G, n]
    const perDoc = tf.add(tf.sub(tf.relu(scores), tf.mul(scores, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(scores)))));
    return tf.div(tf.sum(perDoc), n) as tf.Scalar;
  });
}

/** RankNet: log(1 + exp(−(s⁺ − s⁻))) averaged over the group's (positive, negative) pairs. */
export function pairwiseLoss(scores: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [G, n] = scores.shape;
    const positive = tf.slice(scores, [0, 0], [G, 1]); // [G, 1]
    const negatives = tf.slice(scores, [0, 1], [G, n - 1]); // [G, n−1]
    const margin = tf.sub(positive, negatives); // [G, n−1]
    const perPair = tf.add(tf.relu(tf.neg(margin)), tf.log1p(tf.exp(tf.neg(tf.abs(margin))))); // softplus(−margin)
    return tf.div(tf.sum(perPair), n - 1) as tf.Scalar;
  });
}

export function rankingLoss(name: RankingLoss, scores: tf.Tensor2D): tf.Scalar {
  if (scores.shape[1] < 2)
    throw new Error(
      `ranking loss: each group needs a positive and at least one negative, got ${scores.shape[1]} documents`,
    );
  return name === 'listwise'
    ? listwiseLoss(scores)
    : name === 'pointwise'
      ? pointwiseLoss(scores)
      : pairwiseLoss(scores);
}
