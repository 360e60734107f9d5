import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DataError, formatIssue, type RowIssue } from '../errors';
import { readRecords } from '../formats/records';
import { rowError, whitespaceRows } from './fields';

export interface BeirDocument {
  id: string;
  title: string;
  text: string;
  /**
   * What is known about the document besides its text (BEIR's corpus rows may carry it), so code can ask what a
   * document is about instead of parsing its id; kept by writeBeir and readBeir.
   */
  metadata?: Record<string, unknown>;
}

export interface BeirQuery {
  id: string;
  text: string;
  /** What counts as relevant for this query (FollowIR's `instruction`); the reranker's default when absent. */
  instruction?: string;
  metadata?: Record<string, unknown>;
}

/** Relevance judgments: query id → document id → grade (0 = judged not relevant). */
export type Qrels = Map<string, Map<string, number>>;

export interface BeirCollection {
  name: string;
  corpus: Map<string, BeirDocument>;
  queries: Map<string, BeirQuery>;
  qrels: Qrels;
}

const docRow = z.object({
  _id: z.union([z.string(), z.number()]).transform(String),
  title: z.string().optional().default(''),
  text: z.string({ error: 'must be a string' }),
  // metadata that is not an object is left out, as it was before documents kept metadata, rather than failing
  metadata: z.record(z.string(), z.unknown()).optional().catch(undefined),
});
const queryRow = z.object({
  _id: z.union([z.string(), z.number()]).transform(String),
  text: z.string({ error: 'must be a string' }),
  instruction: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Reads a BEIR collection directory: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`. */
export async function readBeir(dir: string, options: { split?: string } = {}): Promise<BeirCollection> {
  const split = options.split ?? 'test';
  const corpus = new Map<string, BeirDocument>();
  for (const row of await readRows(path.join(dir, 'corpus.jsonl'), docRow))
    corpus.set(row._id, {
      id: row._id,
      title: row.title,
      text: row.text,
      ...(row.metadata ? { metadata: row.metadata } : {}),
    });
  const queries = new Map<string, BeirQuery>();
  for (const row of await readRows(path.join(dir, 'queries.jsonl'), queryRow)) {
    queries.set(row._id, {
      id: row._id,
      text: row.text,
      ...(row.instruction ? { instruction: row.instruction } : {}),
      ...(row.metadata ? { metadata: row.metadata } : {}),
    });
  }
  const qrelsFile = path.join(dir, 'qrels', `${split}.tsv`);
  try {
    await access(qrelsFile);
  } catch {
    const available = await readdir(path.join(dir, 'qrels')).catch(() => []);
    throw new DataError(
      `${qrelsFile}: not found` +
        (available.length ? `; available splits: ${available.map((f) => f.replace(/\.tsv$/, '')).join(', ')}` : ''),
    );
  }
  const qrels = await readQrels(qrelsFile);
  const issues: RowIssue[] = [];
  for (const [qid, docs] of qrels) {
    if (!queries.has(qid))
      issues.push({ file: qrelsFile, line: 0, field: 'query-id', message: `query ${qid} is not in queries.jsonl` });
    for (const did of docs.keys())
      if (!corpus.has(did))
        issues.push({
          file: qrelsFile,
          line: 0,
          field: 'corpus-id',
          message: `document ${did} is not in corpus.jsonl`,
        });
  }
  if (issues.length)
    throw new DataError(
      `${issues.length} judgments refer to unknown ids:\n${issues.slice(0, 10).map(formatIssue).join('\n')}`,
      issues,
    );
  return { name: path.basename(path.resolve(dir)), corpus, queries, qrels };
}

async function readRows<T>(file: string, schema: z.ZodType<T>): Promise<T[]> {
  try {
    await access(file);
  } catch {
    throw new DataError(`${file}: not found (a BEIR collection has corpus.jsonl, queries.jsonl and qrels/<split>.tsv)`);
  }
  const rows: T[] = [];
  for await (const record of readRecords(file)) {
    if ('error' in record)
      throw new DataError(formatIssue({ file, line: record.line, field: '(row)', message: record.error }));
    const parsed = schema.safeParse(record.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DataError(
        formatIssue({ file, line: record.line, field: issue.path.join('.') || '(row)', message: issue.message }),
      );
    }
    rows.push(parsed.data);
  }
  return rows;
}

/**
 * Reads judgments in BEIR's TSV (`query-id corpus-id score`, with a header) or TREC's qrels format
 * (`qid iter docid rel`, whitespace-separated).
 */
export async function readQrels(file: string): Promise<Qrels> {
  const qrels: Qrels = new Map();
  for await (const { line, fields } of whitespaceRows(file)) {
    if (line === 1 && fields[0] === 'query-id') continue;
    if (fields.length !== 3 && fields.length !== 4) {
      const got = `got ${fields.length} fields`;
      throw rowError(file, line, '(row)', `expected "query-id corpus-id score" or "qid iter docid rel", ${got}`);
    }
    const [qid, did, grade] = fields.length === 3 ? fields : [fields[0], fields[2], fields[3]];
    const value = Number(grade);
    if (!Number.isInteger(value)) throw rowError(file, line, 'score', `must be an integer, got "${grade}"`);
    if (!qrels.has(qid)) qrels.set(qid, new Map());
    qrels.get(qid)!.set(did, value);
  }
  return qrels;
}

/**
 * Writes a collection in BEIR's layout (`corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`), readable by
 * `readBeir`.
 */
export async function writeBeir(
  dir: string,
  c: Omit<BeirCollection, 'name'>,
  options: { split?: string } = {},
): Promise<void> {
  await mkdir(path.join(dir, 'qrels'), { recursive: true });
  const lines = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  await writeFile(
    path.join(dir, 'corpus.jsonl'),
    lines(
      [...c.corpus.values()].map((d) => ({
        _id: d.id,
        title: d.title,
        text: d.text,
        ...(d.metadata ? { metadata: d.metadata } : {}),
      })),
    ),
  );
  await writeFile(
    path.join(dir, 'queries.jsonl'),
    lines(
      [...c.queries.values()].map((q) => ({
        _id: q.id,
        text: q.text,
        ...(q.instruction ? { instruction: q.instruction } : {}),
        ...(q.metadata ? { metadata: q.metadata } : {}),
      })),
    ),
  );
  const qrels = ['query-id\tcorpus-id\tscore'];
  for (const [qid, docs] of c.qrels) for (const [did, grade] of docs) qrels.push(`${qid}\t${did}\t${grade}`);
  await writeFile(path.join(dir, 'qrels', `${options.split ?? 'test'}.tsv`), qrels.join('\n') + '\n');
}
