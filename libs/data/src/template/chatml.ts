import type { Message } from '../conversation';
import type { ChatTemplate, MessageSpan, RenderedConversation } from './template';

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';

/** The ChatML template as Jinja, exactly what `ChatMLTemplate` renders natively. */
export const CHATML_JINJA =
  '{% for message in messages %}' +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  '{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Built-in ChatML: `<|im_start|>role\n…<|im_end|>\n`, generation prompt `<|im_start|>assistant\n`. */
export class ChatMLTemplate implements ChatTemplate {
  readonly name = 'chatml';
  readonly source = CHATML_JINJA;
  readonly endOfTurn = [IM_END] as const;

  render(messages: readonly Message[], options: { addGenerationPrompt?: boolean } = {}): string {
    let text = '';
    for (const m of messages) text += `${IM_START}${m.role}\n${m.content}${IM_END}\n`;
    return options.addGenerationPrompt ? `${text}${IM_START}assistant\n` : text;
  }

  renderWithSpans(messages: readonly Message[]): RenderedConversation {
    let text = '';
    const spans: MessageSpan[] = [];
    messages.forEach((m, index) => {
      text += `${IM_START}${m.role}\n`;
      const start = text.length;
      text += m.content + IM_END;
      spans.push({ index, role: m.role, start, end: text.length });
      text += '\n';
    });
    return { text, spans };
  }
}
