import { Template } from '@huggingface/jinja';
import type { Message } from '../conversation';
import { DataError } from '../errors';
import type { ChatTemplate, MessageSpan, RenderedConversation } from './template';

export interface JinjaTemplateOptions {
  /** Extra variables the template reads (`bos_token`, `eos_token`, …). */
  variables?: Record<string, unknown>;
  /** Strings that close a turn; defaults to the common ones plus `eos_token`. */
  endOfTurn?: string[];
  name?: string;
}

const COMMON_END_OF_TURN = ['<|im_end|>', '<|eot_id|>', '<end_of_turn>', '<|end|>', '</s>', '<|endoftext|>'];

/**
 * Any Hugging Face `chat_template`, rendered with @huggingface/jinja.
 *
 * Spans come from rendering prefixes of the conversation: the text of messages[0..i) with the
 * generation prompt ends exactly where assistant message i starts in the full rendering. The
 * span ends after the first end-of-turn marker that follows. Templates that render a prefix
 * differently from the full conversation are reported, not guessed at.
 */
export class JinjaChatTemplate implements ChatTemplate {
  readonly name: string;
  readonly source: string;
  readonly endOfTurn: readonly string[];
  private readonly template: Template;
  private readonly variables: Record<string, unknown>;

  constructor(source: string, options: JinjaTemplateOptions = {}) {
    this.source = source;
    this.name = options.name ?? 'jinja';
    this.variables = options.variables ?? {};
    const eos = typeof this.variables.eos_token === 'string' ? [this.variables.eos_token] : [];
    this.endOfTurn = options.endOfTurn ?? [
      ...new Set([...COMMON_END_OF_TURN.filter((t) => source.includes(t)), ...eos]),
    ];
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new DataError(`chat_template does not parse: ${(err as Error).message}`);
    }
  }

  render(messages: readonly Message[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (messages.length === 0) return options.addGenerationPrompt ? this.generationPromptAlone() : '';
    try {
      return this.template.render({
        ...this.variables,
        messages,
        add_generation_prompt: options.addGenerationPrompt ?? false,
      });
    } catch (err) {
      throw new DataError(`chat_template failed to render (${(err as Error).message})`);
    }
  }

  renderWithSpans(messages: readonly Message[]): RenderedConversation {
    const text = this.render(messages);
    let cursor = 0;
    const spans: MessageSpan[] = messages.map((m, index) => {
      let start: number;
      let contentEnd: number;
      if (m.role === 'assistant') {
        // The prompt for this turn ends exactly where the model starts writing.
        const prefix = this.render(messages.slice(0, index), { addGenerationPrompt: true });
        if (!text.startsWith(prefix) || prefix.length < cursor) {
          throw new DataError(
            `chat_template "${this.name}" is not prefix-stable at messages[${index}]: the prompt for that assistant ` +
              'turn is not a prefix of the full conversation, so the turn cannot be located; use a template whose ' +
              'earlier turns do not change when later turns are added',
          );
        }
        start = contentEnd = prefix.length;
      } else {
        // Other roles are found by their (stripped) content after the previous message.
        const content = m.content.trim();
        start = text.indexOf(content, cursor);
        if (start < 0)
          throw new DataError(
            `chat_template "${this.name}" does not write the content of messages[${index}] (${m.role}) into the prompt`,
          );
        contentEnd = start + content.length;
      }
      const end = this.endOfTurnAfter(text, contentEnd);
      cursor = end;
      return { index, role: m.role, start, end };
    });
    return { text, spans };
  }

  private endOfTurnAfter(text: string, from: number): number {
    let best = -1;
    let bestLength = 0;
    for (const marker of this.endOfTurn) {
      const at = text.indexOf(marker, from);
      if (at >= 0 && (best < 0 || at < best)) [best, bestLength] = [at, marker.length];
    }
    if (best < 0)
      throw new DataError(
        `chat_template "${this.name}": no end-of-turn marker (${this.endOfTurn.join(', ')}) after a message; ` +
          'pass endOfTurn for this template',
      );
    return best + bestLength;
  }

  private generationPromptAlone(): string {
    // The generation prompt for an empty conversation: render one user turn with and without it.
    const probe: Message[] = [{ role: 'user', content: '\u0000' }];
    const withPrompt = this.render(probe, { addGenerationPrompt: true });
    const without = this.render(probe);
    return withPrompt.slice(without.length);
  }
}
