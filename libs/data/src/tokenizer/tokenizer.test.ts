import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../errors';
import { TextTokenizer } from './tokenizer';
import { saveTokenizer, trainByteLevelBpe } from './train-bpe';
import { qwen3TokenizerDir } from '../testing/fixtures';

const corpus = [
  'The capital of France is Paris. The capital of Japan is Tokyo.',
  'Prices in Japan are given in JPY. To phone France, dial +33.',
  'Ελλάδα, 日本, Việt Nam, São Tomé — emoji 😀 and tabs\tand\n\nnewlines.',
];
const hard = [
  'The capital of France is Paris.',
  '  leading and trailing spaces  ',
  'tabs\t\tand\r\nwindows newlines\n\n\n',
  'Ünïcödé: Ελλάδα 日本語 😀👍🏽 zero​width',
  "it's we'll they're 1234567 3.14159 +33",
  '<|im_start|>user\nhi<|im_end|>\n',
  '',
];

describe('byte-level BPE training', () => {
  const tokenizer = trainByteLevelBpe(
    Array.from({ length: 30 }, (_, i) => corpus[i % 3]),
    { vocabSize: 350 },
  );

  it('reaches the requested vocabulary and keeps special tokens whole', () => {
    expect(tokenizer.vocabSize).toBe(350);
    expect(tokenizer.encode('<|im_start|>user<|im_end|>')).toEqual([1, ...tokenizer.encode('user'), 2]);
    expect(tokenizer.encode(' capital').length).toBe(1);
  });

  it('round-trips any text exactly, also text it never saw', () => {
    for (const text of hard) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('saves tokenizer.json + tokenizer_config.json that load back to the same tokenizer', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tok-'));
    await saveTokenizer(tokenizer, dir);
    const loaded = await TextTokenizer.fromDirectory(dir);
    for (const text of hard) {
      expect(loaded.encode(text)).toEqual(tokenizer.encode(text));
      expect(loaded.decode(loaded.encode(text))).toBe(text);
    }
    const config = JSON.parse(await readFile(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(config).toMatchObject({
      eos_token: '<|im_end|>',
      pad_token: '<|endoftext|>',
      tokenizer_class: 'PreTrainedTokenizerFast',
    });
    expect(loaded.chatTemplate().render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })).toBe(
      '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('is deterministic', () => {
    const again = trainByteLevelBpe(
      Array.from({ length: 30 }, (_, i) => corpus[i % 3]),
      { vocabSize: 350 },
    );
    expect(again.json.model.merges).toEqual(tokenizer.json.model.merges);
  });

  it('gives character offsets that cover the text exactly', () => {
    for (const text of hard) {
      const { ids, offsets } = tokenizer.encodeWithOffsets(text);
      let pieces = '';
      for (let t = 0; t < ids.length; t++) {
        expect(offsets[2 * t]).toBeGreaterThanOrEqual(t ? offsets[2 * t - 1] - 1 : 0);
        pieces += text.slice(Math.max(offsets[2 * t], t ? offsets[2 * t - 1] : 0), offsets[2 * t + 1]);
      }
      expect(pieces).toBe(text);
    }
  });
});

describe('loading a real Hugging Face tokenizer (Qwen3, from node_modules)', () => {
  const dir = qwen3TokenizerDir();

  it('encodes, decodes and aligns offsets', async () => {
    const qwen = await TextTokenizer.fromDirectory(dir);
    expect(qwen.eosToken).toBe('<|im_end|>');
    expect(qwen.encode('Hello world')).toEqual([9707, 1879]);
    for (const text of hard) {
      const { ids, offsets } = qwen.encodeWithOffsets(text);
      expect(qwen.decode(ids)).toBe(text);
      if (ids.length) expect(offsets[2 * ids.length - 1]).toBe(text.length);
    }
  });

  it('reports a missing directory clearly', async () => {
    await expect(TextTokenizer.fromDirectory('/nonexistent/model')).rejects.toThrow(
      new DataError('/nonexistent/model/tokenizer.json: not found'),
    );
  });
});
