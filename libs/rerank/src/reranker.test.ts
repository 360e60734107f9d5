import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_OPTIMIZER, Llama, addLora, selectBackend, trainLoop } from '@tunekit/model';
import { maxAbsError, maxAbsErrorByName } from '@tunekit/model/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { HEAD_WEIGHT, Reranker } from './reranker';
import { evaluateGroups, rankingStepLoss, type RankingGroup } from './train';
import { COLORS, tinyConfig as config, tinyTokenizer as tokenizer } from './testing/tiny';
const pairs = [
  { query: 'find red', document: 'the red one' },
  { query: 'find red', document: 'a blue thing, long and with more words than the others' },
  { query: 'find red', document: 'the green one' },
  { query: 'find blue', instruction: 'Only blue counts.', document: 'the blue one' },
  { query: 'find red', document: 'the yellow one' },
];
/**
 * Groups whose positive is the red document, with three other colours as negatives: learnable only by reading the
 * documents.
 */
const groups = (n: number, seed: number): RankingGroup[] =>
  Array.from({ length: n }, (_, i) => {
    const others = COLORS.filter((x) => x !== 'red');
    return {
      query: 'find red',
      positive: 'the red one',
      negatives: [0, 1, 2].map((k) => `the ${others[(i + k * 2 + seed) % 7]} one`),
    };
  });

