import { z } from 'zod';
import type { Example, Message } from '../conversation';

/** The input formats we read; every one normalises to a `Conversation` (or a `TextDocument` for `text`). */
export const FORMATS = ['messages', 'prompt_completion', 'alpaca', 'sharegpt', 'text'] as const;
export type FormatName = (typeof FORMATS)[number];

const nonEmpty = z.string().refine((s) => s.trim().length > 0, 'must not be empty');

const message = z.object({
  role: z.enum(['system', 'user', 'assistant'], { error: 'must be "system", "user" or "assistant"' }),
  content: z.string({ error: 'must be a string' }),
  train: z.boolean({ error: 'must be true or false' }).optional(),
});

/** Cross-message rules shared by every chat format. */
function checkTurns(messages: Message[], ctx: z.RefinementCtx, path: (i: number) => (string | number)[]) {
  if (!messages.some((m) => m.role === 'assistant')) {
    ctx.addIssue({ code: 'custom', path: [], message: 'needs at least one assistant message to train on' });
  }
  messages.forEach((m, i) => {
    if (m.role === 'assistant' && m.content.trim() === '' && m.train !== false) {
      ctx.addIssue({
        code: 'custom',
        path: path(i),
        message: 'assistant message is empty (nothing to train on); remove it or set "train": false',
      });
    }
  });
}

const messagesRow = z
  .object({
    messages: z.array(message, { error: 'must be a list of {role, content} messages' }).min(1, 'must not be empty'),
  })
  .superRefine((row, ctx) => checkTurns(row.messages, ctx, (i) => ['messages', i, 'content']));

const promptCompletionRow = z.union(
  [
    z.object({ prompt: nonEmpty, completion: nonEmpty, system: z.string().optional() }),
    z.object({ prompt: z.array(message).min(1), completion: z.array(message).min(1) }),
  ],
  { error: 'needs "prompt" and "completion", both strings or both lists of messages' },
);

const alpacaRow = z.object({
  instruction: nonEmpty,
  input: z.string({ error: 'must be a string' }).optional().nullable(),
  output: nonEmpty,
  system: z.string().optional(),
});

const SHAREGPT_ROLES: Record<string, Message['role']> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  chatgpt: 'assistant',
  bing: 'assistant',
  bard: 'assistant',
};
const sharegptRow = z
  .object({
    system: z.string().optional(),
    conversations: z
      .array(
        z.object({
          from: z
            .string()
            // own keys only: `toString` or `__proto__` must not pass as roles through the prototype
            .refine(
              (r) => Object.hasOwn(SHAREGPT_ROLES, r),
              `must be one of ${Object.keys(SHAREGPT_ROLES).join(', ')}`,
            ),
          value: z.string({ error: 'must be a string' }),
          train: z.boolean().optional(),
        }),
      )
      .min(1, 'must not be empty'),
  })
  .superRefine((row, ctx) =>
    checkTurns(
      row.conversations.map((t) => ({ role: SHAREGPT_ROLES[t.from], content: t.value, train: t.train })),
      ctx,
      (i) => ['conversations', i, 'value'],
    ),
  );

const textRow = z.object({ text: nonEmpty });

export const ROW_SCHEMAS = {
  messages: messagesRow,
  prompt_completion: promptCompletionRow,
  alpaca: alpacaRow,
  sharegpt: sharegptRow,
  text: textRow,
} as const;

/** Guesses a file's format from the keys of its first object row. */
export function detectFormat(row: unknown): FormatName | undefined {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return undefined;
  const has = (k: string) => k in row;
  if (has('messages')) return 'messages';
  if (has('conversations')) return 'sharegpt';
  if (has('instruction') && has('output')) return 'alpaca';
  if (has('prompt') && has('completion')) return 'prompt_completion';
  if (has('text')) return 'text';
  return undefined;
}

/** Turns one validated row into our typed example. */
export function normalise(format: FormatName, row: unknown, source: string): Example {
  const meta = pickMeta(row);
  switch (format) {
    case 'messages': {
      const r = messagesRow.parse(row);
      return chat(r.messages.map(cleanMessage), source, meta);
    }
    case 'prompt_completion': {
      const r = promptCompletionRow.parse(row);
      if (typeof r.prompt === 'string' && typeof r.completion === 'string') {
        const system: Message[] = 'system' in r && r.system ? [{ role: 'system', content: r.system }] : [];
        return chat(
          [...system, { role: 'user', content: r.prompt }, { role: 'assistant', content: r.completion }],
          source,
          meta,
        );
      }
      // Conversational prompt/completion: the prompt is never trained, the completion always is.
      const prompt = (r.prompt as Message[]).map((m) => ({ ...cleanMessage(m), train: false }));
      return chat([...prompt, ...(r.completion as Message[]).map(cleanMessage)], source, meta);
    }
    case 'alpaca': {
      const r = alpacaRow.parse(row);
      const user = r.input && r.input.trim() ? `${r.instruction}\n\n${r.input}` : r.instruction;
      const system: Message[] = r.system ? [{ role: 'system', content: r.system }] : [];
      return chat([...system, { role: 'user', content: user }, { role: 'assistant', content: r.output }], source, meta);
    }
    case 'sharegpt': {
      const r = sharegptRow.parse(row);
      const system: Message[] = r.system ? [{ role: 'system', content: r.system }] : [];
      const turns = r.conversations.map((t) =>
        cleanMessage({ role: SHAREGPT_ROLES[t.from], content: t.value, train: t.train }),
      );
      return chat([...system, ...turns], source, meta);
    }
    case 'text':
      return { kind: 'text', document: { text: textRow.parse(row).text, source, meta } };
  }
}

function chat(messages: Message[], source: string, meta?: Record<string, unknown>): Example {
  return { kind: 'chat', conversation: { messages, source, ...(meta ? { meta } : {}) } };
}

/** Unicode NFC so tokenizers with an NFC normaliser see the same characters we computed offsets for. */
function cleanMessage(m: Message): Message {
  const out: Message = { role: m.role, content: m.content.normalize('NFC') };
  if (m.train !== undefined) out.train = m.train;
  return out;
}

function pickMeta(row: unknown): Record<string, unknown> | undefined {
  if (typeof row !== 'object' || row === null) return undefined;
  const r = row as Record<string, unknown>;
  const meta: Record<string, unknown> = {};
  if (r.id !== undefined) meta.id = r.id;
  if (typeof r.meta === 'object' && r.meta !== null) Object.assign(meta, r.meta);
  return Object.keys(meta).length ? meta : undefined;
}
