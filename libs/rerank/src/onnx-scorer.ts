import * as ort from 'onnxruntime-node';
import { exportOnnx, rotaryTables } from '@tunekit/model';
import type { RerankPair } from './format';
import { HEAD_WEIGHT, type Reranker } from './reranker';

export interface ScoredPairs {
  scores: Float32Array;
  inputTokens: Int32Array;
  truncatedTokens: Int32Array;
}

/**
 * The reranker exported to ONNX and run by ONNX Runtime (CPU): the same input encoding and the
 * same scores as `Reranker.scoreDetailed` (checked by the tests to float rounding), usually faster
 * on a CPU. Full sequences, no prefix cache.
 */
export class OnnxScorer {
  private constructor(private readonly reranker: Reranker, private readonly session: ort.InferenceSession) {}

  static async create(reranker: Reranker, o: { threads?: number } = {}): Promise<OnnxScorer> {
    const m = reranker.model, c = m.config;
    let readout: Float32Array;
    if (reranker.config.mode === 'head') readout = (m.p(HEAD_WEIGHT).dataSync() as Float32Array).slice();
    else {
      const table = m.p(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight').dataSync() as Float32Array;
      const [yes, no] = [reranker.tokenizer.encode(reranker.config.yesToken!)[0], reranker.tokenizer.encode(reranker.config.noToken!)[0]];
      readout = Float32Array.from({ length: c.hidden_size }, (_, j) => table[yes * c.hidden_size + j] - table[no * c.hidden_size + j]);
    }
    const session = await ort.InferenceSession.create(exportOnnx(m, readout), {
      intraOpNumThreads: o.threads ?? 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
    });
    return new OnnxScorer(reranker, session);
  }

  async scoreDetailed(pairs: readonly RerankPair[], o: { batchSize?: number } = {}): Promise<ScoredPairs> {
    const batchSize = o.batchSize ?? 32;
    const encodings = pairs.map((p) => this.reranker.encode(p));
    const scores = new Float32Array(pairs.length);
    const order = [...encodings.keys()].sort((a, b) => encodings[a].ids.length - encodings[b].ids.length);
    const c = this.reranker.model.config;
    for (let i = 0; i < order.length; i += batchSize) {
      const chunk = order.slice(i, i + batchSize);
      const B = chunk.length, T = Math.max(...chunk.map((j) => encodings[j].ids.length));
      const ids = new BigInt64Array(B * T).fill(BigInt(this.reranker.tokenizer.padId));
      const positions = new Int32Array(B * T);
      const last = new BigInt64Array(B);
      chunk.forEach((j, b) => {
        const seq = encodings[j].ids;
        for (let t = 0; t < seq.length; t++) ids[b * T + t] = BigInt(seq[t]);
        for (let t = 0; t < T; t++) positions[b * T + t] = t;
        last[b] = BigInt(b * T + seq.length - 1);
      });
      // right padding under a causal mask: no real token ever sees the padding after it
      const bias = new Float32Array(B * T * T);
      for (let b = 0; b < B; b++) for (let q = 0; q < T; q++) bias.fill(-1e9, (b * T + q) * T + q + 1, (b * T + q + 1) * T);
      const { cos, sin } = rotaryTables(positions, B, T, c.head_dim, c.rope_theta);
      const out = await this.session.run({
        input_ids: new ort.Tensor('int64', ids, [B, T]),
        rope_cos: new ort.Tensor('float32', cos, [B, 1, T, c.head_dim]),
        rope_sin: new ort.Tensor('float32', sin, [B, 1, T, c.head_dim]),
        attention_bias: new ort.Tensor('float32', bias, [B, 1, T, T]),
        last_index: new ort.Tensor('int64', last, [B]),
      });
      const values = out.score.data as Float32Array;
      chunk.forEach((j, b) => (scores[j] = values[b]));
    }
    return { scores, inputTokens: Int32Array.from(encodings, (e) => e.ids.length), truncatedTokens: Int32Array.from(encodings, (e) => e.truncatedTokens) };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
