import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { DataError } from '../errors';
import { CHATML_JINJA, ChatMLTemplate } from '../template/chatml';
import { JinjaChatTemplate } from '../template/jinja';
import type { ChatTemplate } from '../template/template';
import { alignTokens, type Spelling } from './offsets';

/** The parts of `tokenizer.json` we read ourselves; the rest goes to @huggingface/tokenizers as is. */
export interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  model: { type: string; vocab: Record<string, number> | unknown[]; merges?: unknown[]; [key: string]: unknown };
  pre_tokenizer?: unknown;
  decoder?: unknown;
  [key: string]: unknown;
}

/** `tokenizer_config.json`: special tokens, chat template, BOS policy. */
export interface TokenizerConfig {
  bos_token?: string | null | { content: string };
  eos_token?: string | null | { content: string };
  pad_token?: string | null | { content: string };
  add_bos_token?: boolean;
  chat_template?: string | { name: string; template: string }[];
  model_max_length?: number;
  [key: string]: unknown;
}

export interface Encoding {
  ids: number[];
  /** `[start, end)` character offsets of token i at `2i`, `2i + 1`. */
  offsets: Int32Array;
}

/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) with what training needs:
 * token ids with character offsets, special-token ids and the chat template.
 */
export class TextTokenizer {
  readonly json: TokenizerJson;
  readonly config: TokenizerConfig;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly padToken: string | undefined;
  readonly vocabSize: number;
  private readonly inner: Tokenizer;
  private readonly specialIds: Set<number>;
  private readonly spelling: Spelling | undefined;
  private readonly specialPattern: RegExp | undefined;

  constructor(json: TokenizerJson, config: TokenizerConfig = {}) {
    this.json = json;
    this.config = config;
    this.inner = new Tokenizer(json, { clean_up_tokenization_spaces: false, ...config });
    this.specialIds = new Set((json.added_tokens ?? []).map((t) => t.id));
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    this.padToken = tokenText(config.pad_token) ?? this.eosToken;
    const ids = [...this.inner.get_vocab(true).values()];
    this.vocabSize = ids.reduce((a, b) => Math.max(a, b), -1) + 1;
    this.spelling = detectSpelling(json);
    const added = (json.added_tokens ?? []).map((t) => t.content).sort((a, b) => b.length - a.length);
    this.specialPattern = added.length ? new RegExp(added.map(escapeRegExp).join('|')) : undefined;
  }

  /** Reads `tokenizer.json` and `tokenizer_config.json` from a model directory. */
  static async fromDirectory(dir: string): Promise<TextTokenizer> {
    const json = await readJsonFile<TokenizerJson>(path.join(dir, 'tokenizer.json'));
    const config = await readJsonFile<TokenizerConfig>(path.join(dir, 'tokenizer_config.json')).catch(
      (err: unknown) => {
        if (err instanceof DataError && err.message.endsWith('not found')) return {};
        throw err;
      },
    );
    return new TextTokenizer(json, config);
  }

  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }

  /** Id of a token that must exist (special tokens the template or training relies on). */
  requireId(token: string): number {
    const id = this.tokenToId(token);
    if (id === undefined) throw new DataError(`the tokenizer has no token ${JSON.stringify(token)}`);
    return id;
  }

  get bosId(): number | undefined {
    return this.bosToken === undefined ? undefined : this.tokenToId(this.bosToken);
  }

  get eosId(): number | undefined {
    return this.eosToken === undefined ? undefined : this.tokenToId(this.eosToken);
  }

  get padId(): number {
    return this.padToken !== undefined ? this.requireId(this.padToken) : 0;
  }

  /** True when the model expects a BOS token the chat template does not write itself. */
  get addsBos(): boolean {
    return this.config.add_bos_token === true && this.bosToken !== undefined;
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The first added-token string that occurs in `text`, if any. */
  findSpecialToken(text: string): string | undefined {
    return this.specialPattern?.exec(text)?.[0];
  }

  /** Token ids of `text`; special-token strings in it become special tokens, nothing is added around it. */
  encode(text: string): number[] {
    return this.inner.encode(text, { add_special_tokens: false }).ids;
  }

  /** Token ids of `text` with each token's character span in it. */
  encodeWithOffsets(text: string): Encoding {
    if (this.spelling === undefined)
      throw new DataError(
        'this tokenizer type (not byte-level BPE or SentencePiece-style) does not support character offsets',
      );
    const { ids, tokens } = this.inner.encode(text, { add_special_tokens: false });
    const offsets = alignTokens(
      text,
      tokens,
      ids.map((id) => this.specialIds.has(id)),
      this.spelling,
    );
    return { ids, offsets };
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.inner.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The chat template from `tokenizer_config.json`, or built-in ChatML when it has none. */
  chatTemplate(): ChatTemplate {
    const source =
      typeof this.config.chat_template === 'string'
        ? this.config.chat_template
        : this.config.chat_template?.find((t) => t.name === 'default')?.template;
    // Our own ChatML template renders natively (identical output, proven in the template tests).
    if (source === undefined || source === CHATML_JINJA) return new ChatMLTemplate();
    return new JinjaChatTemplate(source, {
      variables: { bos_token: this.bosToken ?? '', eos_token: this.eosToken ?? '', pad_token: this.padToken ?? '' },
    });
  }
}

function tokenText(token: TokenizerConfig['bos_token']): string | undefined {
  if (token === null || token === undefined) return undefined;
  return typeof token === 'string' ? token : token.content;
}

function detectSpelling(json: TokenizerJson): Spelling | undefined {
  const text = JSON.stringify([json.pre_tokenizer ?? null, json.decoder ?? null]);
  if (json.model.type === 'BPE' && text.includes('"ByteLevel"')) return 'byte-level';
  if (text.includes('Metaspace') || text.includes('\u2581') || text.includes('ByteFallback')) return 'metaspace';
  return undefined;
}

export async function readJsonFile<T>(file: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new DataError(`${file}: not found`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new DataError(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
