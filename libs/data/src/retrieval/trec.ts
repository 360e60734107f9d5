import { writeFile } from 'node:fs/promises';
import { DataError } from '../errors';
import { rowError, whitespaceRows } from './fields';

/** A ranking: query id → document id → score. */
export type Run = Map<string, Map<string, number>>;

/** Reads a TREC run file: `qid Q0 docid rank score tag` per line. */
export async function readTrecRun(file: string): Promise<Run> {
  const run: Run = new Map();
  for await (const { line, fields } of whitespaceRows(file)) {
    if (fields.length !== 6)
      throw rowError(file, line, '(row)', `expected 6 fields "qid Q0 docid rank score tag", got ${fields.length}`);
    const score = Number(fields[4]);
    if (!Number.isFinite(score)) throw rowError(file, line, 'score', `must be a number, got "${fields[4]}"`);
    if (!run.has(fields[0])) run.set(fields[0], new Map());
    run.get(fields[0])!.set(fields[2], score);
  }
  return run;
}

/**
 * Writes a TREC run file, each query's documents by descending score (ties by descending document
 * id, as trec_eval orders them), ranks from 1.
 */
export async function writeTrecRun(
  file: string,
  run: Run,
  tag: string,
  options: { depth?: number } = {},
): Promise<void> {
  if (/\s/.test(tag) || tag === '') throw new DataError(`run tag "${tag}" must be one word`);
  const lines: string[] = [];
  for (const [qid, docs] of run) {
    const ranked = [...docs].sort((a, b) => b[1] - a[1] || (b[0] < a[0] ? -1 : b[0] > a[0] ? 1 : 0));
    ranked
      .slice(0, options.depth ?? ranked.length)
      .forEach(([did, score], i) => lines.push(`${qid} Q0 ${did} ${i + 1} ${score} ${tag}`));
  }
  await writeFile(file, lines.join('\n') + (lines.length ? '\n' : ''));
}
