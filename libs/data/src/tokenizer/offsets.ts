import { CHAR_TO_BYTE } from './byte-level';

/** How a tokenizer's token strings spell bytes of the input. */
export type Spelling = 'byte-level' | 'metaspace';

const encoder = new TextEncoder();

/** Bytes of the input that one (non-special) token stands for. */
function tokenBytes(token: string, spelling: Spelling): number[] {
  if (spelling === 'byte-level') {
    const bytes: number[] = [];
    for (const ch of token) {
      const b = CHAR_TO_BYTE.get(ch);
      if (b === undefined) return [...encoder.encode(token)];
      bytes.push(b);
    }
    return bytes;
  }
  const fallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
  if (fallback) return [parseInt(fallback[1], 16)];
  return [...encoder.encode(token.replaceAll('\u2581', ' '))];
}

/**
 * Character offsets `[start, end)` of each token in `text`, recovered from the token strings and
 * checked byte for byte against the text. Throws when they do not spell the text (for example a
 * normaliser that rewrites it), so labels are never derived from guessed boundaries.
 */
export function alignTokens(
  text: string,
  tokens: readonly string[],
  isSpecial: readonly boolean[],
  spelling: Spelling,
): Int32Array {
  const textBytes = encoder.encode(text);
  const offsets = new Int32Array(tokens.length * 2);
  let bytePos = 0;
  let charPos = 0; // UTF-16 index of the character holding byte `bytePos`
  let intoChar = 0; // bytes of the character at charPos already consumed
  let segmentStart = true; // first model token after the start or a special token

  const advance = (n: number) => {
    while (n > 0) {
      const cp = text.codePointAt(charPos)!;
      const width = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      const take = Math.min(n, width - intoChar);
      n -= take;
      intoChar += take;
      if (intoChar === width) {
        charPos += cp > 0xffff ? 2 : 1;
        intoChar = 0;
      }
    }
  };

  for (let t = 0; t < tokens.length; t++) {
    let bytes = isSpecial[t] ? [...encoder.encode(tokens[t])] : tokenBytes(tokens[t], spelling);
    // SentencePiece-style tokenizers prepend a `▁` that is not in the text.
    if (spelling === 'metaspace' && segmentStart && !isSpecial[t] && bytes[0] === 0x20 && textBytes[bytePos] !== 0x20)
      bytes = bytes.slice(1);
    const start = charPos;
    for (let i = 0; i < bytes.length; i++) {
      if (textBytes[bytePos + i] !== bytes[i]) {
        throw new Error(
          `token ${t} (${JSON.stringify(tokens[t])}) does not match the text at character ${charPos}; ` +
            'this tokenizer rewrites its input, so character offsets cannot be recovered',
        );
      }
    }
    bytePos += bytes.length;
    advance(bytes.length);
    offsets[2 * t] = start;
    offsets[2 * t + 1] = intoChar > 0 ? charPos + 1 : charPos;
    segmentStart = isSpecial[t];
  }
  if (bytePos !== textBytes.length) {
    throw new Error(
      `tokens spell ${bytePos} of the text's ${textBytes.length} bytes; ` +
        'this tokenizer drops or adds text, so character offsets cannot be recovered',
    );
  }
  return offsets;
}
