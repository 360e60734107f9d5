/**
 * Training throughput of the decoder, next to the PyTorch peer in the same run. Prints JSON.
 * Usage: nx run tools:bench-train [-- --backend wasm --steps 10 --runs 3 --no-peer]
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { IGNORE_INDEX, type PackedRow } from '@tunekit/data';
import {
  AdamW,
  DEFAULT_OPTIMIZER,
  Llama,
  describeBackend,
  parseConfig,
  rowsToBatch,
  selectBackend,
  trainStep,
  type BackendName,
} from '@tunekit/model';

const { values } = parseArgs({
  options: {
    backend: { type: 'string' },
    steps: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    'no-peer': { type: 'boolean' },
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '128' },
  },
});
const B = Number(values.batch),
  T = Number(values.seq);
const shape = { vocab: 4096, hidden: 256, layers: 4, heads: 4, kvHeads: 2, inter: 688 };
const config = parseConfig({
  model_type: 'llama',
  vocab_size: shape.vocab,
  hidden_size: shape.hidden,
  intermediate_size: shape.inter,
  num_hidden_layers: shape.layers,
  num_attention_heads: shape.heads,
  num_key_value_heads: shape.kvHeads,
});

const choice = await selectBackend(values.backend as BackendName | undefined);
process.stderr.write(`${describeBackend(choice)}\n`);

/** The backend's own matmul peak: best of several 1024² products. */
function matmulPeak(): number {
  const n = 1024;
  const a = tf.randomNormal([n, n]),
    b = tf.randomNormal([n, n]);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    best = Math.min(best, performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (best / 1000);
}

/** Matmul FLOPs of one training step (forward + backward = 3× forward). */
function stepFlops(): number {
  const { hidden: h, layers: L, heads: H, kvHeads: KV, inter: I, vocab: V } = shape;
  const d = h / H;
  const perToken = L * 2 * (h * H * d + 2 * h * KV * d + H * d * h + 3 * h * I) + 2 * h * V;
  const attention = L * 2 * 2 * H * T * T * d * B;
  return 3 * (perToken * B * T + attention);
}

const model = Llama.init(config, 1);
const rng = (() => {
  let s = 1;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
})();
// random tokens; the first half of each row is a masked prompt, the second half is trained
const rows: PackedRow[] = Array.from({ length: B }, () => {
  const input_ids = Int32Array.from({ length: T }, () => Math.floor(rng() * shape.vocab));
  const labels = new Int32Array(T).fill(IGNORE_INDEX);
  for (let t = T / 2 + 1; t < T; t++) labels[t] = input_ids[t];
  return {
    input_ids,
    labels,
    position_ids: Int32Array.from({ length: T }, (_, t) => t),
    segment_ids: new Int32Array(T).fill(1),
  };
});
const batch = rowsToBatch(rows);
const optimizer = new AdamW({ ...DEFAULT_OPTIMIZER, lr: 1e-3, totalSteps: 1000 });
let step = 0;
const runs: number[] = [];
trainStep(model, [batch], optimizer, model.params, step++);
trainStep(model, [batch], optimizer, model.params, step++);
for (let r = 0; r < Number(values.runs); r++) {
  const t0 = performance.now();
  for (let s = 0; s < Number(values.steps); s++) trainStep(model, [batch], optimizer, model.params, step++);
  runs.push((performance.now() - t0) / Number(values.steps));
}
runs.sort((a, b) => a - b);
const stepMs = runs[Math.floor(runs.length / 2)];
const peak = matmulPeak();
const ours = {
  impl: 'tunekit',
  backend: choice.name,
  step_ms: Number(stepMs.toFixed(1)),
  tokens_per_s: Number(((B * T) / (stepMs / 1000)).toFixed(1)),
  step_ms_runs: runs.map((r) => Number(r.toFixed(1))),
  matmul_peak_gflops: Number((peak / 1e9).toFixed(2)),
  mfu: Number((stepFlops() / (stepMs / 1000) / peak).toFixed(3)),
};

let peer: Record<string, unknown> | null = null;
const peerScript = path.resolve(import.meta.dirname, '../../../shared/peer/torch_llama.py');
if (!values['no-peer'] && existsSync(peerScript) && existsSync('/usr/bin/python3')) {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  try {
    const results = Array.from({ length: Number(values.runs) }, () =>
      JSON.parse(
        execFileSync(
          '/usr/bin/python3',
          [
            peerScript,
            'bench',
            '--threads',
            '1',
            '--batch',
            String(B),
            '--seq',
            String(T),
            '--layers',
            String(shape.layers),
            '--hidden',
            String(shape.hidden),
            '--heads',
            String(shape.heads),
            '--kv-heads',
            String(shape.kvHeads),
            '--inter',
            String(shape.inter),
            '--vocab',
            String(shape.vocab),
            '--steps',
            values.steps!,
          ],
          { env, encoding: 'utf8' },
        ),
      ),
    );
    results.sort((a, b) => a.tokens_per_s - b.tokens_per_s);
    peer = { ...results[Math.floor(results.length / 2)], tokens_per_s_runs: results.map((r) => r.tokens_per_s) };
  } catch (err) {
    peer = {
      error:
        `peer did not run: ${(err as Error).message.split('\n')[0]} ` +
        '(apt-get install python3-torch libopenblas0-pthread)',
    };
  }
}

process.stdout.write(
  JSON.stringify(
    {
      benchmark: 'train-throughput',
      config: { ...shape, seq: T, batch: B, masked: 'first half of each row' },
      host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
      ours,
      peer,
      ratio:
        peer && typeof peer.tokens_per_s === 'number'
          ? Number((ours.tokens_per_s / peer.tokens_per_s).toFixed(3))
          : null,
    },
    null,
    2,
  ) + '\n',
);
model.dispose();
