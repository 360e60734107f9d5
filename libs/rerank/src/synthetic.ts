import { Rng, type BeirDocument, type ChatTemplate, type TextTokenizer } from '@tunekit/data';
import { generate, type Llama } from '@tunekit/model';
import type { Bm25Index } from './bm25';
import { documentText, type TrainingQuery } from './groups';

/**
 * In-domain training queries for any corpus, so a team can adapt the reranker to its own documents
 * without judged queries. Never uses a collection's real queries.
 */

export interface TemplateQueryOptions {
  /** Queries per document (title, then inverse-cloze sentences). */
  perDocument?: number;
  seed: number;
  /** Sentences shorter or longer than this (in words) are not used as queries. */
  minWords?: number;
  maxWords?: number;
}

/**
 * Queries from the documents themselves: the title (when it has at least three words; the positive
 * then shows the text without it), and inverse-cloze sentences (a sentence of the document as the
 * query, and the document without that sentence as the positive: Lee et al., 2019), so that the
 * reranker learns to match what a passage is about rather than repeated words.
 */
export function templateQueries(corpus: Map<string, BeirDocument>, o: TemplateQueryOptions): TrainingQuery[] {
  const rng = new Rng(o.seed).fork('template-queries');
  const per = o.perDocument ?? 2;
  const [minWords, maxWords] = [o.minWords ?? 6, o.maxWords ?? 40];
  const out: TrainingQuery[] = [];
  for (const d of corpus.values()) {
    let made = 0;
    if (d.title && d.title.split(/\s+/).length >= 3 && d.text.trim()) {
      out.push({ id: `${d.id}:title`, text: d.title, relevant: new Map([[d.id, 1]]), positiveText: d.text });
      made++;
    }
    const sentences = d.text
      .split(/(?<=[.!?])\s+/)
      .map((s) => s.trim())
      .filter(Boolean);
    const usable = sentences
      .map((s, i) => [s, i] as const)
      .filter(([s]) => {
        const words = s.split(/\s+/).length;
        return words >= minWords && words <= maxWords;
      });
    for (const [sentence, i] of rng.shuffle([...usable])) {
      if (made >= per || sentences.length < 2) break;
      const rest = sentences.filter((_, j) => j !== i).join(' ');
      out.push({
        id: `${d.id}:ict${i}`,
        text: sentence,
        relevant: new Map([[d.id, 1]]),
        positiveText: documentText({ ...d, text: rest }),
      });
      made++;
    }
  }
  return out;
}

export interface GeneratedQueryOptions {
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  /**
   * Keeps a query only when BM25 finds its document within this many results (round-trip filter, as InPars and
   * Promptagator do).
   */
  index: Bm25Index;
  roundTripDepth?: number;
  maxNewTokens?: number;
  batch?: number;
  /** Characters of the document shown to the model. */
  maxDocumentChars?: number;
  prompt?: (document: string) => string;
}

/**
 * Queries written by a chat model: it is shown each document and asked for a question the document
 * answers; greedy decoding, then the round-trip filter. Returns the kept queries and how many were
 * made.
 */
export function generatedQueries(
  model: Llama,
  documents: readonly BeirDocument[],
  o: GeneratedQueryOptions,
): { queries: TrainingQuery[]; generated: number; kept: number } {
  const prompt = o.prompt ?? ((doc: string) => `Write one short search question that this passage answers.\n\n${doc}`);
  const stop = o.template.endOfTurn.map((t) => o.tokenizer.tokenToId(t)).filter((id): id is number => id !== undefined);
  const queries: TrainingQuery[] = [];
  let generated = 0;
  const batch = o.batch ?? 16;
  for (let i = 0; i < documents.length; i += batch) {
    const chunk = documents.slice(i, i + batch);
    const prompts = chunk.map((d) =>
      o.tokenizer.encode(
        o.template.render([{ role: 'user', content: prompt(documentText(d).slice(0, o.maxDocumentChars ?? 600)) }], {
          addGenerationPrompt: true,
        }),
      ),
    );
    const out = generate(model, prompts, {
      maxNewTokens: o.maxNewTokens ?? 32,
      stopTokens: stop,
      padId: o.tokenizer.padId,
    });
    chunk.forEach((d, k) => {
      const text = o.tokenizer
        .decode(
          out.tokens[k].filter((t) => !stop.includes(t)),
          { skipSpecialTokens: true },
        )
        .trim()
        .split('\n')[0];
      if (!text) return;
      generated++;
      if (o.index.search(text, o.roundTripDepth ?? 20).has(d.id))
        queries.push({ id: `${d.id}:gen`, text, relevant: new Map([[d.id, 1]]) });
    });
  }
  return { queries, generated, kept: queries.length };
}
