import type { Conversation, Example, TextDocument } from './conversation';
import { DataError } from './errors';
import type { ChatTemplate, MessageSpan } from './template/template';
import type { TextTokenizer } from './tokenizer/tokenizer';

/** Label of a position that is not trained (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

/**
 * Which tokens carry loss. `all_assistant` (default): every assistant turn; `last_assistant`: the
 * final assistant turn only; `all`: every token. A message's own `train` flag always wins.
 */
export type MaskStrategy = 'all_assistant' | 'last_assistant' | 'all';
export const MASK_STRATEGIES: readonly MaskStrategy[] = ['all_assistant', 'last_assistant', 'all'];

/** What to do with an example longer than `maxLength`: cut its end, drop it, or fail. */
export type TruncationPolicy = 'truncate' | 'drop' | 'error';

export interface TokenizeOptions {
  strategy?: MaskStrategy;
  maxLength?: number;
  truncation?: TruncationPolicy;
  /** Token appended to raw text documents; default `<|endoftext|>` when the tokenizer has it, else EOS. */
  documentEnd?: string;
}

/** One example as the model trains on it; `labels[t]` is the target at position t (unshifted, HF style). */
export interface TokenizedExample {
  input_ids: number[];
  labels: number[];
  /** Tokens cut off by truncation (0 if none). */
  truncated: number;
  source?: string;
}

/**
 * Renders the conversation once, tokenises the whole text once, and labels each token by where its
 * characters fall: tokens overlapping a trained message's span (content through its end-of-turn
 * marker) keep their id, everything else is `-100`. Position 0 is never a target (nothing precedes
 * it), which also keeps packed examples from predicting across their boundary.
 */
export function tokenizeConversation(
  conversation: Conversation,
  tokenizer: TextTokenizer,
  template: ChatTemplate,
  options: TokenizeOptions = {},
): TokenizedExample {
  const strategy = options.strategy ?? 'all_assistant';
  const where = conversation.source ? `${conversation.source}: ` : '';
  const messages = conversation.messages;
  checkNoSpecialTokens(conversation, tokenizer, where);

  const trained = messages.map((m, i) => m.train ?? defaultTrained(strategy, messages, i));
  messages.forEach((m, i) => {
    if (trained[i] && m.role === 'assistant' && m.content.trim() === '') {
      throw new DataError(
        `${where}messages[${i}].content: assistant message is empty (nothing to train on); ` +
          'remove it or set "train": false',
      );
    }
  });
  if (strategy !== 'all' && !trained.some(Boolean))
    throw new DataError(`${where}no message is trained under strategy "${strategy}"`);

  const { text, spans } = template.renderWithSpans(messages);
  const encoding = tokenizer.encodeWithOffsets(text);
  const ids = encoding.ids;
  const labels = new Array<number>(ids.length).fill(IGNORE_INDEX);
  if (strategy === 'all' && messages.every((m) => m.train === undefined)) {
    for (let t = 0; t < ids.length; t++) labels[t] = ids[t];
  } else {
    labelSpans(
      encoding.offsets,
      ids,
      labels,
      spans.filter((s) => trained[s.index]),
    );
  }
  return finish(withBos(ids, labels, text, tokenizer), options, where);
}

/** Raw text: every token is trained, and a document-end token closes it. */
export function tokenizeDocument(
  document: TextDocument,
  tokenizer: TextTokenizer,
  options: TokenizeOptions = {},
): TokenizedExample {
  const end =
    options.documentEnd ?? (tokenizer.tokenToId('<|endoftext|>') !== undefined ? '<|endoftext|>' : tokenizer.eosToken);
  const ids = tokenizer.encode(document.text);
  if (end !== undefined) ids.push(tokenizer.requireId(end));
  const where = document.source ? `${document.source}: ` : '';
  return finish(withBos(ids, [...ids], document.text, tokenizer), options, where);
}

export function tokenizeExample(
  example: Example,
  tokenizer: TextTokenizer,
  template: ChatTemplate,
  options: TokenizeOptions = {},
): TokenizedExample {
  const out =
    example.kind === 'chat'
      ? tokenizeConversation(example.conversation, tokenizer, template, options)
      : tokenizeDocument(example.document, tokenizer, options);
  const source = example.kind === 'chat' ? example.conversation.source : example.document.source;
  return source ? { ...out, source } : out;
}

function defaultTrained(strategy: MaskStrategy, messages: Conversation['messages'], i: number): boolean {
  if (strategy === 'all') return true;
  if (messages[i].role !== 'assistant') return false;
  if (strategy === 'all_assistant') return true;
  return messages.findLastIndex((m) => m.role === 'assistant') === i;
}

function labelSpans(offsets: Int32Array, ids: number[], labels: number[], spans: MessageSpan[]): void {
  let s = 0;
  for (let t = 0; t < ids.length && s < spans.length; t++) {
    const start = offsets[2 * t];
    const end = offsets[2 * t + 1];
    while (s < spans.length && spans[s].end <= start) s++;
    if (s < spans.length && end > spans[s].start && start < spans[s].end) labels[t] = ids[t];
  }
}

function withBos(ids: number[], labels: number[], text: string, tokenizer: TextTokenizer) {
  if (!tokenizer.addsBos || text.startsWith(tokenizer.bosToken!)) return { ids, labels };
  return { ids: [tokenizer.bosId!, ...ids], labels: [IGNORE_INDEX, ...labels] };
}

function finish(
  { ids, labels }: { ids: number[]; labels: number[] },
  options: TokenizeOptions,
  where: string,
): TokenizedExample {
  labels[0] = IGNORE_INDEX;
  let truncated = 0;
  const max = options.maxLength;
  if (max !== undefined && ids.length > max) {
    const policy = options.truncation ?? 'truncate';
    if (policy !== 'truncate') {
      throw new DataError(
        `${where}example has ${ids.length} tokens, more than maxLength ${max} (truncation policy "${policy}")`,
        [],
        'too_long',
      );
    }
    truncated = ids.length - max;
    ids = ids.slice(0, max);
    labels = labels.slice(0, max);
  }
  if (!labels.some((l) => l !== IGNORE_INDEX)) {
    const why = truncated > 0 ? `truncation to ${max} tokens cut away every trained token` : 'no token is trained';
    throw new DataError(`${where}${why}; the example would train on nothing`, [], 'untrainable');
  }
  return { input_ids: ids, labels, truncated };
}

function checkNoSpecialTokens(conversation: Conversation, tokenizer: TextTokenizer, where: string): void {
  conversation.messages.forEach((m, i) => {
    const special = tokenizer.findSpecialToken(m.content);
    if (special !== undefined) {
      throw new DataError(
        `${where}messages[${i}].content: contains the special token ${JSON.stringify(special)}; ` +
          'remove it (content may not forge turn boundaries)',
      );
    }
  });
}
