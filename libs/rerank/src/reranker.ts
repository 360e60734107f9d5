import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng, TextTokenizer, saveTokenizer, type ChatTemplate } from '@tunekit/data';
import { Llama, gatherRows, loadModel, saveModel, variableOf, type KVCache, type PrefixKV } from '@tunekit/model';
import { DEFAULT_FORMAT, InputError, encodePair, type EncodedPair, type RerankFormat, type RerankPair } from './format';
import { commonPrefix, lengthBatches, prefixGroups } from './prefix';

/**
 * The instruction-following reranker: a decoder language model that reads (instruction, query,
 * document) rendered with its chat template and scores relevance at the last token, either as
 * logit("yes") − logit("no") (Qwen3-Reranker's way; no new weights) or with a linear head on the
 * final hidden state (`score.weight` [1, hidden], as HF's *ForSequenceClassification names it).
 */
export const SCORE_MODES = ['yes_no', 'head'] as const;
export type ScoreMode = (typeof SCORE_MODES)[number];
export const HEAD_WEIGHT = 'score.weight';

export interface RerankerConfig extends RerankFormat {
  mode: ScoreMode;
  /** Answer tokens read in `yes_no` mode (each one token of the tokenizer). */
  yesToken?: string;
  noToken?: string;
}

export interface ScoreOptions {
  /** Sequences per forward pass. */
  batchSize?: number;
  /**
   * Pairs that share an instruction and query share the start of their tokens: run it once and
   * reuse its keys and values for every document (default on; same scores up to float rounding).
   */
  prefixCache?: boolean;
}

export class Reranker {
  readonly template: ChatTemplate;
  private readonly yesId: number;
  private readonly noId: number;

  private constructor(
    readonly model: Llama,
    readonly tokenizer: TextTokenizer,
    readonly config: RerankerConfig,
  ) {
    this.template = tokenizer.chatTemplate();
    this.yesId = config.mode === 'yes_no' ? singleToken(tokenizer, config.yesToken ?? '') : -1;
    this.noId = config.mode === 'yes_no' ? singleToken(tokenizer, config.noToken ?? '') : -1;
    if (config.mode === 'head' && !model.params.has(HEAD_WEIGHT))
      throw new Error(`head mode needs ${HEAD_WEIGHT} in the model`);
  }

  /** A reranker on top of a (tuned) chat model; head mode adds a fresh N(0, 0.02) head. */
  static create(model: Llama, tokenizer: TextTokenizer, options: Partial<RerankerConfig> = {}, seed = 0): Reranker {
    const mode = options.mode ?? 'yes_no';
    const config: RerankerConfig = {
      ...DEFAULT_FORMAT,
      maxLength: Math.min(DEFAULT_FORMAT.maxLength, model.config.max_position_embeddings),
      ...options,
      mode,
    };
    if (mode === 'yes_no') {
      config.yesToken ??= pickToken(tokenizer, ['yes', 'Yes', ' yes']);
      config.noToken ??= pickToken(tokenizer, ['no', 'No', ' no']);
    }
    if (mode === 'head' && !model.params.has(HEAD_WEIGHT)) {
      const rng = new Rng(seed);
      const h = model.config.hidden_size;
      model.params.set(
        HEAD_WEIGHT,
        variableOf(
          Float32Array.from({ length: h }, () => 0.02 * rng.gaussian()),
          [1, h],
        ),
      );
    }
    return new Reranker(model, tokenizer, config);
  }

  /** Loads a directory written by `save` (an HF model directory with `reranker.json`). */
  static async load(dir: string): Promise<Reranker> {
    const file = path.join(dir, 'reranker.json');
    let config: RerankerConfig;
    try {
      config = {
        ...DEFAULT_FORMAT,
        ...(JSON.parse(await readFile(file, 'utf8')) as Partial<RerankerConfig>),
      } as RerankerConfig;
    } catch (err) {
      throw new InputError(
        `${file}: ${
          (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'not found: this is not a reranker directory (train one with the rerank stage)'
            : (err as Error).message
        }`,
      );
    }
    const model = await loadModel(dir, { extra: [HEAD_WEIGHT] });
    return new Reranker(model, await TextTokenizer.fromDirectory(dir), config);
  }

  /** Writes the model (with its head), the tokenizer files and `reranker.json`. */
  async save(dir: string): Promise<void> {
    await saveModel(this.model, dir);
    await saveTokenizer(this.tokenizer, dir);
    await writeFile(path.join(dir, 'reranker.json'), JSON.stringify(this.config, null, 2) + '\n');
  }

