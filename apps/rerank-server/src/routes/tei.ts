import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RerankService } from '../service';
import { parseBody } from './parse';

const body = z.object({
  query: z.string({ error: 'must be a string (the search query)' }),
  texts: z.array(z.string({ error: 'must be a string (one document)' }), { error: 'must be an array of strings' }),
  truncate: z.boolean().optional(),
  raw_scores: z.boolean().optional(),
  return_text: z.boolean().optional(),
  instruction: z.string().optional(),
});

/** Hugging Face Text Embeddings Inference's `/rerank`: `[{index, score, text?}]`, best first. */
export function teiRoutes(app: FastifyInstance, service: RerankService): void {
  app.post('/rerank', async (req) => {
    const b = parseBody(body, req.body);
    const r = await service.rerank(
      { query: b.query, documents: b.texts, instruction: b.instruction, requireFit: b.truncate === false },
      'texts',
    );
    return r.results.map((x) => ({
      index: x.index,
      score: b.raw_scores ? x.raw : x.relevance,
      ...(b.return_text ? { text: b.texts[x.index] } : {}),
    }));
  });
}
