import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IGNORE_INDEX } from '@tunekit/data';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend';
import { parseConfig } from './config';
import { Llama } from './llama';
import { languageModelStepLoss, trainLoop } from './loop';
import { AdamW, DEFAULT_OPTIMIZER, learningRate, type OptimizerConfig } from './optim';
import { NonFiniteError, batchLoss, rowsToBatch, trainStep } from './train';
import { maxAbsErrorByName } from './testing/max-abs-error';
import { randomRows } from './testing/rows';

const config = parseConfig({
  model_type: 'qwen3',
  vocab_size: 50,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  attention_bias: true,
  tie_word_embeddings: false,
});
const optimizer: OptimizerConfig = { ...DEFAULT_OPTIMIZER, lr: 1e-2, warmupSteps: 2, totalSteps: 10 };

async function weightsOf(model: Llama): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of await model.weights()) out.set(name, t.data);
  return out;
}

describe.each(['wasm', 'cpu'] as const)('training on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it('computes gradients that match finite differences (every custom op, Qwen3 q/k norms and biases)', () => {
    const model = Llama.init(config, 1);
    const batch = rowsToBatch(randomRows(2, 12, 50, 2));
    const names = [...model.params.keys()];
    const { grads } = tf.variableGrads(
      () => {
        const logits = model.logits(model.hidden(batch)).reshape([-1, 50]) as tf.Tensor2D;
        return tf.mul(1, tf.scalar(0)).add(batchLossTensor(model, batch, logits));
      },
      names.map((n) => model.params.get(n)!),
    );
    const byName = new Map(names.map((n) => [n, grads[model.params.get(n)!.name].dataSync()]));
    let checked = 0;
    for (const name of names) {
      const v = model.params.get(name)!;
      const data = v.dataSync().slice() as Float32Array;
      for (const i of [0, Math.floor(data.length / 2), data.length - 1]) {
        const at = (delta: number) => {
          const copy = data.slice();
          copy[i] += delta;
          v.assign(tf.tensor(copy, v.shape));
          return batchLoss(model, batch);
        };
        const eps = 1e-2;
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        v.assign(tf.tensor(data, v.shape));
        const g = byName.get(name)![i];
        expect(Math.abs(fd - g), `${name}[${i}]: finite difference ${fd}, gradient ${g}`).toBeLessThan(
          2e-3 + 0.05 * Math.abs(g),
        );
        checked++;
      }
    }
    expect(checked).toBe(3 * names.length);
    tf.dispose(Object.values(grads));
    model.dispose();
  });

  it('gradient accumulation gives the same update as one big batch', async () => {
    const rows = randomRows(4, 10, 50, 3);
    const big = Llama.init(config, 7);
    const small = Llama.init(config, 7);
    trainStep(big, [rowsToBatch(rows)], new AdamW(optimizer), big.params, 0);
    trainStep(
      small,
      [rowsToBatch(rows.slice(0, 1)), rowsToBatch(rows.slice(1, 3)), rowsToBatch(rows.slice(3))],
      new AdamW(optimizer),
      small.params,
      0,
    );
    expect(maxAbsErrorByName(await weightsOf(big), await weightsOf(small))).toBeLessThan(1e-6);
    big.dispose();
    small.dispose();
  });

  it('resumes exactly: stopped at step 3 and resumed ends where an uninterrupted run ends', async () => {
    const rows = randomRows(10, 10, 50, 4);
    const dir = await mkdtemp(path.join(tmpdir(), 'resume-'));
    const common = { rows, rowsPerStep: 4, optimizer, seed: 5 };
    const straight = Llama.init(config, 9);
    await trainLoop({ ...common, ...onRows(straight, 2), steps: 6 });
    const first = Llama.init(config, 9);
    const part = await trainLoop({ ...common, ...onRows(first, 2), steps: 3, checkpointDir: dir, checkpointEvery: 3 });
    first.dispose();
    const resumed = Llama.init(config, 123); // different weights: everything must come from the checkpoint
    const rest = await trainLoop({ ...common, ...onRows(resumed, 2), steps: 6, resumeFrom: part.lastCheckpoint });
    expect(rest.history.map((h) => h.step)).toEqual([4, 5, 6]);
    expect(maxAbsErrorByName(await weightsOf(straight), await weightsOf(resumed))).toBeLessThanOrEqual(1e-5);
    straight.dispose();
    resumed.dispose();
  });

  it('learns: the loss on a small fixed set falls, with warm-up then cosine', async () => {
    const rows = randomRows(2, 12, 50, 6);
    const model = Llama.init(config, 11);
    const before = batchLoss(model, rowsToBatch(rows));
    const run = await trainLoop({
      ...onRows(model, 2),
      rows,
      rowsPerStep: 2,
      steps: 40,
      optimizer: { ...optimizer, totalSteps: 40 },
      seed: 1,
    });
    expect(batchLoss(model, rowsToBatch(rows))).toBeLessThan(before * 0.3);
    expect(run.history[0].lr).toBeCloseTo(optimizer.lr / 2, 8);
    expect(learningRate({ ...optimizer, totalSteps: 40 }, 39)).toBeCloseTo(optimizer.lr * 0.1, 3);
    model.dispose();
  });

  it('evaluates every evalEvery steps and after the last one, with whatever metrics the callback returns', async () => {
    const model = Llama.init(config, 14);
    const rows = randomRows(4, 10, 50, 10);
    const seen: number[] = [];
    const run = await trainLoop({
      ...onRows(model, 2),
      rows,
      rowsPerStep: 2,
      steps: 5,
      optimizer,
      seed: 1,
      evaluate: () => ({ loss: batchLoss(model, rowsToBatch(rows)), accuracy: 0.5 }),
      evalEvery: 2,
      onEval: (step) => seen.push(step),
    });
    expect(seen).toEqual([2, 4, 5]);
    expect(run.evals.map((e) => e.step)).toEqual([2, 4, 5]);
    for (const e of run.evals) {
      expect(Number.isFinite(e.loss)).toBe(true);
      expect(e.accuracy).toBe(0.5);
    }
    expect(run.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5]);
    model.dispose();
  });

  it('does not leak tensors across steps', () => {
    const model = Llama.init(config, 12);
    const adam = new AdamW(optimizer);
    const batch = rowsToBatch(randomRows(2, 10, 50, 8));
    trainStep(model, [batch], adam, model.params, 0);
    const before = tf.memory().numTensors;
    for (let s = 1; s < 4; s++) trainStep(model, [batch], adam, model.params, s);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('stops on a non-finite loss without touching the weights, naming the last good checkpoint', async () => {
    const model = Llama.init(config, 13);
    const norm = model.params.get('model.norm.weight')!;
    norm.assign(tf.fill(norm.shape, Infinity));
    const before = await weightsOf(model);
    const rows = randomRows(2, 10, 50, 9);
    await expect(
      trainLoop({ ...onRows(model, 2), rows, rowsPerStep: 2, steps: 2, optimizer, seed: 1 }),
    ).rejects.toThrow(NonFiniteError);
    await expect(
      trainLoop({ ...onRows(model, 2), rows, rowsPerStep: 2, steps: 2, optimizer, seed: 1 }),
    ).rejects.toThrow(/step 0: loss is NaN; the update was not applied\. Last good checkpoint: none/);
    const after = await weightsOf(model);
    for (const [name, x] of before) expect(after.get(name), name).toEqual(x);
    model.dispose();
  });
});

/** A language model trained on packed rows, `batchSize` rows per micro-batch. */
function onRows(model: Llama, batchSize: number) {
  return { model, stepLoss: languageModelStepLoss(model, batchSize) };
}

function batchLossTensor(model: Llama, batch: ReturnType<typeof rowsToBatch>, logits: tf.Tensor2D): tf.Scalar {
  let count = 0;
  for (const t of batch.targets) if (t !== IGNORE_INDEX) count++;
  const vocab = model.config.vocab_size;
  const hot = new Float32Array(batch.targets.length * vocab);
  batch.targets.forEach((t, i) => t !== IGNORE_INDEX && (hot[i * vocab + t] = 1));
  return tf.div(
    tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.tensor2d(hot, [batch.targets.length, vocab])))),
    count,
  ) as tf.Scalar;
}
