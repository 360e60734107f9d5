import { encodePair, InputError, type RerankerConfig } from '@tunekit/rerank';
import type { ChatTemplate, TextTokenizer } from '@tunekit/data';
import type { Batcher } from './batcher';
import { invalid } from './errors';
import type { Metrics } from './metrics';
import type { ServerOptions } from './options';

export interface RerankRequest {
  query: string;
  documents: string[];
  instruction?: string;
  topN?: number;
  /** Cut each document to this many tokens (Cohere's `max_tokens_per_doc`), within the model's own budget. */
  maxTokensPerDoc?: number;
  /** Refuse documents the model would have to cut (TEI's `truncate: false`). */
  requireFit?: boolean;
}

export interface RankedDocument {
  index: number;
  /** The model's raw score (logit(yes) − logit(no), or the head's output): what the trainer's evaluation ranks by. */
  raw: number;
  /** sigmoid(raw), in [0, 1]. */
  relevance: number;
}

export interface RerankOutcome {
  results: RankedDocument[];
  inputTokens: number;
}

/**
 * What every API shape shares: limits, validation that names the field, scoring through the
 * batcher, and ranking (score descending, ties by position).
 */
export class RerankService {
  constructor(
    private readonly batcher: Batcher,
    private readonly tokenizer: TextTokenizer,
    private readonly template: ChatTemplate,
    readonly config: RerankerConfig,
    private readonly options: ServerOptions,
    private readonly metrics: Metrics,
  ) {}

  async rerank(req: RerankRequest, documentsField = 'documents'): Promise<RerankOutcome> {
    const { documents } = req;
    if (documents.length === 0) throw invalid(documentsField, 'must hold at least one document');
    if (documents.length > this.options.maxDocuments)
      throw invalid(
        documentsField,
        `${documents.length} documents, ` +
          `more than this server's limit of ${this.options.maxDocuments} per request; split the request`,
      );
    if (req.query.trim() === '') throw invalid('query', 'must not be empty');
    try {
      encodePair(this.tokenizer, this.template, this.config, {
        query: req.query,
        instruction: req.instruction,
        document: '',
      });
    } catch (err) {
      if (err instanceof InputError) throw invalid(req.instruction ? 'instruction' : 'query', err.message);
      throw err;
    }
    const limit = this.options.maxTokensPerDoc;
    documents.forEach((d, i) => {
      // a token holds at least one byte, so only documents longer than the limit in bytes need counting
      if (Buffer.byteLength(d) > limit) {
        const n = this.tokenizer.encode(d).length;
        if (n > limit)
          throw invalid(
            `${documentsField}[${i}]`,
            `${n} tokens, more than this server's limit of ${limit} per document; shorten or split it`,
          );
      }
    });
    const scored = await this.batcher.submit(
      documents.map((document) => ({
        query: req.query,
        instruction: req.instruction,
        document,
        maxDocTokens: req.maxTokensPerDoc,
      })),
      this.options.timeoutMs,
    );
    if (req.requireFit) {
      const cut = scored.truncatedTokens.findIndex((n) => n > 0);
      if (cut >= 0)
        throw invalid(
          `${documentsField}[${cut}]`,
          `longer than the model's ${this.config.maxDocTokens}-token document budget; ` +
            'send "truncate": true or a shorter text',
        );
    }
    this.metrics.documents.inc(documents.length);
    const results = Array.from(scored.scores, (raw, index) => ({
      index,
      raw,
      relevance: 1 / (1 + Math.exp(-raw)),
    })).sort((a, b) => b.raw - a.raw || a.index - b.index);
    return {
      results: results.slice(0, req.topN ?? results.length),
      inputTokens: scored.inputTokens.reduce((a, b) => a + b, 0),
    };
  }
}
