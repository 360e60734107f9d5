import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RerankService } from '../service';
import { parseBody } from './parse';

const text = (what: string) => z.string({ error: `must be a string (${what})` });
const common = {
  model: z.string().optional(),
  query: text('the search query'),
  top_n: z.number().int().positive({ error: 'must be a positive integer' }).optional(),
  /** Our extension: what counts as relevant; the model's default instruction without it. */
  instruction: z.string().optional(),
};

const v2 = z.object({
  ...common,
  documents: z.array(text('one document'), { error: 'must be an array of strings' }),
  max_tokens_per_doc: z.number().int().positive({ error: 'must be a positive integer' }).optional(),
});

const v1 = z.object({
  ...common,
  documents: z.array(
    z.union([text('one document'), z.object({ text: text('the document text') })], {
      error: 'must be a string or an object with a "text" string',
    }),
    { error: 'must be an array of strings or {"text": …} objects' },
  ),
  return_documents: z.boolean().optional(),
});

/**
 * Cohere's v2 rerank (`/v2/rerank`) and the v1 shape that Jina and Cohere v1 share (`/v1/rerank`).
 * `relevance_score` is sigmoid of the model's raw score; `model` is accepted and ignored (one model per server).
 */
export function cohereRoutes(app: FastifyInstance, service: RerankService, modelName: string): void {
  app.post('/v2/rerank', async (req) => {
    const body = parseBody(v2, req.body);
    const r = await service.rerank({
      query: body.query,
      documents: body.documents,
      instruction: body.instruction,
      topN: body.top_n,
      maxTokensPerDoc: body.max_tokens_per_doc,
    });
    return {
      id: randomUUID(),
      results: r.results.map((x) => ({ index: x.index, relevance_score: x.relevance })),
      meta: {
        api_version: { version: '2' },
        billed_units: { search_units: Math.ceil(body.documents.length / 100) },
        tokens: { input_tokens: r.inputTokens, output_tokens: 0 },
      },
    };
  });

  app.post('/v1/rerank', async (req) => {
    const body = parseBody(v1, req.body);
    const documents = body.documents.map((d) => (typeof d === 'string' ? d : d.text));
    const r = await service.rerank({ query: body.query, documents, instruction: body.instruction, topN: body.top_n });
    return {
      id: randomUUID(),
      model: modelName,
      results: r.results.map((x) => ({
        index: x.index,
        relevance_score: x.relevance,
        ...(body.return_documents === false ? {} : { document: { text: documents[x.index] } }),
      })),
      usage: { total_tokens: r.inputTokens },
      meta: { api_version: { version: '1' }, billed_units: { search_units: Math.ceil(documents.length / 100) } },
    };
  });
}