  encode(pair: RerankPair): EncodedPair {
    return encodePair(this.tokenizer, this.template, this.config, pair);
  }

  /** Differentiable scores [B] of token sequences (each ends where the answer would start). */
  scoreIds(seqs: readonly number[][]): tf.Tensor1D {
    const B = seqs.length,
      T = Math.max(...seqs.map((s) => s.length));
    const inputIds = new Int32Array(B * T).fill(this.tokenizer.padId);
    const last = new Int32Array(B);
    seqs.forEach((s, b) => {
      inputIds.set(s, b * T);
      last[b] = b * T + s.length - 1;
    });
    // right padding: real tokens never attend to the padding after them
    const hidden = this.model.hidden({ inputIds, batch: B, seq: T }); // [B, T, h]
    return this.readScores(gatherRows(hidden.reshape([B * T, -1]) as tf.Tensor2D, last)); // [B]
  }

  /**
   * Differentiable scores of groups of sequences that share a start (a query's candidates): each
   * group's common prefix runs once, and its keys and values are broadcast to the group's rows
   * (by a product with a one-hot matrix, so gradients flow back into the prefix). Scores [Σ rows]
   * in group order; the same values as `scoreIds` on the full sequences.
   */
  scoreGroups(groups: readonly number[][][]): tf.Tensor1D {
    const prefixes = groups.map((g) => commonPrefix(g));
    if (prefixes.some((p) => p < 4)) return this.scoreIds(groups.flat());
    const G = groups.length,
      P = Math.max(...prefixes),
      N = groups.reduce((n, g) => n + g.length, 0);
    const pad = this.tokenizer.padId;
    const prefixIds = new Int32Array(G * P).fill(pad);
    const prefixSegments = new Int32Array(G * P);
    groups.forEach((g, i) => {
      prefixIds.set(g[0].slice(0, prefixes[i]), i * P);
      prefixSegments.fill(1, i * P, i * P + prefixes[i]);
    });
    const collected = this.model.hiddenAndKV({ inputIds: prefixIds, segmentIds: prefixSegments, batch: G, seq: P }).kv;
    const suffixes = groups.flatMap((g, i) =>
      g.map((s) => ({ ids: s.slice(prefixes[i]), from: prefixes[i], group: i })),
    );
    const T = Math.max(...suffixes.map((s) => s.ids.length));
    const inputIds = new Int32Array(N * T).fill(pad),
      positionIds = new Int32Array(N * T),
      last = new Int32Array(N);
    const expand = new Float32Array(N * G); // [N, G] one-hot: row → its group
    const segments: Int32Array[] = [];
    suffixes.forEach((s, n) => {
      inputIds.set(s.ids, n * T);
      for (let t = 0; t < T; t++) positionIds[n * T + t] = s.from + t;
      last[n] = n * T + s.ids.length - 1;
      expand[n * G + s.group] = 1;
      segments.push(prefixSegments.subarray(s.group * P, (s.group + 1) * P));
    });
    const E = tf.tensor2d(expand, [N, G]);
    const broadcast = (x: tf.Tensor4D) =>
      tf.matMul(E, x.reshape([G, -1])).reshape([N, ...x.shape.slice(1)]) as tf.Tensor4D; // [N, KV, P, d]
    const prefix: PrefixKV = { layers: collected.map((l) => ({ k: broadcast(l.k), v: broadcast(l.v) })), segments };
    const hidden = this.model.hidden({ inputIds, positionIds, batch: N, seq: T }, { prefix }); // [N, T, h]
    return this.readScores(gatherRows(hidden.reshape([N * T, -1]) as tf.Tensor2D, last)); // [N]
  }

  /** Relevance scores of pairs (raw: higher is more relevant), batched by length. */
  score(pairs: readonly RerankPair[], o: ScoreOptions = {}): Float32Array {
    return this.scoreDetailed(pairs, o).scores;
  }

  /** Scores with each pair's input length and the tokens cut from its document. */
  scoreDetailed(
    pairs: readonly RerankPair[],
    o: ScoreOptions = {},
  ): { scores: Float32Array; inputTokens: Int32Array; truncatedTokens: Int32Array } {
    const batchSize = o.batchSize ?? 32;
    const encodings = pairs.map((p) => this.encode(p));
    const encoded = encodings.map((e) => e.ids);
    const out = new Float32Array(pairs.length);
    for (const { members, prefix } of prefixGroups(pairs, encoded, o.prefixCache !== false)) {
      const cache = prefix ? this.prefill(encoded[members[0]].slice(0, prefix)) : undefined;
      for (const chunk of lengthBatches(members, encoded, batchSize)) {
        const scores = cache
          ? this.scoreWithPrefix(
              cache,
              chunk.map((j) => encoded[j].slice(prefix)),
            )
          : tf.tidy(() => this.scoreIds(chunk.map((j) => encoded[j])).dataSync() as Float32Array);
        chunk.forEach((j, k) => (out[j] = scores[k]));
      }
    }
    return {
      scores: out,
      inputTokens: Int32Array.from(encoded, (ids) => ids.length),
      truncatedTokens: Int32Array.from(encodings, (e) => e.truncatedTokens),
    };
  }

