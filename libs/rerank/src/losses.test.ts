import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { rankingLoss } from './losses';

const softplus = (x: number) => Math.log1p(Math.exp(x));

describe('ranking losses on raw scores (hand-computed)', () => {
  const scores = () =>
    tf.tensor2d([
      [2, 1, 0],
      [0, 3, -1],
    ]);

  it('listwise: softmax cross-entropy of the positive in each group, summed', () => {
    const expected = Math.log(Math.exp(2) + Math.exp(1) + 1) - 2 + (Math.log(1 + Math.exp(3) + Math.exp(-1)) - 0);
    expect(rankingLoss('listwise', scores()).dataSync()[0]).toBeCloseTo(expected, 5);
    // its gradient is softmax − one-hot
    const g = tf
      .grad((s: tf.Tensor) => rankingLoss('listwise', s as tf.Tensor2D))(scores())
      .arraySync() as number[][];
    const z = Math.exp(2) + Math.exp(1) + 1;
    expect(g[0][0]).toBeCloseTo(Math.exp(2) / z - 1, 5);
    expect(g[0][2]).toBeCloseTo(1 / z, 5);
  });

  it('pointwise: binary cross-entropy, positive 1 and negatives 0, averaged per group and summed', () => {
    const expected = (softplus(-2) + softplus(1) + softplus(0)) / 3 + (softplus(-0) + softplus(3) + softplus(-1)) / 3;
    expect(rankingLoss('pointwise', scores()).dataSync()[0]).toBeCloseTo(expected, 5);
    // stable at large scores
    expect(rankingLoss('pointwise', tf.tensor2d([[80, -80]])).dataSync()[0]).toBeCloseTo(0, 5);
  });

  it('pairwise (RankNet): log(1 + e^−(s⁺ − s⁻)) averaged over pairs and summed', () => {
    const expected = (softplus(-1) + softplus(-2)) / 2 + (softplus(3) + softplus(-1)) / 2;
    expect(rankingLoss('pairwise', scores()).dataSync()[0]).toBeCloseTo(expected, 5);
  });

  it('needs a negative in every group', () => {
    expect(() => rankingLoss('listwise', tf.tensor2d([[1]]))).toThrow(/at least one negative/);
  });
});
