import * as ort from 'onnxruntime-node';
import { exportOnnx, rotaryTables } from '@tunekit/model';
import type { RerankPair } from './format';
import { lengthBatches, prefixGroups } from './prefix';
import { HEAD_WEIGHT, type Reranker } from './reranker';

export interface ScoredPairs {
  scores: Float32Array;
  inputTokens: Int32Array;
  truncatedTokens: Int32Array;
}

export interface OnnxScoreOptions {
  /** Sequences per forward pass. */
  batchSize?: number;
  /** Run the start that pairs of one query share (system message, instruction, query) once per query (default on). */
  prefixCache?: boolean;
}

/** Keys and values of a prefix, one [1, KV, P, d] tensor per layer and kind, by input name. */
type PastFeeds = Record<string, ort.Tensor>;

/**
 * The reranker exported to ONNX and run by ONNX Runtime (CPU): the same input encoding and the
 * same scores as `Reranker.scoreDetailed` (checked by the tests to float rounding), usually faster
 * on a CPU. Two graphs: one runs a query's shared prefix once and returns its keys and values,
 * the other scores the documents' remaining tokens on top of them.
 */
export class OnnxScorer {
  private constructor(
    private readonly reranker: Reranker,
    private readonly scorer: ort.InferenceSession,
    private readonly prefill: ort.InferenceSession,
  ) {}

  static async create(reranker: Reranker, o: { threads?: number } = {}): Promise<OnnxScorer> {
    const m = reranker.model,
      c = m.config;
    let readout: Float32Array;
    if (reranker.config.mode === 'head') readout = (m.param(HEAD_WEIGHT).dataSync() as Float32Array).slice();
    else {
      const table = m
        .param(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')
        .dataSync() as Float32Array;
      const [yes, no] = [
        reranker.tokenizer.encode(reranker.config.yesToken!)[0],
        reranker.tokenizer.encode(reranker.config.noToken!)[0],
      ];
      readout = Float32Array.from(
        { length: c.hidden_size },
        (_, j) => table[yes * c.hidden_size + j] - table[no * c.hidden_size + j],
      );
    }
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: o.threads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    };
    const scorer = await ort.InferenceSession.create(exportOnnx(m, { kind: 'score', readout }), options);
    const prefill = await ort.InferenceSession.create(exportOnnx(m, { kind: 'prefix' }), options);
    return new OnnxScorer(reranker, scorer, prefill);
  }

  async scoreDetailed(pairs: readonly RerankPair[], o: OnnxScoreOptions = {}): Promise<ScoredPairs> {
    const encodings = pairs.map((p) => this.reranker.encode(p));
    const encoded = encodings.map((e) => e.ids);
    const scores = new Float32Array(pairs.length);
    for (const { members, prefix } of prefixGroups(pairs, encoded, o.prefixCache !== false)) {
      const past = prefix ? await this.runPrefix(encoded[members[0]].slice(0, prefix)) : this.emptyPast();
      for (const chunk of lengthBatches(members, encoded, o.batchSize ?? 32)) {
        const values = await this.scoreSuffixes(
          chunk.map((j) => encoded[j].slice(prefix)),
          prefix,
          past,
        );
        chunk.forEach((j, b) => (scores[j] = values[b]));
      }
    }
    return {
      scores,
      inputTokens: Int32Array.from(encoded, (ids) => ids.length),
      truncatedTokens: Int32Array.from(encodings, (e) => e.truncatedTokens),
    };
  }

  async release(): Promise<void> {
    await this.scorer.release();
    await this.prefill.release();
  }

  /** The prefix's keys and values, as the scoring graph's past inputs. */
  private async runPrefix(ids: number[]): Promise<PastFeeds> {
    const P = ids.length;
    const bias = new Float32Array(P * P);
    for (let q = 0; q < P; q++) bias.fill(-1e9, q * P + q + 1, (q + 1) * P); // causal
    const out = await this.prefill.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, P]),
      ...this.rope(
        Int32Array.from({ length: P }, (_, t) => t),
        1,
        P,
      ),
      attention_bias: new ort.Tensor('float32', bias, [1, 1, P, P]),
    });
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name.replace('present', 'past'), t]));
  }

  private emptyPast(): PastFeeds {
    const c = this.reranker.model.config;
    return Object.fromEntries(
      Array.from({ length: c.num_hidden_layers }, (_, i) => [`key.${i}`, `value.${i}`])
        .flat()
        .map((name) => [
          `past_${name}`,
          new ort.Tensor('float32', new Float32Array(0), [1, c.num_key_value_heads, 0, c.head_dim]),
        ]),
    );
  }

  /** Scores rows that each continue the P-token prefix whose keys and values are `past`. */
  private async scoreSuffixes(rows: number[][], P: number, past: PastFeeds): Promise<Float32Array> {
    const B = rows.length,
      S = Math.max(...rows.map((r) => r.length)),
      total = P + S;
    const ids = new BigInt64Array(B * S).fill(BigInt(this.reranker.tokenizer.padId));
    const positions = new Int32Array(B * S);
    const last = new BigInt64Array(B);
    rows.forEach((row, b) => {
      for (let t = 0; t < row.length; t++) ids[b * S + t] = BigInt(row[t]);
      for (let t = 0; t < S; t++) positions[b * S + t] = P + t;
      last[b] = BigInt(b * S + row.length - 1);
    });
    // every row sees the whole prefix; right padding under a causal mask: no real token ever sees the padding after it
    const bias = new Float32Array(B * S * total);
    for (let b = 0; b < B; b++)
      for (let q = 0; q < S; q++) bias.fill(-1e9, (b * S + q) * total + P + q + 1, (b * S + q + 1) * total);
    const out = await this.scorer.run({
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      ...this.rope(positions, B, S),
      attention_bias: new ort.Tensor('float32', bias, [B, 1, S, total]),
      last_index: new ort.Tensor('int64', last, [B]),
      ...past,
    });
    return out.score.data as Float32Array;
  }

  private rope(positions: Int32Array, B: number, T: number): { rope_cos: ort.Tensor; rope_sin: ort.Tensor } {
    const c = this.reranker.model.config;
    const { cos, sin } = rotaryTables(positions, B, T, c.head_dim, c.rope_theta);
    return {
      rope_cos: new ort.Tensor('float32', cos, [B, 1, T, c.head_dim]),
      rope_sin: new ort.Tensor('float32', sin, [B, 1, T, c.head_dim]),
    };
  }
}
