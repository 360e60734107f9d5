import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend';
import { loadModel } from './hf-directory';
import { maxAbsError } from './testing/max-abs-error';

const peerDir = (name: string) => path.join(import.meta.dirname, 'testing/peer', name);

describe.each(['wasm', 'cpu'] as const)('decoder numerics on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it.each(['gqa-untied', 'gqa-tied'])('logits of %s match the PyTorch reference to 1e-4', async (name) => {
    const model = await loadModel(peerDir(name));
    const ref = JSON.parse(await readFile(path.join(peerDir(name), 'reference.json'), 'utf8')) as {
      input_ids: number[][];
      logits: number[][][];
    };
    const [B, T] = [ref.input_ids.length, ref.input_ids[0].length];
    const logits = model.forward({ inputIds: Int32Array.from(ref.input_ids.flat()), batch: B, seq: T });
    const got = logits.dataSync();
    const want = ref.logits.flat(2);
    const maxErr = maxAbsError(got, want);
    console.log(`${backend} ${name}: max abs error ${maxErr.toExponential(2)} over ${want.length} logits`);
    expect(maxErr).toBeLessThan(1e-4);
    logits.dispose();
    model.dispose();
  });

  it('keeps packed examples apart: a packed row gives each example the logits it has alone', async () => {
    const model = await loadModel(peerDir('gqa-untied'));
    const a = [5, 9, 2, 33, 7],
      b = [1, 60, 4];
    const alone = (ids: number[]) =>
      model.forward({ inputIds: Int32Array.from(ids), batch: 1, seq: ids.length }).dataSync();
    const packed = model
      .forward({
        inputIds: Int32Array.from([...a, ...b]),
        batch: 1,
        seq: 8,
        positionIds: Int32Array.from([0, 1, 2, 3, 4, 0, 1, 2]),
        segmentIds: Int32Array.from([1, 1, 1, 1, 1, 2, 2, 2]),
      })
      .dataSync();
    const expected = [...alone(a), ...alone(b)];
    for (let i = 0; i < expected.length; i++) expect(packed[i]).toBeCloseTo(expected[i], 5);
    model.dispose();
  });

  it('does not leak tensors across forward passes', async () => {
    const model = await loadModel(peerDir('gqa-tied'));
    const run = () => model.forward({ inputIds: Int32Array.from([1, 2, 3, 4]), batch: 1, seq: 4 }).dispose();
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
