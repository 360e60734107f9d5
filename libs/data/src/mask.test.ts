import { describe, expect, it } from 'vitest';
import type { Conversation } from './conversation';
import { DataError } from './errors';
import { explainLabels, labelTable } from './explain';
import { IGNORE_INDEX, tokenizeConversation, type MaskStrategy } from './mask';
import { prepareExamples } from './prepare';
import { ChatMLTemplate } from './template/chatml';
import { JinjaChatTemplate } from './template/jinja';
import { smallTokenizer } from './testing/fixtures';

const tokenizer = smallTokenizer();
const chatml = new ChatMLTemplate();

const conversation: Conversation = {
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello!' },
    { role: 'assistant', content: 'How are you?' },
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'The capital of France is Paris.' },
  ],
};

function golden(strategy: MaskStrategy, conv = conversation) {
  const example = tokenizeConversation(conv, tokenizer, chatml, { strategy });
  console.log(`--- ${strategy}\n${labelTable(tokenizer, example)}`);
  return explainLabels(tokenizer, example);
}

describe('loss masks (golden)', () => {
  it('all_assistant trains every assistant turn through its <|im_end|>, nothing else', () => {
    expect(golden('all_assistant')).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n' +
        '<|im_start|>assistant\n«How are you?<|im_end|>»\n' +
        '<|im_start|>user\nWhat is the capital of France?<|im_end|>\n' +
        '<|im_start|>assistant\n«The capital of France is Paris.<|im_end|>»\n',
    );
  });

  it('last_assistant trains only the final turn', () => {
    expect(golden('last_assistant')).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n' +
        '<|im_start|>assistant\nHow are you?<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n' +
        '<|im_start|>assistant\n«The capital of France is Paris.<|im_end|>»\n',
    );
  });

  it('all trains every token except position 0, which nothing precedes', () => {
    const example = tokenizeConversation(conversation, tokenizer, chatml, { strategy: 'all' });
    expect(example.labels[0]).toBe(IGNORE_INDEX);
    expect(example.labels.slice(1)).toEqual(example.input_ids.slice(1));
    expect(golden('all').startsWith('<|im_start|>«system\nBe brief.')).toBe(true);
  });

  it('per-message train flags override the strategy', () => {
    const conv: Conversation = {
      messages: [
        { role: 'user', content: 'Hello!', train: true },
        { role: 'assistant', content: 'How are you?', train: false },
        { role: 'user', content: 'What is the capital of Peru?' },
        { role: 'assistant', content: 'The capital of Peru is Lima.' },
      ],
    };
    expect(golden('all_assistant', conv)).toBe(
      '<|im_start|>user\n«Hello!<|im_end|>»\n<|im_start|>assistant\nHow are you?<|im_end|>\n' +
        '<|im_start|>user\nWhat is the capital of Peru?<|im_end|>\n' +
        '<|im_start|>assistant\n«The capital of Peru is Lima.<|im_end|>»\n',
    );
  });

  it('an empty assistant turn is an error naming the message', () => {
    const conv: Conversation = {
      source: 'chat.jsonl:7',
      messages: [
        { role: 'user', content: 'Hello!' },
        { role: 'assistant', content: '' },
      ],
    };
    expect(() => tokenizeConversation(conv, tokenizer, chatml)).toThrow(
      'chat.jsonl:7: messages[1].content: assistant message is empty',
    );
  });

  it('truncation that cuts the response keeps the trained prefix and reports the cut', () => {
    const full = tokenizeConversation(conversation, tokenizer, chatml, { strategy: 'last_assistant' });
    const maxLength = full.input_ids.length - 4;
    const cut = tokenizeConversation(conversation, tokenizer, chatml, { strategy: 'last_assistant', maxLength });
    expect(cut.truncated).toBe(4);
    expect(cut.input_ids).toEqual(full.input_ids.slice(0, maxLength));
    expect(explainLabels(tokenizer, cut)).toMatch(/<\|im_start\|>assistant\n«The capital of France[^»]*»$/);
    expect(explainLabels(tokenizer, cut)).not.toContain('<|im_end|>»');
  });

  it('truncation that cuts away every trained token is an error, or a counted skip', () => {
    const full = tokenizeConversation(conversation, tokenizer, chatml, { strategy: 'last_assistant' });
    const firstTrained = full.labels.findIndex((l) => l !== IGNORE_INDEX);
    const options = { strategy: 'last_assistant' as const, maxLength: firstTrained };
    expect(() => tokenizeConversation(conversation, tokenizer, chatml, options)).toThrow(
      /truncation to \d+ tokens cut away every trained token/,
    );
    const ok: Conversation = {
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
      ],
      source: 'b',
    };
    const { examples, report } = prepareExamples(
      [
        { kind: 'chat', conversation: { ...conversation, source: 'a' } },
        { kind: 'chat', conversation: ok },
      ],
      tokenizer,
      chatml,
      { ...options, onError: 'skip' },
    );
    expect(examples).toHaveLength(1);
    expect(report.skippedByReason.untrainable).toBe(1);
    expect(report.skipped[0].source).toBe('a');
  });

  it('too-long examples under "drop" are skipped and counted, under "error" they stop the run', () => {
    const ex = [
      { kind: 'chat' as const, conversation: { ...conversation, source: 'long' } },
      {
        kind: 'chat' as const,
        conversation: {
          source: 'short',
          messages: [
            { role: 'user' as const, content: 'Hi' },
            { role: 'assistant' as const, content: 'Hello!' },
          ],
        },
      },
    ];
    const { report } = prepareExamples(ex, tokenizer, chatml, { maxLength: 20, truncation: 'drop' });
    expect(report.skippedByReason.too_long).toBe(1);
    expect(report.kept).toBe(1);
    expect(() => prepareExamples(ex, tokenizer, chatml, { maxLength: 20, truncation: 'error' })).toThrow(
      /more than maxLength 20/,
    );
  });

  it('content that contains a special token is refused', () => {
    const conv: Conversation = {
      messages: [
        { role: 'user', content: 'Hi<|im_end|>' },
        { role: 'assistant', content: 'Hello!' },
      ],
    };
    expect(() => tokenizeConversation(conv, tokenizer, chatml)).toThrow(
      /messages\[0\]\.content: contains the special token "<\|im_end\|>"/,
    );
  });

  it('adds no duplicate BOS: one when the template writes it, one when the tokenizer must add it', () => {
    const withBos = smallTokenizer({ add_bos_token: true, bos_token: '<|endoftext|>' });
    const bos = withBos.requireId('<|endoftext|>');
    const jinjaWithBos = new JinjaChatTemplate(`{{ bos_token }}${chatml.source}`, {
      variables: { bos_token: '<|endoftext|>' },
    });
    for (const template of [chatml, jinjaWithBos]) {
      const example = tokenizeConversation(conversation, withBos, template);
      expect(example.input_ids[0]).toBe(bos);
      expect(example.input_ids.filter((id) => id === bos)).toHaveLength(1);
    }
  });

  it('throws DataError (not a crash) for user mistakes', () => {
    const conv: Conversation = { messages: [{ role: 'user', content: 'Hi' }] };
    expect(() => tokenizeConversation(conv, tokenizer, chatml)).toThrow(DataError);
  });
});
