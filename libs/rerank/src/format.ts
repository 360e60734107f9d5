import type { ChatTemplate, TextTokenizer } from '@tunekit/data';
import { analyze } from './bm25';

/** What the reranker is asked about: relevance of a document to a query under an instruction. */
export interface RerankPair {
  /** What counts as relevant; the reranker's default instruction when absent. */
  instruction?: string;
  query: string;
  document: string;
  /** A smaller document budget for this pair (a request's `max_tokens_per_doc`). */
  maxDocTokens?: number;
}

/** How a pair is written for the model; saved with the reranker (`reranker.json`). */
export interface RerankFormat {
  /** The system message that states the task. */
  system: string;
  /** Used for pairs that carry no instruction. */
  defaultInstruction: string;
  /** Documents are cut to this many tokens; the instruction and the query never are. */
  maxDocTokens: number;
  /** Longest input in tokens (the model's context); a pair whose instruction and query alone exceed it is an error. */
  maxLength: number;
  /**
   * Wrap the document's words that match a query term (BM25's analysis: lower-cased, stemmed, stop
   * words aside) in `**`, as MarkedBERT marks exact matches, so that the model sees which words the
   * query and the document share whatever the words are.
   */
  markQueryTerms?: boolean;
}

/** Qwen3-Reranker's wording, so that its checkpoints and ours read the same input. */
export const DEFAULT_FORMAT: RerankFormat = {
  system:
    'Judge whether the Document meets the requirements based on the Query and the Instruct provided. ' +
    'Note that the answer can only be "yes" or "no".',
  defaultInstruction: 'Given a question, retrieve the documents that answer it.',
  maxDocTokens: 128,
  maxLength: 512,
};

/** The document with each word whose BM25 term is one of the query's wrapped in `**`. */
export function markQueryTerms(document: string, query: string): string {
  const terms = new Set(analyze(query));
  if (terms.size === 0) return document;
  return document.replace(/[\p{L}\p{N}]+(?:['’]s\b)?/gu, (word) => {
    const [term] = analyze(word);
    return term !== undefined && terms.has(term) ? `**${word}**` : word;
  });
}

export class InputError extends Error {
  override name = 'InputError';
}

export interface EncodedPair {
  ids: number[];
  /** Tokens cut from the end of the document. */
  truncatedTokens: number;
}

/**
 * Renders a pair with the chat template — the system message, then one user message with the
 * instruction, query and document in fixed fields, then the generation prompt — and tokenises the
 * whole text once. The score is read at the last token (where the answer "yes" or "no" would come).
 * The document is cut at a token boundary of its own tokenisation (so the kept text is an exact
 * prefix of the original) to `maxDocTokens`, or less when the input would not fit `maxLength`;
 * the instruction and query are never cut.
 */
export function encodePair(
  tokenizer: TextTokenizer,
  template: ChatTemplate,
  format: RerankFormat,
  pair: RerankPair,
): EncodedPair {
  const render = (document: string) => {
    const text = template.render(
      [
        { role: 'system', content: format.system },
        {
          role: 'user',
          content:
            `<Instruct>: ${pair.instruction ?? format.defaultInstruction}\n` +
            `<Query>: ${pair.query}\n<Document>: ${document}`,
        },
      ],
      { addGenerationPrompt: true },
    );
    const ids = tokenizer.encode(text);
    if (tokenizer.addsBos && ids[0] !== tokenizer.bosId) ids.unshift(tokenizer.bosId!);
    return ids;
  };
  const frame = render('').length;
  if (frame + 1 > format.maxLength) {
    throw new InputError(
      `the instruction and query take ${frame} tokens with the template, more than the reranker's ` +
        `${format.maxLength}; shorten the query or instruction (they are never truncated)`,
    );
  }
  const document = format.markQueryTerms ? markQueryTerms(pair.document, pair.query) : pair.document;
  const { ids: docIds, offsets } = tokenizer.encodeWithOffsets(document);
  let budget = Math.min(format.maxDocTokens, pair.maxDocTokens ?? Infinity, format.maxLength - frame);
  for (;;) {
    const kept = Math.min(budget, docIds.length);
    const ids = render(kept === docIds.length ? document : document.slice(0, kept > 0 ? offsets[2 * kept - 1] : 0));
    // tokens can merge across the field boundary: shrink until the whole input fits
    if (ids.length <= format.maxLength || kept === 0) return { ids, truncatedTokens: docIds.length - kept };
    budget = kept - (ids.length - format.maxLength);
  }
}
