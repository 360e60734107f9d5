import { IGNORE_INDEX, type TokenizedExample } from './mask';
import type { TextTokenizer } from './tokenizer/tokenizer';

/**
 * The example's text with trained runs wrapped in «…»: an exact, readable picture of its labels
 * (what Axolotl's debug view shows in colour). Throws if a trained label is not its own token.
 */
export function explainLabels(
  tokenizer: TextTokenizer,
  example: Pick<TokenizedExample, 'input_ids' | 'labels'>,
): string {
  let out = '';
  let run: number[] = [];
  let open = false;
  const flush = () => {
    out += tokenizer.decode(run);
    run = [];
  };
  for (let t = 0; t < example.input_ids.length; t++) {
    const id = example.input_ids[t];
    const trained = example.labels[t] !== IGNORE_INDEX;
    if (trained && example.labels[t] !== id) throw new Error(`label ${t} is ${example.labels[t]}, not the token ${id}`);
    if (trained !== open) {
      flush();
      out += trained ? '«' : '»';
    }
    open = trained;
    run.push(id);
  }
  flush();
  return open ? `${out}»` : out;
}

/** One line per token: position, id, token text, label. */
export function labelTable(tokenizer: TextTokenizer, example: Pick<TokenizedExample, 'input_ids' | 'labels'>): string {
  const lines: string[] = [];
  for (let t = 0; t < example.input_ids.length; t++) {
    const id = example.input_ids[t];
    lines.push(
      `${String(t).padStart(4)} ${String(id).padStart(6)} ` +
        `${JSON.stringify(tokenizer.decode([id])).padEnd(18)} ${example.labels[t]}`,
    );
  }
  return lines.join('\n');
}
