import * as tf from '@tensorflow/tfjs';
import { Rng } from '@tunekit/data';
import type { KVCache, Llama } from './llama';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (default) is greedy decoding. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
  /** Generation of a row ends after it produces one of these (end-of-turn, EOS). */
  stopTokens?: number[];
  /** Pad id for left-padding prompts of different lengths. */
  padId?: number;
  seed?: number;
  /** Reuse keys and values of earlier positions (default); off recomputes the whole prefix each step. */
  useCache?: boolean;
}

export interface Generation {
  /** New tokens per prompt, including the stop token when one ended it. */
  tokens: number[][];
  finishReason: ('stop' | 'length')[];
}

/**
 * Continues each prompt. Prompts of different lengths are left-padded; padding is its own
 * attention segment and position ids count real tokens only, so every row generates exactly what
 * it would generate alone.
 */
export function generate(model: Llama, prompts: number[][], o: GenerateOptions): Generation {
  if (prompts.length === 0) return { tokens: [], finishReason: [] };
  if (prompts.some((p) => p.length === 0)) throw new Error('generate: every prompt needs at least one token');
  const B = prompts.length;
  const longest = Math.max(...prompts.map((p) => p.length));
  const rng = new Rng(o.seed ?? 0);
  const stop = new Set(o.stopTokens ?? []);
  const out: number[][] = prompts.map(() => []);
  const done = new Array<boolean>(B).fill(false);
  const reason: Generation['finishReason'] = new Array(B).fill('length');

  // Row state: all tokens so far (left-padded), segment ids and positions.
  const ids = prompts.map((p) => [...new Array(longest - p.length).fill(o.padId ?? 0), ...p]);
  const segs = prompts.map((p) => [...new Array(longest - p.length).fill(0), ...new Array(p.length).fill(1)]);
  const pos = prompts.map((p) => [...new Array(longest - p.length).fill(0), ...p.map((_, i) => i)]);
  const cache: KVCache | undefined = o.useCache === false ? undefined : { layers: [], segments: [], length: 0 };

  try {
    let fed = 0; // positions already in the cache
    for (let step = 0; step < o.maxNewTokens && done.includes(false); step++) {
      const start = cache ? fed : 0;
      const T = ids[0].length - start;
      const flat = (rows: number[][]) => Int32Array.from(rows.flatMap((r) => r.slice(start)));
      const last = tf.tidy(() => {
        const inputs = { inputIds: flat(ids), positionIds: flat(pos), segmentIds: flat(segs), batch: B, seq: T };
        const hidden = cache ? model.hiddenCached(inputs, cache) : model.hidden(inputs); // [B, T, h]
        const final = hidden.slice([0, T - 1, 0], [B, 1, -1]); // [B, 1, h]
        return model.logits(final as tf.Tensor3D).reshape([B, -1]); // [B, V]
      });
      const logits = last.arraySync() as number[][];
      last.dispose();
      fed = ids[0].length;
      for (let b = 0; b < B; b++) {
        const token = done[b] ? (o.padId ?? 0) : pick(logits[b], o, rng);
        ids[b].push(token);
        segs[b].push(done[b] ? 0 : 1);
        pos[b].push(done[b] ? 0 : pos[b][pos[b].length - 1] + 1);
        if (done[b]) continue;
        out[b].push(token);
        if (stop.has(token)) {
          done[b] = true;
          reason[b] = 'stop';
        }
      }
    }
  } finally {
    if (cache) for (const layer of cache.layers) tf.dispose([layer.k, layer.v]);
  }
  return { tokens: out, finishReason: reason };
}

/** Greedy, or sampling with temperature, top-k and top-p. */
function pick(logits: number[], o: GenerateOptions, rng: Rng): number {
  const temperature = o.temperature ?? 0;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let order = logits.map((l, i) => [l / temperature, i] as [number, number]).sort((a, b) => b[0] - a[0]);
  if (o.topK && o.topK > 0) order = order.slice(0, o.topK);
  const max = order[0][0];
  let probs = order.map(([l]) => Math.exp(l - max));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  if (o.topP !== undefined && o.topP < 1) {
    let cumulative = 0;
    let keep = 0;
    while (keep < probs.length && cumulative < o.topP) cumulative += probs[keep++];
    order = order.slice(0, keep);
    probs = probs.slice(0, keep);
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
  }
  let r = rng.next();
  for (let i = 0; i < probs.length; i++) {
    r -= probs[i];
    if (r < 0) return order[i][1];
  }
  return order[order.length - 1][1];
}
