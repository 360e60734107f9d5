import { CohereClient, CohereClientV2 } from 'cohere-ai';
import { selectBackend } from '@tunekit/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tinyReranker, type RunningServer } from './testing/server';

const documents = ['The capital of Peru is Lima.', 'Chile uses the peso.', 'Santiago is the capital of Chile.', 'Lima'];
const query = 'What is the capital of Peru?';

describe('the official cohere-ai client, pointed at our server', () => {
  let server: RunningServer;
  let expected: number[];

  beforeAll(async () => {
    await selectBackend('wasm');
    const { dir, reranker } = await tinyReranker();
    const raw = reranker.score(documents.map((document) => ({ query, document })));
    expected = [...raw.keys()].sort((a, b) => raw[b] - raw[a] || a - b);
    server = await startServer(['--model', dir, '--api-key', 'client-test-key']);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('reranks with CohereClientV2 (v2 API)', async () => {
    const client = new CohereClientV2({ token: 'client-test-key', environment: server.url });
    const r = await client.rerank({ model: 'rerank-v3.5', query, documents, topN: 3 });
    expect(r.results.map((x) => x.index)).toEqual(expected.slice(0, 3));
    expect(r.results[0].relevanceScore).toBeGreaterThanOrEqual(r.results[1].relevanceScore);
    expect(r.meta?.billedUnits?.searchUnits).toBe(1);
  });

  it('reranks with CohereClient (v1 API), returning the documents', async () => {
    const client = new CohereClient({ token: 'client-test-key', environment: server.url });
    const r = await client.rerank({ model: 'rerank-english-v3.0', query, documents, returnDocuments: true });
    expect(r.results.map((x) => x.index)).toEqual(expected);
    expect(r.results[0].document?.text).toBe(documents[expected[0]]);
  });

  it('surfaces our errors through the client', async () => {
    const client = new CohereClientV2({ token: 'wrong-key-000', environment: server.url });
    await expect(client.rerank({ model: 'x', query, documents })).rejects.toMatchObject({ statusCode: 401 });
  });
});
