import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend';
import { parseConfig } from './config';
import { Llama } from './llama';
import { maxAbsError } from './testing/max-abs-error';
import { referenceLogits } from './testing/reference';

const variants = {
  'qwen2 (q/k/v biases, tied)': { model_type: 'qwen2', tie_word_embeddings: true },
  'qwen3 (q/k norms, head_dim ≠ hidden/heads)': { model_type: 'qwen3', head_dim: 12 },
  'llama (multi-query, one KV head)': { model_type: 'llama', num_key_value_heads: 1 },
};

describe.each(['wasm', 'cpu'] as const)('architecture variants on %s, against a plain float64 reference', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it.each(Object.entries(variants))('%s', async (_, extra) => {
    const config = parseConfig({
      vocab_size: 37,
      hidden_size: 32,
      intermediate_size: 40,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      rope_theta: 500,
      ...extra,
    });
    const model = Llama.init(config, 5);
    // non-trivial norms and biases, so they are really exercised
    for (const [name, v] of model.params) {
      if (name.endsWith('norm.weight') || name.endsWith('.bias')) {
        const t = tf.randomUniform(
          v.shape,
          name.endsWith('.bias') ? -0.2 : 0.6,
          name.endsWith('.bias') ? 0.2 : 1.4,
          'float32',
          7,
        );
        v.assign(t);
        t.dispose();
      }
    }
    const ids = [3, 17, 0, 36, 5, 5, 21];
    const want = referenceLogits(
      config,
      new Map([...(await model.weights())].map(([k, t]) => [k, t.data])),
      ids,
    ).flat();
    const got = model.forward({ inputIds: Int32Array.from(ids), batch: 1, seq: ids.length }).dataSync();
    expect(maxAbsError(got, want)).toBeLessThan(1e-4);
    model.dispose();
  });
});
