import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { describeBackend, selectBackend } from './backend';

describe('backend selection', () => {
  it('falls through the order to the first backend that runs, saying why the others were skipped', async () => {
    const choice = await selectBackend();
    const order = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
    expect(order.slice(0, order.indexOf(choice.name))).toEqual(choice.skipped.map((s) => s.name));
    for (const s of choice.skipped) expect(s.reason).toMatch(/not installed|cannot|did not/);
    expect(tf.getBackend()).toBe(choice.name === 'tensorflow-gpu' ? 'tensorflow' : choice.name);
    console.log(describeBackend(choice));
  });

  it.each(['wasm', 'cpu'] as const)('runs %s when asked, and computes on it', async (name) => {
    const choice = await selectBackend(name);
    expect(choice).toMatchObject({ name, reason: 'requested', skipped: [] });
    const product = tf.tidy(() =>
      tf
        .matMul(
          tf.tensor2d([
            [1, 2],
            [3, 4],
          ]),
          tf.tensor2d([[5], [6]]),
        )
        .arraySync(),
    );
    expect(product).toEqual([[17], [39]]);
  });

  it('names an unknown backend', async () => {
    await expect(selectBackend('webgpu' as never)).rejects.toThrow(
      /unknown backend "webgpu"; choose one of tensorflow-gpu, tensorflow, wasm, cpu/,
    );
  });
});
