/**
 * Serving benchmark: documents per second and latency of the rerank server for requests of 100
 * documents of ~128 tokens at concurrency 1 and 8 (autocannon, loopback), next to the same model's
 * scoring throughput in the PyTorch peer, in the same run. With --load-test S: S seconds at twice
 * the measured capacity, offered open-loop (a request every 1/rate s whatever the answers), counting
 * status codes, Retry-After values and the server's peak RSS. Also the ONNX engine alone in-process, with and
 * without the shared prefix (the peer scores full sequences). Prints JSON.
 * With --workers N the peer runs as N processes at once (--peer-processes to change), so both use N cores.
 * Usage: nx run tools:bench-serve [-- --model runs/<run>/reranker --duration 15 --workers 1 --load-test 60]
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import autocannon from 'autocannon';
import { buildFactRetrieval } from '@tunekit/corpora';
import { selectBackend } from '@tunekit/model';
import { maxAbsError } from '@tunekit/model/testing';
import { OnnxScorer, Reranker } from '@tunekit/rerank';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    duration: { type: 'string', default: '15' },
    workers: { type: 'string', default: '1' },
    'batch-size': { type: 'string', default: '100' },
    'load-test': { type: 'string' },
    'no-peer': { type: 'boolean' },
    'peer-threads': { type: 'string', default: '1' },
    'peer-processes': { type: 'string' },
  },
});
const duration = Number(values.duration);
const execFileAsync = promisify(execFile);

async function defaultModel(): Promise<string> {
  const runs = (await readdir(path.join(root, 'runs')).catch(() => [] as string[])).sort().reverse();
  for (const r of runs)
    if (existsSync(path.join(root, 'runs', r, 'reranker', 'reranker.json')))
      return path.join(root, 'runs', r, 'reranker');
  throw new Error(
    'no trained reranker under runs/: run `npx nx run trainer:train` first, or pass --model <reranker directory>',
  );
}

const modelDir = path.resolve(values.model ?? (await defaultModel()));
await selectBackend('wasm');
const reranker = await Reranker.load(modelDir);
const tokenizer = reranker.tokenizer;

// 100 documents of ~128 tokens: passages of the fact collection run together and cut at 128 tokens
const facts = buildFactRetrieval();
const passages = [...facts.corpus.values()].map((d) => d.text);
const documents: string[] = [];
for (let i = 0; documents.length < 100; i += 7) {
  let text = '';
  for (let k = i; tokenizer.encode(text).length < 128; k++) text += `${passages[k % passages.length]} `;
  const { offsets } = tokenizer.encodeWithOffsets(text);
  documents.push(text.slice(0, offsets[2 * 128 - 1]));
}
const query = 'What currency does Peru use?';
const body = JSON.stringify({ model: 'bench', query, documents });
const docTokens = documents.map((d) => tokenizer.encode(d).length);

// the server, as a user starts it
const server = spawn(
  path.join(root, 'node_modules/.bin/tsx'),
  [
    '--tsconfig',
    'apps/rerank-server/tsconfig.json',
    'apps/rerank-server/src/main.ts',
    '--model',
    modelDir,
    '--port',
    '0',
    '--workers',
    values.workers!,
    '--batch-size',
    values['batch-size']!,
    '--max-queue',
    '2000',
    '--timeout-ms',
    '10000',
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
const url = await new Promise<string>((resolve, reject) => {
  let out = '';
  server.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /listening on (\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});

const fire = (o: { connections: number; duration: number; overallRate?: number }) =>
  autocannon({
    url: `${url}/v2/rerank`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    timeout: 30,
    ...o,
  });
/**
 * Open-loop load: a request every 1/rate seconds whatever the server answers (autocannon's
 * overallRate caps its connections at the rate, so a slow server would slow the load down).
 */
