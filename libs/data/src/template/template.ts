import type { Message, Role } from '../conversation';

/** Where one message sits in the rendered text: `[start, end)` in UTF-16 code units. */
export interface MessageSpan {
  index: number;
  role: Role;
  /** First character the model must produce for this message (after the role header). */
  start: number;
  /** One past the end-of-turn marker that closes the message (so the marker is trained with it). */
  end: number;
}

export interface RenderedConversation {
  text: string;
  /** One span per message of the conversation, in order. */
  spans: MessageSpan[];
}

/** Turns a conversation into text, and says where each message's trainable part lies in it. */
export interface ChatTemplate {
  readonly name: string;
  /** Template source (Jinja), written to `tokenizer_config.json` as `chat_template`. */
  readonly source: string;
  /** Strings that close a turn, e.g. `<|im_end|>`; the first one after a message's content ends its span. */
  readonly endOfTurn: readonly string[];
  render(messages: readonly Message[], options?: { addGenerationPrompt?: boolean }): string;
  renderWithSpans(messages: readonly Message[]): RenderedConversation;
}

export function roleList(messages: readonly Message[]): Role[] {
  return messages.map((m) => m.role);
}
