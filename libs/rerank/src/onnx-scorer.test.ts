import { Llama, selectBackend } from '@tunekit/model';
import { maxAbsError } from '@tunekit/model/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { OnnxScorer } from './onnx-scorer';
import { Reranker } from './reranker';
import { tinyConfig, tinyTokenizer } from './testing/tiny';

const pairs = [
  { query: 'find red', document: 'the red one' },
  { query: 'find red', document: 'a blue thing, long and with more words than the others' },
  { query: 'find blue', instruction: 'Only blue counts.', document: 'the blue one' },
  { query: 'find red', document: 'the yellow one' },
  { query: 'find green please', document: 'green' },
];

describe('the reranker exported to ONNX and run by ONNX Runtime', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it.each(['yes_no', 'head'] as const)(
    'gives the scores of the TensorFlow.js model with and without a shared prefix (%s, GQA, q/k norms, padded batches)',
    async (mode) => {
      const reranker = Reranker.create(Llama.init(tinyConfig, 11), tinyTokenizer, { mode }, 11);
      const expected = reranker.scoreDetailed(pairs);
      const onnx = await OnnxScorer.create(reranker);
      const full = reranker.scoreDetailed(pairs, { prefixCache: false });
      for (const prefixCache of [true, false]) {
        const got = await onnx.scoreDetailed(pairs, { batchSize: 3, prefixCache });
        expect(got.scores).toHaveLength(pairs.length);
        expect(maxAbsError(got.scores, expected.scores), `${got.scores} against ${expected.scores}`).toBeLessThan(1e-4);
        expect(
          maxAbsError(got.scores, full.scores),
          `${got.scores} against full sequences ${full.scores}`,
        ).toBeLessThan(1e-4);
        expect(got.inputTokens).toEqual(expected.inputTokens);
      }
      await onnx.release();
      reranker.dispose();
    },
  );
});