describe.each(['wasm', 'cpu'] as const)('the reranker on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it('renders instruction, query and document with the chat template, cutting only the document', () => {
    const r = Reranker.create(Llama.init(config, 1), tokenizer, { maxDocTokens: 6 });
    const long = 'the red one and the blue one and the green one and more';
    const e = r.encode({ query: 'find red', document: long });
    const text = tokenizer.decode(e.ids);
    expect(text).toContain('<|im_start|>system\nJudge whether the Document meets the requirements');
    expect(text).toContain(`<Instruct>: ${r.config.defaultInstruction}\n<Query>: find red\n<Document>: the red`);
    expect(text.endsWith('<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    expect(e.truncatedTokens).toBe(tokenizer.encode(long).length - 6);
    expect(long.startsWith(/<Document>: (.*)<\|im_end\|>/.exec(text)![1])).toBe(true);
    const longQuery = 'find red '.repeat(80);
    expect(r.encode({ query: longQuery.slice(0, 200), document: long }).ids.length).toBeGreaterThan(60);
    expect(() => r.encode({ query: longQuery.repeat(3), document: 'x' })).toThrow(
      /instruction and query take .* never truncated/,
    );
    // a document that fits its own budget but not the context is cut to what fits
    const tight = Reranker.create(Llama.init(config, 1), tokenizer, { maxDocTokens: 128, maxLength: 200 });
    const cut = tight.encode({ query: 'find red', document: long.repeat(10) });
    expect(cut.ids.length).toBeLessThanOrEqual(200);
    expect(cut.ids.length).toBeGreaterThan(195);
    expect(cut.truncatedTokens).toBeGreaterThan(0);
  });

  it(
    'marks the document words that share a BM25 term with the query when its format asks, ' +
      'and keeps the choice on save',
    async () => {
      const plain = Reranker.create(Llama.init(config, 1), tokenizer);
      const marked = Reranker.create(Llama.init(config, 1), tokenizer, { markQueryTerms: true });
      const pair = { query: 'find the reds', document: "The red one and the blue one, red's own" };
      expect(tokenizer.decode(plain.encode(pair).ids)).toContain(`<Document>: ${pair.document}<|im_end|>`);
      // "the" is a stop word, "reds" and "red's" stem to "red"; the query itself is left as it is
      expect(tokenizer.decode(marked.encode(pair).ids)).toContain(
        "<Query>: find the reds\n<Document>: The **red** one and the blue one, **red's** own<|im_end|>",
      );
      expect(tokenizer.decode(marked.encode({ query: 'the', document: 'the one' }).ids)).toContain(
        '<Document>: the one<|im_end|>',
      );
      const dir = await mkdtemp(path.join(tmpdir(), 'reranker-marked-'));
      await marked.save(dir);
      const loaded = await Reranker.load(dir);
      expect(loaded.config.markQueryTerms).toBe(true);
      expect(loaded.encode(pair).ids).toEqual(marked.encode(pair).ids);
      for (const r of [plain, marked, loaded]) r.dispose();
    },
  );

  it('scores yes/no as logit(yes) − logit(no) at the last token, the same with and without the prefix cache', () => {
    const model = Llama.init(config, 2);
    const r = Reranker.create(model, tokenizer);
    const direct = pairs.map((p) => {
      const ids = r.encode(p).ids;
      const logits = model.forward({ inputIds: Int32Array.from(ids), batch: 1, seq: ids.length });
      const last = logits.slice([0, ids.length - 1, 0], [1, 1, -1]).dataSync();
      logits.dispose();
      return last[tokenizer.encode(r.config.yesToken!)[0]] - last[tokenizer.encode(r.config.noToken!)[0]];
    });
    const cached = r.score(pairs, { batchSize: 2 });
    const plain = r.score(pairs, { prefixCache: false });
    for (let i = 0; i < pairs.length; i++) {
      expect(cached[i]).toBeCloseTo(direct[i], 4);
      expect(plain[i]).toBeCloseTo(direct[i], 4);
    }
    const before = tf.memory().numTensors;
    r.score(pairs);
    r.score(pairs, { prefixCache: false });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('scores groups through a shared prefix with the values and gradients of full sequences', () => {
    for (const mode of ['yes_no', 'head'] as const) {
      const r = Reranker.create(Llama.init(config, 8), tokenizer, { mode }, 8);
      const groups = [
        [pairs[0], pairs[1], pairs[2]],
        [pairs[3], { ...pairs[3], document: 'the red one' }],
      ].map((g) => g.map((p) => r.encode(p).ids));
      const vars = [...r.model.params.values()];
      const full = tf.variableGrads(
        () => tf.sum(tf.mul(r.scoreIds(groups.flat()), tf.tensor1d([1, -2, 3, 0.5, -1]))) as tf.Scalar,
        vars,
      );
      const shared = tf.variableGrads(
        () => tf.sum(tf.mul(r.scoreGroups(groups), tf.tensor1d([1, -2, 3, 0.5, -1]))) as tf.Scalar,
        vars,
      );
      expect(shared.value.dataSync()[0]).toBeCloseTo(full.value.dataSync()[0], 4);
      for (const [name, g] of Object.entries(full.grads)) {
        const a = g.dataSync(),
          b = shared.grads[name].dataSync();
        const scale = Math.max(1e-3, ...Array.from(a, Math.abs));
        expect(maxAbsError(b, a) / scale, `${mode} ${name}`).toBeLessThan(1e-3);
      }
      tf.dispose([full.value, shared.value, ...Object.values(full.grads), ...Object.values(shared.grads)]);
      r.dispose();
    }
  });

  it('saves and loads, in both modes, with the same scores', async () => {
    for (const mode of ['yes_no', 'head'] as const) {
      const r = Reranker.create(Llama.init(config, 3), tokenizer, { mode, maxDocTokens: 64 }, 5);
      expect(r.model.params.has(HEAD_WEIGHT)).toBe(mode === 'head');
      const dir = await mkdtemp(path.join(tmpdir(), `reranker-${mode}-`));
      await r.save(dir);
      const loaded = await Reranker.load(dir);
      expect(loaded.config).toEqual(r.config);
      const [a, b] = [r.score(pairs), loaded.score(pairs)];
      for (let i = 0; i < pairs.length; i++) expect(b[i]).toBeCloseTo(a[i], 6);
      loaded.dispose();
      r.dispose();
    }
    await expect(Reranker.load(tmpdir())).rejects.toThrow(/not a reranker directory/);
  });

  // 40 steps of training take ~10 s a loss on wasm and ~140 s on the pure-JavaScript cpu backend, so on cpu these
  // are skipped, saying why; cpu still computes gradients (above) and trains (the resume test below).
  it.skipIf(backend === 'cpu').each(['listwise', 'pointwise', 'pairwise'] as const)(
    backend === 'cpu'
      ? 'learns what its groups reward with the %s loss (needs the wasm backend: 40 training steps take ' +
          '~140 s on the pure-JavaScript cpu backend, ~10 s on wasm)'
      : 'learns what its groups reward with the %s loss',
    async (loss) => {
      const r = Reranker.create(Llama.init(config, 4), tokenizer, { mode: loss === 'listwise' ? 'yes_no' : 'head' }, 4);
      const heldOut = groups(16, 3);
      const before = evaluateGroups(r, heldOut, loss);
      await trainLoop({
        model: r.model,
        rows: groups(64, 0),
        stepLoss: rankingStepLoss(r, { loss, microGroups: 4 }),
        steps: 40,
        rowsPerStep: 8,
        seed: 1,
        optimizer: { ...DEFAULT_OPTIMIZER, lr: 3e-3, warmupSteps: 4, totalSteps: 40, weightDecay: 0 },
      });
      const after = evaluateGroups(r, heldOut, loss);
      expect(after.loss).toBeLessThan(before.loss);
      expect(after.accuracy).toBeGreaterThanOrEqual(0.9);
      r.dispose();
    },
  );

  it('resumes exactly from a checkpoint (head and LoRA adapters included), without leaking tensors', async () => {
    const run = async (steps: number, resumeFrom?: string, checkpointDir?: string) => {
      const model = Llama.init(config, 6);
      const r = Reranker.create(model, tokenizer, { mode: 'head' }, 6);
      const trainable = new Map([
        ...addLora(model, { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] }, 7),
        [HEAD_WEIGHT, model.param(HEAD_WEIGHT)],
      ]);
      const before = tf.memory().numTensors;
      const result = await trainLoop({
        model,
        rows: groups(20, 1),
        stepLoss: rankingStepLoss(r, { loss: 'listwise', microGroups: 1 }),
        steps,
        rowsPerStep: 2,
        seed: 2,
        trainable,
        optimizer: { ...DEFAULT_OPTIMIZER, lr: 1e-2, warmupSteps: 1, totalSteps: 4 },
        checkpointDir,
        checkpointEvery: 2,
        resumeFrom,
      });
      expect(tf.memory().numTensors).toBe(before);
      const values = new Map([...trainable].map(([k, v]) => [k, v.dataSync().slice()]));
      r.dispose();
      return { values, result };
    };
    const dir = await mkdtemp(path.join(tmpdir(), 'rerank-ckpt-'));
    const straight = await run(4);
    const first = await run(2, undefined, dir);
    const resumed = await run(4, first.result.lastCheckpoint);
    expect(maxAbsErrorByName(resumed.values, straight.values)).toBeLessThanOrEqual(1e-5);
  });
});
