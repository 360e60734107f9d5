/** The one shape every instruction format is normalised to. */
export type Role = 'system' | 'user' | 'assistant';

export interface Message {
  role: Role;
  content: string;
  /** Per-message override of the masking strategy: true trains this message, false masks it. */
  train?: boolean;
}

export interface Conversation {
  messages: Message[];
  /** Where the row came from, for reports and error messages (`file:line`). */
  source?: string;
  /** Free-form tags: task type, entity ids, split. */
  meta?: Record<string, unknown>;
}

/** Raw text trained on every token (pre-training prose, replay). */
export interface TextDocument {
  text: string;
  source?: string;
  meta?: Record<string, unknown>;
}

export type Example = { kind: 'chat'; conversation: Conversation } | { kind: 'text'; document: TextDocument };
