import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** One raw row of a JSON or JSONL file, parsed or not, with the line it starts on (1-based). */
export type RawRecord = { line: number; value: unknown } | { line: number; error: string };

/** Streams the rows of a `.jsonl` file or the elements of a top-level JSON array, never holding the whole file. */
export function readRecords(file: string): AsyncGenerator<RawRecord> {
  return /\.json$/i.test(file) ? readJsonArray(file) : readJsonLines(file);
}

async function* readJsonLines(file: string): AsyncGenerator<RawRecord> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    yield parse(text, line);
  }
}

function parse(text: string, line: number): RawRecord {
  try {
    return { line, value: JSON.parse(text) };
  } catch (err) {
    return { line, error: `invalid JSON (${(err as Error).message})` };
  }
}

const OPEN_BRACE = 123,
  CLOSE_BRACE = 125,
  OPEN_BRACKET = 91,
  CLOSE_BRACKET = 93;
const QUOTE = 34,
  BACKSLASH = 92,
  COMMA = 44,
  NEWLINE = 10;

/**
 * Splits a top-level JSON array into its elements as text, tracking strings, escapes and nesting,
 * so each element is parsed on its own and reported with the line it starts on.
 */
async function* readJsonArray(file: string): AsyncGenerator<RawRecord> {
  let line = 1;
  let depth = 0; // 0 = before '[', 1 = inside the top-level array, >1 = inside an element
  let inString = false;
  let escaped = false;
  let started = false;
  let ended = false;
  let element: string[] = [];
  let elementLine = 0;
  let scalarStart = -1; // a top-level scalar element (not an object or array) in progress

  for await (const chunk of createReadStream(file, { encoding: 'utf8' }) as AsyncIterable<string>) {
    let sliceStart = depth > 1 || scalarStart >= 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === NEWLINE) line++;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c === QUOTE) {
        inString = true;
        if (depth === 1 && scalarStart < 0) {
          scalarStart = i;
          sliceStart = i;
          elementLine = line;
        }
        continue;
      }
      if (c <= 32) continue;
      if (ended) {
        yield { line, error: 'unexpected content after the top-level JSON array' };
        return;
      }
      if (!started) {
        if (c !== OPEN_BRACKET) {
          yield { line, error: 'a .json dataset must be a top-level array of rows (use .jsonl for one row per line)' };
          return;
        }
        started = true;
        depth = 1;
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === 1 && scalarStart < 0) {
          sliceStart = i;
          elementLine = line;
          element = [];
        }
        depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 1) {
          element.push(chunk.slice(sliceStart, i + 1));
          yield parse(element.join(''), elementLine);
          element = [];
          sliceStart = -1;
        } else if (depth === 0) {
          if (scalarStart >= 0) {
            element.push(chunk.slice(sliceStart, i));
            yield parse(element.join(''), elementLine);
          }
          ended = true;
        }
      } else if (c === COMMA && depth === 1) {
        if (scalarStart >= 0) {
          element.push(chunk.slice(sliceStart, i));
          yield parse(element.join(''), elementLine);
          element = [];
          scalarStart = -1;
          sliceStart = -1;
        }
      } else if (depth === 1 && scalarStart < 0) {
        scalarStart = i;
        sliceStart = i;
        elementLine = line;
        element = [];
      }
    }
    if (sliceStart >= 0) element.push(chunk.slice(sliceStart));
    if (scalarStart >= 0) scalarStart = 0;
  }
  if (!started) yield { line, error: 'empty file: expected a JSON array of rows' };
  else if (!ended) yield { line, error: 'unexpected end of file: the top-level JSON array is not closed' };
}
