/**
 * GPT-2's reversible map between bytes and printable Unicode characters, used by every byte-level
 * BPE tokenizer (GPT-2, Llama 3, Qwen, SmolLM): printable Latin-1 bytes map to themselves, the rest
 * to U+0100 onwards (so a space is `Ġ`, a newline `Ċ`).
 */
function buildByteToChar(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return table;
}

export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const encoder = new TextEncoder();

/** `héllo` → `hÃ©llo`: a piece of text as the byte-level alphabet sees it. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of encoder.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}