async function openLoop(rate: number, seconds: number) {
  const codes: Record<string, number> = {};
  const latencies: number[] = [];
  const retryAfter = new Set<string>();
  let errors = 0,
    offered = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let due = start; due < start + seconds * 1000; due = start + (++offered * 1000) / rate) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    const sent = performance.now();
    inFlight.push(
      fetch(`${url}/v2/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
        async (res) => {
          await res.arrayBuffer();
          codes[res.status] = (codes[res.status] ?? 0) + 1;
          if (res.ok) latencies.push(performance.now() - sent);
          else if (res.headers.get('retry-after')) retryAfter.add(res.headers.get('retry-after')!);
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(inFlight);
  return {
    codes,
    latencies,
    errors,
    offered,
    retryAfter: [...retryAfter].map(Number).sort((a, b) => a - b),
    seconds: (performance.now() - start) / 1000,
  };
}
const rss = async () =>
  Number(/^process_resident_memory_bytes (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);

await fire({ connections: 2, duration: 3 }); // warm-up
const ours: Record<string, unknown> = {};
for (const c of [1, 8]) {
  const r = await fire({ connections: c, duration });
  const ok = r['2xx'];
  ours[`concurrency_${c}`] = {
    requests: ok,
    non_2xx: r.non2xx,
    docs_per_s: Number(((ok * 100) / r.duration).toFixed(1)),
    requests_per_s: Number((ok / r.duration).toFixed(2)),
    latency_ms: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
  };
}

let load: Record<string, unknown> | undefined;
if (values['load-test']) {
  const capacity = (ours.concurrency_8 as { requests_per_s: number }).requests_per_s;
  const rate = 2 * capacity;
  let peak = await rss();
  const sampler = setInterval(() => void rss().then((b) => (peak = Math.max(peak, b))), 1000);
  const r = await openLoop(rate, Number(values['load-test']));
  clearInterval(sampler);
  peak = Math.max(peak, await rss());
  const ok = r.latencies.sort((a, b) => a - b);
  load = {
    seconds: r.seconds,
    offered_requests_per_s: Number(rate.toFixed(2)),
    offered_requests: r.offered,
    measured_capacity_requests_per_s: capacity,
    status_codes: r.codes,
    errors: r.errors,
    // 503 is the server's answer to work past its deadline (and to draining): load shedding, like 429; any other 5xx is
    // a fault
    five_xx_other_than_503: Object.entries(r.codes)
      .filter(([c]) => c.startsWith('5') && c !== '503')
      .reduce((n, [, k]) => n + k, 0),
    retry_after_s: r.retryAfter,
    ok_docs_per_s: Number(((ok.length * 100) / r.seconds).toFixed(1)),
    latency_ms_of_accepted: {
      p50: Math.round(ok[Math.floor(ok.length * 0.5)] ?? 0),
      p99: Math.round(ok[Math.floor(ok.length * 0.99)] ?? 0),
    },
    peak_rss_mb: Number((peak / 2 ** 20).toFixed(1)),
  };
}
// the server drains what is still queued on SIGTERM: wait for it, so that it does not share the CPU with what follows
await new Promise((resolve) => {
  server.removeAllListeners('exit');
  server.once('exit', resolve);
  server.kill('SIGTERM');
});

const BATCHES = [4, 8, 16, 32, 100];

/**
 * The scoring engine alone, in this process, with and without the shared prefix, at each batch
 * size: median docs/s of 5 runs of the request, and the fastest batch size of each.
 */
async function engineDocsPerSecond() {
  const onnx = await OnnxScorer.create(reranker, { threads: 1 });
  const pairs = documents.map((document) => ({ query, document }));
  const out: Record<string, { best_batch: number; docs_per_s: number; by_batch: Record<number, number> }> = {};
  for (const prefixCache of [true, false]) {
    const byBatch: Record<number, number> = {};
    for (const batchSize of BATCHES) {
      await onnx.scoreDetailed(pairs, { batchSize, prefixCache });
      const rates: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await onnx.scoreDetailed(pairs, { batchSize, prefixCache });
        rates.push(pairs.length / ((performance.now() - t0) / 1000));
      }
      byBatch[batchSize] = Number(rates.sort((a, b) => a - b)[2].toFixed(1));
    }
    const best = BATCHES.reduce((a, b) => (byBatch[b] > byBatch[a] ? b : a));
    out[prefixCache ? 'onnx_shared_prefix' : 'onnx_full_sequences'] = {
      best_batch: best,
      docs_per_s: byBatch[best],
      by_batch: byBatch,
    };
  }
  await onnx.release();
  return out;
}
const engine = await engineDocsPerSecond();

let peer: Record<string, unknown> | null = null;
const peerDir = path.resolve(root, '../shared/peer');
if (!values['no-peer'] && existsSync(path.join(peerDir, 'torch_llama.py')) && existsSync('/usr/bin/python3')) {
  const input = path.join(os.tmpdir(), `rerank-bench-${process.pid}.json`);
  await writeFile(
    input,
    JSON.stringify({
      sequences: documents.map((document) => reranker.encode({ query, document }).ids),
      yes_id: tokenizer.encode(reranker.config.yesToken ?? 'yes')[0],
      no_id: tokenizer.encode(reranker.config.noToken ?? 'no')[0],
      pad_id: tokenizer.padId,
    }),
  );
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  try {
    // as many peer processes as the server has model workers, run at once (one thread each by default: more torch
    // threads are slower at these sizes here), so that both sides use the same cores; docs/s summed
    const processes = Number(values['peer-processes'] ?? values.workers);
    const args = [
      path.join(import.meta.dirname, 'peer_rerank.py'),
      peerDir,
      modelDir,
      input,
      '--threads',
      values['peer-threads']!,
      '--batch',
      BATCHES.join(','),
      '--runs',
      '5',
    ];
    const each = await Promise.all(
      Array.from(
        { length: processes },
        async () =>
          JSON.parse((await execFileAsync('/usr/bin/python3', args, { env, encoding: 'utf8' })).stdout) as Record<
            string,
            unknown
          >,
      ),
    );
    peer =
      processes === 1
        ? each[0]
        : {
            impl: 'pytorch',
            processes,
            threads_per_process: Number(values['peer-threads']),
            docs_per_s: Number(each.reduce((n, r) => n + (r.docs_per_s as number), 0).toFixed(1)),
            per_process: each.map(({ scores: _, ...r }) => r),
            scores: each[0].scores,
          };
    const ourScores = reranker.score(documents.slice(0, 8).map((document) => ({ query, document })));
    peer!.max_abs_score_diff_first_8 = maxAbsError(peer!.scores as number[], ourScores);
    delete peer!.scores;
  } catch (err) {
    peer = {
      error:
        `peer did not run: ${(err as Error).message.split('\n')[0]} ` +
        '(apt-get install python3-torch libopenblas0-pthread)',
    };
  }
}

const best = (ours.concurrency_8 as { docs_per_s: number }).docs_per_s;
const peerRate = typeof peer?.docs_per_s === 'number' ? peer.docs_per_s : null;
process.stdout.write(
  JSON.stringify(
    {
      benchmark: 'rerank-serving',
      model: modelDir,
      mode: reranker.config.mode,
      request: {
        documents: 100,
        doc_tokens_mean: docTokens.reduce((a, b) => a + b, 0) / docTokens.length,
        input_tokens_per_pair: reranker.encode({ query, document: documents[0] }).ids.length,
      },
      server: {
        workers: Number(values.workers),
        batch_size: Number(values['batch-size']),
        seconds_per_level: duration,
      },
      host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
      ours,
      engine_docs_per_s: engine,
      peer,
      ratio: peerRate ? Number((best / peerRate).toFixed(3)) : null,
      // the same engine on full sequences, as the peer computes them: what the shared prefix adds
      ratio_full_sequences_engine: peerRate
        ? Number((engine.onnx_full_sequences.docs_per_s / peerRate).toFixed(3))
        : null,
      ...(load ? { load_test: load } : {}),
    },
    null,
    2,
  ) + '\n',
);
process.exit(0);
