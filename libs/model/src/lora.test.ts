import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend';
import { parseConfig } from './config';
import { Llama } from './llama';
import { languageModelStepLoss, trainLoop } from './loop';
import { addLora, loadAdapters, mergeLora, saveAdapters, type LoraConfig } from './lora';
import { DEFAULT_OPTIMIZER } from './optim';
import { batchLoss, rowsToBatch } from './train';
import { maxAbsError } from './testing/max-abs-error';
import { randomRows } from './testing/rows';

const config = parseConfig({
  model_type: 'llama',
  vocab_size: 40,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
});
const lora: LoraConfig = {
  r: 4,
  alpha: 8,
  dropout: 0,
  targetModules: ['q_proj', 'v_proj', 'o_proj', 'gate_proj', 'down_proj'],
};
const input = { inputIds: Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]), batch: 1, seq: 8 };
const logitsOf = (m: Llama) => m.forward(input).dataSync();

describe.each(['wasm', 'cpu'] as const)('LoRA on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it('starts as the base model, trains only the adapters, merges to the same function, saves adapters', async () => {
    const model = Llama.init(config, 1);
    const base = logitsOf(model);
    const baseWeights = await model.weights();
    const trainable = addLora(model, lora, 2);
    expect(trainable.size).toBe(2 * 5 * 2);
    expect([...trainable.keys()][0]).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(logitsOf(model)).toEqual(base);

    const rows = randomRows(4, 12, 40, 3);
    const before = batchLoss(model, rowsToBatch(rows));
    await trainLoop({
      model,
      stepLoss: languageModelStepLoss(model, 4),
      rows,
      rowsPerStep: 4,
      steps: 30,
      optimizer: { ...DEFAULT_OPTIMIZER, lr: 1e-2, weightDecay: 0, totalSteps: 30 },
      seed: 1,
      trainable,
    });
    expect(batchLoss(model, rowsToBatch(rows))).toBeLessThan(before * 0.9);
    for (const [name, t] of await model.weights()) expect(t.data, name).toEqual(baseWeights.get(name)!.data);

    const tuned = logitsOf(model);
    const dir = await mkdtemp(path.join(tmpdir(), 'lora-'));
    await saveAdapters(model, lora, dir);
    const reloaded = Llama.init(config, 1);
    await loadAdapters(reloaded, dir);
    expect(maxAbsError(logitsOf(reloaded), tuned)).toBeLessThan(1e-6);

    mergeLora(model);
    expect(model.adapters.size).toBe(0);
    expect(maxAbsError(logitsOf(model), tuned)).toBeLessThan(1e-4);
    model.dispose();
    reloaded.dispose();
  });

  it('freezes embeddings when they are left out of the trainable set', async () => {
    const model = Llama.init(config, 3);
    const frozen = new Set(['model.embed_tokens.weight', 'lm_head.weight']);
    const trainable = new Map([...model.params].filter(([name]) => !frozen.has(name)));
    const before = await model.weights();
    await trainLoop({
      model,
      stepLoss: languageModelStepLoss(model, 2),
      rows: randomRows(2, 10, 40, 4),
      rowsPerStep: 2,
      steps: 3,
      optimizer: DEFAULT_OPTIMIZER,
      seed: 1,
      trainable,
    });
    const after = await model.weights();
    for (const name of frozen) expect(after.get(name)!.data).toEqual(before.get(name)!.data);
    expect(after.get('model.layers.0.mlp.up_proj.weight')!.data).not.toEqual(
      before.get('model.layers.0.mlp.up_proj.weight')!.data,
    );
    expect(tf.memory().numTensors).toBeGreaterThan(0);
    model.dispose();
  });

  it('names bad target modules', () => {
    const model = Llama.init(config, 4);
    expect(() => addLora(model, { ...lora, targetModules: ['qkv' as never] }, 1)).toThrow(
      /unknown LoRA target modules qkv/,
    );
    model.dispose();
  });
});
