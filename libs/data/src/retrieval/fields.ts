import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { DataError, formatIssue } from '../errors';

/** The whitespace-separated fields of each non-blank line of a text file (qrels, TREC runs), with its line number. */
export async function* whitespaceRows(file: string): AsyncGenerator<{ line: number; fields: string[] }> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() !== '') yield { line, fields: text.trim().split(/\s+/) };
  }
}

/** A bad row of such a file, as `file:line: field: message`. */
export function rowError(file: string, line: number, field: string, message: string): DataError {
  return new DataError(formatIssue({ file, line, field, message }));
}
