import { access } from 'node:fs/promises';
import type { z } from 'zod';
import type { Example } from '../conversation';
import { DataError, formatIssue, type RowIssue } from '../errors';
import { readRecords } from './records';
import { FORMATS, ROW_SCHEMAS, detectFormat, normalise, type FormatName } from './schemas';

export interface ReadOptions {
  /** The file's format; `auto` (default) detects it from the first row. */
  format?: FormatName | 'auto';
  /** `stop` (default) throws on the first bad row; `skip` drops bad rows and lists every one in the report. */
  onError?: 'stop' | 'skip';
}

/** What a read did: always complete, so nothing is dropped silently. */
export interface ReadReport {
  file: string;
  format: FormatName | undefined;
  rows: number;
  kept: number;
  skipped: RowIssue[];
}

/**
 * Streams a JSON or JSONL dataset as normalised examples. `report` is filled in as rows are read and
 * is final when the iteration ends.
 */
export function streamDataset(
  file: string,
  options: ReadOptions = {},
): { examples: AsyncGenerator<Example>; report: ReadReport } {
  const report: ReadReport = {
    file,
    format: options.format === 'auto' ? undefined : options.format,
    rows: 0,
    kept: 0,
    skipped: [],
  };
  const onError = options.onError ?? 'stop';
  const name = file;

  async function* examples(): AsyncGenerator<Example> {
    try {
      await access(file);
    } catch {
      throw new DataError(`${name}: file not found`);
    }
    if (report.format !== undefined && !FORMATS.includes(report.format)) {
      throw new DataError(`${name}: unknown format "${report.format}"; use one of ${FORMATS.join(', ')}`);
    }
    for await (const record of readRecords(file)) {
      report.rows++;
      const issues =
        'error' in record
          ? [{ file: name, line: record.line, field: '(row)', message: record.error }]
          : validate(record.value, record.line);
      if (issues.length === 0 && 'value' in record) {
        report.kept++;
        yield normalise(report.format!, record.value, `${name}:${record.line}`);
        continue;
      }
      if (onError === 'stop') {
        throw new DataError(
          `${issues.map(formatIssue).join('\n')}\n` +
            '(stopped at the first bad row; pass onError "skip" to skip bad rows and list them)',
          issues,
        );
      }
      report.skipped.push(
        ...issues.slice(0, 1).map((i) => ({
          ...i,
          message: issues.length > 1 ? `${i.message} (and ${issues.length - 1} more)` : i.message,
        })),
      );
    }
    if (report.rows === 0) throw new DataError(`${name}: no rows; an empty dataset would train on nothing`);
    if (report.kept === 0)
      throw new DataError(
        `${name}: all ${report.rows} rows are invalid, first: ${formatIssue(report.skipped[0])}`,
        report.skipped,
      );
  }

  function validate(value: unknown, line: number): RowIssue[] {
    if (report.format === undefined) {
      report.format = detectFormat(value);
      if (report.format === undefined) {
        return [
          {
            file: name,
            line,
            field: '(row)',
            message:
              `cannot tell the format from keys ${keysOf(value)}; expected one of: messages, prompt+completion, ` +
              'instruction+output (alpaca), conversations (sharegpt), text',
          },
        ];
      }
    }
    const result = (ROW_SCHEMAS[report.format] as z.ZodType).safeParse(value);
    if (result.success) return [];
    return result.error.issues.map((issue) => ({
      file: name,
      line,
      field: fieldName(issue.path) || '(row)',
      message: issue.message,
    }));
  }

  return { examples: examples(), report };
}

/** Reads a whole dataset into memory. */
export async function readDataset(
  file: string,
  options: ReadOptions = {},
): Promise<{ examples: Example[]; report: ReadReport }> {
  const { examples, report } = streamDataset(file, options);
  const out: Example[] = [];
  for await (const example of examples) out.push(example);
  return { examples: out, report };
}

function fieldName(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i > 0 ? '.' : ''}${String(k)}`)).join('');
}

function keysOf(value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `(a ${Array.isArray(value) ? 'list' : typeof value}, not an object)`;
  return `{${Object.keys(value).join(', ')}}`;
}
