import { selectBackend } from '@tunekit/model';
import { maxAbsError } from '@tunekit/model/testing';
import type { Reranker } from '@tunekit/rerank';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServerCli, startServer, tinyReranker, type RunningServer } from './testing/server';

const DOCS = [
  'The capital of Peru is Lima.',
  'Chile uses the peso.',
  'Santiago is the capital of Chile.',
  'Lima',
  'What is the currency of Peru?',
];
const QUERY = 'What is the capital of Peru?';

/** The response body as parsed JSON (untyped, as a client would see it). */
const json = async (res: Response) => JSON.parse(await res.text());
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('the rerank server over HTTP (a real server on loopback)', () => {
  let model: { dir: string; reranker: Reranker };
  let server: RunningServer;

  beforeAll(async () => {
    await selectBackend('wasm');
    model = await tinyReranker();
    server = await startServer([
      '--model',
      model.dir,
      '--model-name',
      'tiny',
      '--max-documents',
      '20',
      '--max-tokens-per-doc',
      '200',
      '--max-body-bytes',
      '20000',
      '--engine',
      'tfjs',
    ]);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("ranks in Cohere v2 shape, with the scores the trainer's evaluation computes", async () => {
    const res = await post(`${server.url}/v2/rerank`, { model: 'tiny', query: QUERY, documents: DOCS, top_n: 3 });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      id: expect.any(String),
      meta: {
        api_version: { version: '2' },
        billed_units: { search_units: 1 },
        tokens: { input_tokens: expect.any(Number), output_tokens: 0 },
      },
    });
    const raw = model.reranker.score(DOCS.map((document) => ({ query: QUERY, document })));
    const expected = [...raw.keys()].sort((a, b) => raw[b] - raw[a] || a - b).slice(0, 3);
    expect(body.results.map((r: { index: number }) => r.index)).toEqual(expected);
    for (const r of body.results) expect(r.relevance_score).toBeCloseTo(1 / (1 + Math.exp(-raw[r.index])), 5);
    expect(body.meta.tokens.input_tokens).toBe(
      DOCS.reduce((n, document) => n + model.reranker.encode({ query: QUERY, document }).ids.length, 0),
    );
  });

  it('answers the Jina / Cohere v1 shape, with documents as strings or {text}', async () => {
    const res = await post(`${server.url}/v1/rerank`, {
      model: 'jina-reranker-v2-base-multilingual',
      query: QUERY,
      documents: [DOCS[0], { text: DOCS[1] }],
      return_documents: true,
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      model: 'tiny',
      usage: { total_tokens: expect.any(Number) },
      meta: { api_version: { version: '1' } },
    });
    expect(body.results).toHaveLength(2);
    for (const r of body.results) expect(r.document.text).toBe(DOCS[r.index]);
    const bare = await json(
      await post(`${server.url}/v1/rerank`, { query: QUERY, documents: DOCS, return_documents: false, top_n: 1 }),
    );
    expect(bare.results).toEqual([{ index: expect.any(Number), relevance_score: expect.any(Number) }]);
  });

  it('answers the TEI shape, raw or sigmoid, and the instruction changes the scores', async () => {
    const raw = await json(
      await post(`${server.url}/rerank`, { query: QUERY, texts: DOCS, raw_scores: true, return_text: true }),
    );
    const expected = model.reranker.score(DOCS.map((document) => ({ query: QUERY, document })));
    for (const r of raw) {
      expect(r.score).toBeCloseTo(expected[r.index], 5);
      expect(r.text).toBe(DOCS[r.index]);
    }
    const squashed = await json(await post(`${server.url}/rerank`, { query: QUERY, texts: DOCS }));
    expect(squashed[0].score).toBeGreaterThan(0);
    expect(squashed[0].score).toBeLessThan(1);
    expect(squashed[0].text).toBeUndefined();
    const instructed = await json(
      await post(`${server.url}/rerank`, {
        query: QUERY,
        texts: DOCS,
        raw_scores: true,
        instruction: 'Only documents that name a currency are relevant.',
      }),
    );
    const withInstruction = model.reranker.score(
      DOCS.map((document) => ({
        query: QUERY,
        document,
        instruction: 'Only documents that name a currency are relevant.',
      })),
    );
    for (const r of instructed) expect(r.score).toBeCloseTo(withInstruction[r.index], 5);
    expect(withInstruction[0]).not.toBeCloseTo(expected[0], 5);
  });

  it('scores the same through the ONNX Runtime engine, to float rounding', async () => {
    const onnx = await startServer(['--model', model.dir, '--engine', 'onnx']);
    try {
      expect(onnx.stderr()).toMatch(/engine onnx \(ONNX Runtime, CPU\)/);
      const raw: { index: number; score: number }[] = await json(
        await post(`${onnx.url}/rerank`, { query: QUERY, texts: DOCS, raw_scores: true }),
      );
      const expected = model.reranker.score(DOCS.map((document) => ({ query: QUERY, document })));
      expect(raw).toHaveLength(DOCS.length);
      const byIndex = [...raw].sort((a, b) => a.index - b.index);
      expect(byIndex.map((r) => r.index)).toEqual(DOCS.map((_, i) => i));
      expect(
        maxAbsError(
          byIndex.map((r) => r.score),
          expected,
        ),
      ).toBeLessThan(1e-4);
    } finally {
      await onnx.stop();
    }
    const auto = await startServer(['--model', model.dir]);
    await auto.stop();
    expect(auto.stderr()).toMatch(/measured on 64 pairs: tfjs \d+ pairs\/s, onnx \d+ pairs\/s/);
  });

  it('serves health, readiness, the model list and Prometheus metrics', async () => {
    expect(await json(await fetch(`${server.url}/health`))).toEqual({ status: 'ok' });
    expect(await json(await fetch(`${server.url}/ready`))).toMatchObject({
      status: 'ready',
      model: 'tiny',
      mode: 'yes_no',
      queue: 0,
    });
    expect((await json(await fetch(`${server.url}/v1/models`))).data[0]).toMatchObject({
      id: 'tiny',
      object: 'model',
      owned_by: 'tunekit',
    });
    // requests of its own for the counters below, rather than counting on the tests above having run first
    expect((await post(`${server.url}/v2/rerank`, { query: QUERY, documents: DOCS })).status).toBe(200);
    expect((await post(`${server.url}/rerank`, { query: QUERY, texts: DOCS })).status).toBe(200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/rerank_requests_total\{route="\/v2\/rerank",status="200"\} \d+/);
    expect(metrics).toMatch(/rerank_request_duration_seconds_bucket\{le="0.5",route="\/rerank"\} \d+/);
    expect(metrics).toMatch(/^rerank_queue_depth 0$/m);
    expect(metrics).toMatch(/^rerank_batch_size_count [1-9]\d*$/m);
    expect(metrics).toMatch(/^rerank_documents_scored_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('refuses bad requests with a JSON error naming the field', async () => {
    const cases: [string, unknown, number, RegExp, string?][] = [
      ['/v2/rerank', '{"query": ', 400, /not valid JSON/],
      ['/v2/rerank', { query: 3, documents: DOCS }, 400, /^query: must be a string/, 'query'],
      ['/v2/rerank', { query: QUERY, documents: ['a', 7] }, 400, /^documents\[1\]: must be a string/, 'documents[1]'],
      ['/v2/rerank', { query: QUERY }, 400, /^documents: must be an array/, 'documents'],
      ['/v2/rerank', { query: QUERY, documents: [] }, 400, /^documents: must hold at least one document/, 'documents'],
      ['/v2/rerank', { query: '  ', documents: DOCS }, 400, /^query: must not be empty/, 'query'],
      ['/v2/rerank', { query: QUERY, documents: DOCS, top_n: 0 }, 400, /^top_n: must be a positive integer/, 'top_n'],
      [
        '/v2/rerank',
        { query: QUERY, documents: Array(21).fill('x') },
        400,
        /21 documents, more than this server's limit of 20/,
        'documents',
      ],
      [
        '/v2/rerank',
        { query: QUERY, documents: ['ok', 'word '.repeat(400)] },
        400,
        /^documents\[1\]: \d+ tokens, more than this server's limit of 200/,
        'documents[1]',
      ],
      ['/v2/rerank', { query: 'why '.repeat(300), documents: DOCS }, 400, /never truncated/, 'query'],
      ['/v1/rerank', { query: QUERY, documents: [{ txt: 'x' }] }, 400, /^documents\[0\]/],
      [
        '/rerank',
        { query: QUERY, texts: ['ok', 'Lima '.repeat(150)], truncate: false },
        400,
        /^texts\[1\]: longer than the model's 96-token document budget/,
        'texts[1]',
      ],
      ['/rerank', [1, 2], 400, /must be a JSON object/],
    ];
    for (const [route, body, status, message, field] of cases) {
      const res = await post(`${server.url}${route}`, body);
      const error = await json(res);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(error.message).toMatch(message);
      expect(error.type).toBe('invalid_request');
      if (field) expect(error.field).toBe(field);
    }
    const big = await post(`${server.url}/v2/rerank`, { query: QUERY, documents: Array(19).fill('x'.repeat(1500)) });
    expect(big.status).toBe(413);
    expect((await json(big)).message).toMatch(/larger than this server's limit of 20000 bytes/);
    const missing = await fetch(`${server.url}/v3/rerank`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect((await json(missing)).message).toMatch(/no route POST \/v3\/rerank; this server has POST \/v2\/rerank/);
    const form = await fetch(`${server.url}/v2/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(form.status).toBe(415);
    expect((await json(form)).message).toMatch(/send the body as JSON/);
    // a long document within the limits is cut to the model's budget, not refused
    expect((await post(`${server.url}/rerank`, { query: QUERY, texts: ['Lima '.repeat(150)] })).status).toBe(200);
  });
});

describe('API keys, capacity and shutdown', () => {
  let dir = '';
  beforeAll(async () => {
    dir = (await tinyReranker('head')).dir;
  }, 60_000);

  it('requires a bearer key when keys are set, comparing in constant time; probes stay open', async () => {
    const server = await startServer(['--model', dir, '--api-key', 'first-secret-key'], {
      RERANK_API_KEYS: 'second-secret-key',
    });
    try {
      const body = { query: QUERY, documents: DOCS };
      for (const auth of [undefined, 'Bearer wrong-key-12345', 'first-secret-key', 'Basic Zmlyc3Qtc2VjcmV0LWtleQ==']) {
        const res = await post(`${server.url}/v2/rerank`, body, auth ? { authorization: auth } : {});
        expect(res.status, String(auth)).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect((await json(res)).message).toMatch(/Authorization: Bearer <key>/);
      }
      for (const key of ['first-secret-key', 'second-secret-key'])
        expect((await post(`${server.url}/v2/rerank`, body, { authorization: `Bearer ${key}` })).status).toBe(200);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('will not listen beyond loopback without a key, and names bad options', async () => {
    const open = await runServerCli(['--model', dir, '--host', '0.0.0.0']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(
      /^error: --host 0.0.0.0 is reachable from other machines: give at least one --api-key/m,
    );
    const bad = await runServerCli(['--model', dir, '--port', 'eighty']);
    expect(bad.stderr).toMatch(/--port: expected a number, got "eighty"/);
    const none = await runServerCli(['--model', '/nonexistent']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--model \/nonexistent: no reranker\.json there/);
  });

  it('answers excess load with 429 and Retry-After, and late work with 503', async () => {
    const server = await startServer(['--model', dir, '--max-queue', '30', '--batch-size', '4']);
    try {
      const responses = await Promise.all(
        Array.from({ length: 12 }, () =>
          post(`${server.url}/v2/rerank`, { query: QUERY, documents: Array(10).fill(DOCS[0]) }),
        ),
      );
      const codes = responses.map((r) => r.status);
      expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(3);
      expect(codes.filter((c) => c === 429).length).toBeGreaterThanOrEqual(1);
      expect(codes.every((c) => c === 200 || c === 429)).toBe(true);
      const refused = responses.find((r) => r.status === 429)!;
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await json(refused)).toMatchObject({
        type: 'overloaded',
        message: expect.stringMatching(/at capacity \(\d+ of 30 pairs waiting\)/),
      });
    } finally {
      await server.stop();
    }
    const slow = await startServer(['--model', dir, '--timeout-ms', '1']);
    try {
      const res = await post(`${slow.url}/v2/rerank`, { query: QUERY, documents: Array(40).fill(DOCS[0]) });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await json(res)).toMatchObject({
        type: 'timeout',
        message: expect.stringMatching(/no result within 1 ms/),
      });
    } finally {
      await slow.stop();
    }
  });

  it('refuses at once, with 429, work that cannot be done before its deadline at the measured rate', async () => {
    const server = await startServer(['--model', dir, '--timeout-ms', '2000', '--max-queue', '1000000']);
    try {
      const request = () => post(`${server.url}/v2/rerank`, { query: QUERY, documents: Array(100).fill(DOCS[0]) });
      expect((await request()).status).toBe(200);
      const t0 = performance.now();
      expect((await request()).status).toBe(200); // the server measures its rate on these
      const pairsPerSecond = 100 / ((performance.now() - t0) / 1000);
      // six deadlines' worth of work at once: the first requests fit, the rest cannot finish in time
      const responses = await Promise.all(
        Array.from({ length: Math.ceil((6 * 2 * pairsPerSecond) / 100) + 2 }, request),
      );
      const codes = responses.map((r) => r.status);
      expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(1);
      expect(codes.filter((c) => c === 429).length).toBeGreaterThan(codes.filter((c) => c === 503).length);
      expect(codes.every((c) => [200, 429, 503].includes(c))).toBe(true);
      const refused = responses.find((r) => r.status === 429)!;
      expect(await json(refused)).toMatchObject({
        type: 'overloaded',
        message: expect.stringMatching(/s of work, more than this request's 2000 ms deadline allows/),
      });
    } finally {
      await server.stop();
    }
  });

  it('finishes the requests in flight when stopped, then exits', async () => {
    const server = await startServer(['--model', dir, '--batch-size', '8']);
    const inFlight = Promise.all(
      Array.from({ length: 4 }, () =>
        post(`${server.url}/v2/rerank`, { query: QUERY, documents: Array(60).fill(DOCS[0]) }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const code = server.stop('SIGTERM');
    const done = await inFlight;
    expect(done.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    for (const r of done) expect((await json(r)).results).toHaveLength(60);
    expect(await code).toBe(0);
    expect(server.stderr()).toMatch(/SIGTERM: finishing \d+ queued pairs/);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });
});
