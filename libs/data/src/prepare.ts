import type { Example } from './conversation';
import { DataError, type SkipReason } from './errors';
import { tokenizeExample, type TokenizeOptions, type TokenizedExample } from './mask';
import type { ChatTemplate } from './template/template';
import type { TextTokenizer } from './tokenizer/tokenizer';

export interface PrepareOptions extends TokenizeOptions {
  /**
   * `stop` (default) fails on the first unusable example; `skip` counts and lists it. Too-long examples under `drop`
   * are always skipped.
   */
  onError?: 'stop' | 'skip';
  /** Called every 256 examples and at the end with the number done and the tokens produced so far. */
  onProgress?: (done: number, tokens: number) => void;
}

export interface SkippedExample {
  source: string;
  reason: SkipReason;
  message: string;
}

export interface PrepareReport {
  input: number;
  kept: number;
  /** Examples kept but cut to `maxLength`. */
  truncated: number;
  truncatedTokens: number;
  skipped: SkippedExample[];
  skippedByReason: Record<SkipReason, number>;
  truncation: NonNullable<TokenizeOptions['truncation']>;
  maxLength: number | null;
}

/** Renders, tokenises and masks every example, reporting each one it cannot use. */
export function prepareExamples(
  examples: Iterable<Example>,
  tokenizer: TextTokenizer,
  template: ChatTemplate,
  options: PrepareOptions = {},
): { examples: TokenizedExample[]; report: PrepareReport } {
  const out: TokenizedExample[] = [];
  const report: PrepareReport = {
    input: 0,
    kept: 0,
    truncated: 0,
    truncatedTokens: 0,
    skipped: [],
    skippedByReason: { invalid: 0, too_long: 0, untrainable: 0 },
    truncation: options.truncation ?? 'truncate',
    maxLength: options.maxLength ?? null,
  };
  let index = 0;
  let tokens = 0;
  for (const example of examples) {
    if (index % 256 === 0) options.onProgress?.(index, tokens);
    report.input++;
    index++;
    try {
      const tokenized = tokenizeExample(example, tokenizer, template, options);
      out.push(tokenized);
      tokens += tokenized.input_ids.length;
      report.kept++;
      if (tokenized.truncated > 0) {
        report.truncated++;
        report.truncatedTokens += tokenized.truncated;
      }
    } catch (err) {
      if (!(err instanceof DataError)) throw err;
      const droppedByPolicy = err.reason === 'too_long' && options.truncation === 'drop';
      if (!droppedByPolicy && (options.onError ?? 'stop') === 'stop') throw err;
      const source =
        (example.kind === 'chat' ? example.conversation.source : example.document.source) ?? `example ${index}`;
      report.skipped.push({ source, reason: err.reason, message: err.message });
      report.skippedByReason[err.reason]++;
    }
  }
  options.onProgress?.(index, tokens);
  if (report.kept === 0)
    throw new DataError(
      `none of the ${report.input} examples is usable; ` +
        `first problem: ${report.skipped[0]?.message ?? 'no examples given'}`,
    );
  return { examples: out, report };
}
