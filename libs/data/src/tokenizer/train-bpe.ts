import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CHATML_JINJA } from '../template/chatml';
import { BYTE_TO_CHAR, toByteLevel } from './byte-level';
import { TextTokenizer, escapeRegExp, type TokenizerConfig, type TokenizerJson } from './tokenizer';

/**
 * Qwen2's pre-tokenisation pattern (case-sensitive contractions, one digit per piece), valid both in
 * JavaScript and in the Rust tokenizers' Oniguruma.
 */
export const SPLIT_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" +
  '\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';

export const DEFAULT_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

export interface TrainBpeOptions {
  /** Total vocabulary: special tokens + 256 bytes + merges. */
  vocabSize: number;
  /** Added as special tokens with the first ids. */
  specialTokens?: string[];
  /** A pair must occur this often to be merged. */
  minFrequency?: number;
  /** Written to `tokenizer_config.json`. */
  eosToken?: string;
  padToken?: string;
  chatTemplate?: string;
  modelMaxLength?: number;
}

/**
 * Trains a byte-level BPE tokenizer: every byte is in the base alphabet (so any text round-trips),
 * and the most frequent adjacent pair is merged until the vocabulary is full. Ties go to the pair
 * of older (lower-id) symbols, so training is deterministic.
 */
export function trainByteLevelBpe(texts: Iterable<string>, options: TrainBpeOptions): TextTokenizer {
  const specials = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const minFrequency = options.minFrequency ?? 2;
  if (options.vocabSize < specials.length + 256)
    throw new Error(`vocabSize must be at least ${specials.length + 256} (special tokens + 256 bytes)`);

  const vocab: string[] = [...specials, ...BYTE_TO_CHAR];
  const idOf = new Map(vocab.map((t, i) => [t, i]));

  // Count pre-tokenised pieces, as byte-level strings.
  const pieceCounts = new Map<string, number>();
  const splitter = new RegExp(SPLIT_PATTERN, 'gu');
  const specialSplit = new RegExp(specials.map(escapeRegExp).join('|'), 'g');
  for (const text of texts) {
    for (const part of text.split(specialSplit)) {
      for (const match of part.matchAll(splitter)) {
        const piece = toByteLevel(match[0]);
        pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1);
      }
    }
  }

  const words: number[][] = [];
  const counts: number[] = [];
  for (const [piece, count] of pieceCounts) {
    words.push([...piece].map((ch) => idOf.get(ch)!));
    counts.push(count);
  }

  const key = (a: number, b: number) => a * 1048576 + b;
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1) => {
    const word = words[w];
    for (let i = 0; i + 1 < word.length; i++) {
      const k = key(word[i], word[i + 1]);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + sign * counts[w]);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const merges: [string, string][] = [];
  while (vocab.length < options.vocabSize) {
    let bestKey = -1;
    let bestCount = 0;
    for (const [k, c] of pairCounts) {
      if (c > bestCount || (c === bestCount && c > 0 && k < bestKey)) [bestKey, bestCount] = [k, c];
    }
    if (bestKey < 0 || bestCount < minFrequency) break;
    const a = Math.floor(bestKey / 1048576);
    const b = bestKey % 1048576;
    const merged = vocab.length;
    vocab.push(vocab[a] + vocab[b]);
    merges.push([vocab[a], vocab[b]]);
    for (const w of pairWords.get(bestKey) ?? []) {
      const word = words[w];
      addPairs(w, -1);
      const next: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(word[i]);
      }
      words[w] = next;
      addPairs(w, 1);
    }
    pairCounts.delete(bestKey);
    pairWords.delete(bestKey);
  }

  const json = tokenizerJson(vocab, merges, specials);
  const config = tokenizerConfig(specials, options);
  return new TextTokenizer(json, config);
}

function tokenizerJson(vocab: string[], merges: [string, string][], specials: string[]): TokenizerJson {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
      merges: merges.map(([x, y]) => `${x} ${y}`),
    },
  };
}

function tokenizerConfig(specials: string[], options: TrainBpeOptions): TokenizerConfig {
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(
      specials.map((content, id) => [
        String(id),
        { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
      ]),
    ),
    bos_token: null,
    chat_template: options.chatTemplate ?? CHATML_JINJA,
    clean_up_tokenization_spaces: false,
    eos_token: options.eosToken ?? (specials.includes('<|im_end|>') ? '<|im_end|>' : specials[0]),
    errors: 'replace',
    model_max_length: options.modelMaxLength ?? 2048,
    pad_token: options.padToken ?? specials[0],
    split_special_tokens: false,
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: null,
  };
}

/** Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (a Hugging Face model directory). */
export async function saveTokenizer(tokenizer: TextTokenizer, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.json, null, 2) + '\n');
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizer.config, null, 2) + '\n');
}
