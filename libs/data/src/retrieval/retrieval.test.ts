import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBeir, readQrels, writeBeir, type BeirDocument } from './beir';
import { readTrecRun, writeTrecRun } from './trec';

async function collection(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'beir-'));
  await mkdir(path.join(dir, 'qrels'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

const corpus = [
  { _id: 'd1', title: 'Peru', text: 'The capital of Peru is Lima.' },
  { _id: 'd2', title: 'Chile', text: 'The capital of Chile is Santiago.' },
  { _id: 3, text: 'A document with a numeric id and no title.' },
]
  .map((r) => JSON.stringify(r))
  .join('\n');
const queries = [
  { _id: 'q1', text: 'capital of Peru' },
  { _id: 'q2', text: 'unjudged query' },
]
  .map((r) => JSON.stringify(r))
  .join('\n');

describe('BEIR collections', () => {
  it('reads corpus, queries and graded qrels', async () => {
    const dir = await collection({
      'corpus.jsonl': corpus,
      'queries.jsonl': queries,
      'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n',
    });
    const c = await readBeir(dir);
    expect(c.corpus.size).toBe(3);
    expect(c.corpus.get('3')).toEqual({ id: '3', title: '', text: 'A document with a numeric id and no title.' });
    expect(c.queries.get('q1')?.text).toBe('capital of Peru');
    expect([...c.qrels.get('q1')!]).toEqual([
      ['d1', 2],
      ['d2', 0],
    ]);
  });

  it('names the file, line and field of a problem', async () => {
    const bad = await collection({
      'corpus.jsonl': corpus + '\n{"_id": "d4"}',
      'queries.jsonl': queries,
      'qrels/test.tsv': 'q1 d1 1\n',
    });
    await expect(readBeir(bad)).rejects.toThrow(/corpus\.jsonl:4: text: must be a string/);
    const dangling = await collection({
      'corpus.jsonl': corpus,
      'queries.jsonl': queries,
      'qrels/test.tsv': 'q1\td9\t1\n',
    });
    await expect(readBeir(dangling)).rejects.toThrow(/document d9 is not in corpus\.jsonl/);
    await expect(readBeir(dangling, { split: 'dev' })).rejects.toThrow(/dev\.tsv: not found; available splits: test/);
  });

  it("keeps documents' metadata through BEIR files, and leaves out metadata that is not an object", async () => {
    const doc: BeirDocument = { id: 'd1', title: 'Peru', text: 'Lima.', metadata: { entity: 'PE', facet: 'capital' } };
    const dir = await mkdtemp(path.join(tmpdir(), 'beir-'));
    await writeBeir(dir, { corpus: new Map([['d1', doc]]), queries: new Map(), qrels: new Map() });
    expect((await readBeir(dir)).corpus.get('d1')).toEqual(doc);
    const odd = await collection({
      'corpus.jsonl': '{"_id": "d1", "text": "Lima.", "metadata": "not an object"}\n',
      'queries.jsonl': '',
      'qrels/test.tsv': 'query-id\tcorpus-id\tscore\n',
    });
    expect((await readBeir(odd)).corpus.get('d1')).toEqual({ id: 'd1', title: '', text: 'Lima.' });
  });

  it('reads TREC qrels too', async () => {
    const dir = await collection({ 'qrels/trec.txt': '1 0 d1 1\n1 0 d2 0\n2 0 d3 3\n' });
    const qrels = await readQrels(path.join(dir, 'qrels/trec.txt'));
    expect(qrels.get('2')?.get('d3')).toBe(3);
    await writeFile(path.join(dir, 'bad.txt'), '1 0 d1 x\n');
    await expect(readQrels(path.join(dir, 'bad.txt'))).rejects.toThrow(/bad\.txt:1: score: must be an integer/);
  });
});

describe('TREC run files', () => {
  it('writes ranks by score with trec_eval tie order, and reads them back', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'run-'));
    const file = path.join(dir, 'bm25.run');
    const run = new Map([
      [
        'q1',
        new Map([
          ['a', 1.5],
          ['c', 2],
          ['b', 1.5],
        ]),
      ],
    ]);
    await writeTrecRun(file, run, 'bm25');
    expect(await readFile(file, 'utf8')).toBe('q1 Q0 c 1 2 bm25\nq1 Q0 b 2 1.5 bm25\nq1 Q0 a 3 1.5 bm25\n');
    expect(await readTrecRun(file)).toEqual(run);
    await writeFile(file, 'q1 Q0 a 1\n');
    await expect(readTrecRun(file)).rejects.toThrow(/bm25\.run:1: \(row\): expected 6 fields/);
  });
});
