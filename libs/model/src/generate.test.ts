import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend';
import { generate } from './generate';
import { loadModel } from './hf-directory';
import type { Llama } from './llama';

describe.each(['wasm', 'cpu'] as const)('generation on %s', (backend) => {
  let model: Llama;
  beforeAll(async () => {
    await selectBackend(backend);
    model = await loadModel(path.join(import.meta.dirname, 'testing/peer/gqa-untied'));
  });

  const prompts = [
    [5, 9, 2, 33, 7],
    [1, 60],
    [12, 13, 14],
  ];

  it('gives the same tokens with and without the KV cache', () => {
    const cached = generate(model, prompts, { maxNewTokens: 8 });
    const uncached = generate(model, prompts, { maxNewTokens: 8, useCache: false });
    expect(cached.tokens).toEqual(uncached.tokens);
    expect(cached.tokens.every((t) => t.length === 8)).toBe(true);
  });

  it('generates for a batch of prompts exactly what each prompt gets alone', () => {
    const batched = generate(model, prompts, { maxNewTokens: 6 });
    for (const [i, p] of prompts.entries())
      expect(generate(model, [p], { maxNewTokens: 6 }).tokens[0]).toEqual(batched.tokens[i]);
  });

  it('matches greedy decoding computed from full forward passes', () => {
    const seq = [...prompts[0]];
    for (let s = 0; s < 5; s++) {
      const logits = model.forward({ inputIds: Int32Array.from(seq), batch: 1, seq: seq.length });
      const last = logits.slice([0, seq.length - 1, 0], [1, 1, -1]).argMax(-1);
      seq.push(last.dataSync()[0]);
      tf.dispose([logits, last]);
    }
    expect(generate(model, [prompts[0]], { maxNewTokens: 5 }).tokens[0]).toEqual(seq.slice(prompts[0].length));
  });

  it('stops a row at a stop token and reports why each row ended', () => {
    const free = generate(model, prompts, { maxNewTokens: 6 });
    const stopAt = free.tokens[0][2];
    const stopped = generate(model, prompts, { maxNewTokens: 6, stopTokens: [stopAt] });
    expect(stopped.tokens[0]).toEqual(free.tokens[0].slice(0, free.tokens[0].indexOf(stopAt) + 1));
    expect(stopped.finishReason[0]).toBe('stop');
  });

  it('samples reproducibly under a seed; top-k 1 is greedy', () => {
    const a = generate(model, prompts, { maxNewTokens: 6, temperature: 1, topP: 0.9, seed: 3 });
    const b = generate(model, prompts, { maxNewTokens: 6, temperature: 1, topP: 0.9, seed: 3 });
    expect(a.tokens).toEqual(b.tokens);
    expect(generate(model, prompts, { maxNewTokens: 6, temperature: 1.5, topK: 1, seed: 4 }).tokens).toEqual(
      generate(model, prompts, { maxNewTokens: 6 }).tokens,
    );
  });

  it('does not leak tensors across calls', () => {
    generate(model, prompts, { maxNewTokens: 3 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) generate(model, prompts, { maxNewTokens: 3 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