  dispose(): void {
    this.model.dispose();
  }

  private readScores(last: tf.Tensor2D): tf.Tensor1D {
    if (this.config.mode === 'head') {
      return tf.sum(tf.mul(last, this.model.param(HEAD_WEIGHT)), -1) as tf.Tensor1D; // [B]
    }
    const c = this.model.config;
    const table = this.model.param(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'); // [V, h]
    const direction = tf.sub(
      tf.slice(table, [this.yesId, 0], [1, c.hidden_size]),
      tf.slice(table, [this.noId, 0], [1, c.hidden_size]),
    ); // [1, h]
    return tf.sum(tf.mul(last, direction), -1) as tf.Tensor1D; // [B]: logit(yes) − logit(no)
  }

  /** Keys and values of a shared prefix, computed once and kept as plain arrays. */
  private prefill(prefix: number[]): CachedPrefix {
    const cache: KVCache = { layers: [], segments: [], length: 0 };
    tf.tidy(() => {
      this.model.hiddenCached({ inputIds: Int32Array.from(prefix), batch: 1, seq: prefix.length }, cache);
    });
    const layers = cache.layers.map((l) => ({
      shape: l.k.shape,
      k: l.k.dataSync() as Float32Array,
      v: l.v.dataSync() as Float32Array,
    }));
    for (const l of cache.layers) tf.dispose([l.k, l.v]);
    return { layers, segments: cache.segments[0], length: cache.length };
  }

  /** Scores the suffixes of sequences that all start with the cached prefix. */
  private scoreWithPrefix(prefix: CachedPrefix, suffixes: number[][]): Float32Array {
    const B = suffixes.length,
      T = Math.max(...suffixes.map((s) => s.length));
    // one copy of the prefix per row, built in JS (tf.tile is slow on the wasm backend)
    const repeat = (data: Float32Array, shape: number[]) => {
      const out = new Float32Array(B * data.length);
      for (let b = 0; b < B; b++) out.set(data, b * data.length);
      return tf.tensor4d(out, [B, shape[1], shape[2], shape[3]]); // [B, KV, P, d]
    };
    const cache: KVCache = {
      layers: prefix.layers.map((l) => ({ k: repeat(l.k, l.shape), v: repeat(l.v, l.shape) })),
      segments: Array.from({ length: B }, () => prefix.segments),
      length: prefix.length,
    };
    try {
      return tf.tidy(() => {
        const inputIds = new Int32Array(B * T).fill(this.tokenizer.padId);
        const last = new Int32Array(B);
        suffixes.forEach((s, b) => {
          inputIds.set(s, b * T);
          last[b] = b * T + s.length - 1;
        });
        const hidden = this.model.hiddenCached({ inputIds, batch: B, seq: T }, cache); // [B, T, h]
        return this.readScores(gatherRows(hidden.reshape([B * T, -1]) as tf.Tensor2D, last)).dataSync() as Float32Array;
      });
    } finally {
      for (const l of cache.layers) tf.dispose([l.k, l.v]);
    }
  }
}

/** A shared prefix's keys and values per layer ([1, KV, P, d] each, as arrays). */
interface CachedPrefix {
  layers: { shape: number[]; k: Float32Array; v: Float32Array }[];
  segments: Int32Array;
  length: number;
}

function singleToken(tokenizer: TextTokenizer, token: string): number {
  const ids = tokenizer.encode(token);
  if (ids.length !== 1)
    throw new InputError(
      `answer token ${JSON.stringify(token)} is ${ids.length} tokens in this tokenizer; ` +
        'choose one that is a single token',
    );
  return ids[0];
}

function pickToken(tokenizer: TextTokenizer, candidates: string[]): string {
  const found = candidates.find((c) => tokenizer.encode(c).length === 1);
  if (!found)
    throw new InputError(
      `none of ${candidates.map((c) => JSON.stringify(c)).join(', ')} is a single token in this tokenizer; ` +
        'use head mode or name the answer tokens',
    );
  return found;
}
