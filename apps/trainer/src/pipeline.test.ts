import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { writeBeir, type BeirDocument } from '@tunekit/data';
import { ensureEmbeddedPostgres, openDatabase, schema, stopEmbeddedPostgres } from '@tunekit/db';
import { runTrainer, startTrainer, until, type Finished } from '@tunekit/db/testing';
import { beforeAll, describe, expect, it } from 'vitest';

interface Point {
  stage: string;
  step: number;
  name: string;
}
const readPoints = async (runDir: string) =>
  (await readFile(path.join(runDir, 'metrics.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Point);

/** Each stage's loss has exactly one point per step, 1‥N. */
function expectContiguous(points: Point[]) {
  const stages = [...new Set(points.map((p) => p.stage))];
  for (const stage of stages) {
    const steps = points
      .filter((p) => p.stage === stage && p.name === 'loss')
      .map((p) => p.step)
      .sort((a, b) => a - b);
    expect(steps, stage).toEqual(Array.from({ length: steps.length }, (_, i) => i + 1));
  }
}

async function privateServer() {
  const parent = await mkdtemp(path.join(tmpdir(), 'pg-trainer-'));
  await chmod(parent, 0o755);
  return ensureEmbeddedPostgres({ dataDir: path.join(parent, 'data'), port: 55000 + Math.floor(Math.random() * 900) });
}

/** A finite number in [min, max] (NaN, ±Infinity, strings and missing values fail). */
function expectFiniteIn(value: unknown, min: number, max: number, what: string) {
  expect(typeof value, what).toBe('number');
  expect(Number.isFinite(value), `${what} = ${value}`).toBe(true);
  expect(value as number, what).toBeGreaterThanOrEqual(min);
  expect(value as number, what).toBeLessThanOrEqual(max);
}

describe('trainer pipeline (smoke preset) with the runs registry', () => {
  /** The full smoke run the first three tests start from; made here so that none depends on another having run. */
  let smoke: Finished;
  let smokeRunDir = '';

  beforeAll(async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'runs-'));
    smoke = await runTrainer(['--preset', 'smoke', '--output-dir', out]);
    expect(smoke.code, smoke.stderr).toBe(0);
    smokeRunDir = path.dirname(/report: (.*)/.exec(smoke.stdout)![1]);
  }, 300_000);

  it('runs data → pretrain → sft → rerank → evaluations end to end, into the embedded PostgreSQL', async () => {
    const result = smoke;
    const backend = /backend: (tensorflow-gpu|tensorflow|wasm|cpu)[ ,]/.exec(result.stderr);
    expect(backend, result.stderr).not.toBeNull();
    expect(result.code, result.stderr).toBe(0);
    const reportPath = /report: (.*)/.exec(result.stdout)![1];
    const runDir = path.dirname(reportPath);
    expect(runDir).toBe(smokeRunDir);
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    const value = (key: string): unknown => key.split('.').reduce((o, k) => o?.[k], report);
    expect(value('backend.name')).toBe(backend![1]);
    for (const key of [
      'sft.eval.heldout.base.accuracy',
      'sft.eval.heldout.tuned.accuracy',
      'sft.eval.ablation.train_on_all.accuracy',
    ])
      expectFiniteIn(value(key), 0, 1, key);
    // a perplexity is at least 1
    for (const key of ['sft.eval.forgetting.ppl_before', 'sft.eval.forgetting.ppl_after'])
      expectFiniteIn(value(key), 1, Infinity, key);
    // FollowIR's p-MRR, in percent
    expectFiniteIn(value('rerank.eval.default.pmrr'), -100, 100, 'rerank.eval.default.pmrr');
    for (const system of ['bm25', 'reranked'])
      for (const m of ['ndcg@10', 'mrr@10', 'map', 'recall@100']) {
        const key = `rerank.eval.default.${system}.${m}`;
        expectFiniteIn(value(key), 0, 1, key);
      }
    expect(await readdir(runDir)).toEqual(
      expect.arrayContaining([
        'base',
        'tuned',
        'reranker',
        'ablations',
        'loss-pretrain.svg',
        'loss-sft.svg',
        'loss-rerank_default.svg',
        'metrics.jsonl',
        'evals',
      ]),
    );
    expect(await readdir(path.join(runDir, 'rerank/default'))).toEqual(
      expect.arrayContaining([
        'bm25.trec',
        'reranked.trec',
        'fused.trec',
        'corpus.jsonl',
        'queries.jsonl',
        'instruction-pairs.jsonl',
      ]),
    );
    expect((await readFile(path.join(runDir, 'rerank/default/reranked.trec'), 'utf8')).split('\n')[0]).toMatch(
      /^test-\d+ Q0 \S+ 1 -?[\d.e-]+ tunekit-reranked$/,
    );
    expect(await readFile(reportPath, 'utf8')).toContain('p-MRR');
    // the default collection's questions by kind (fact, value, bridge; this preset's 12 are all fact questions),
    // each with every system's metrics
    const byKind = report.rerank.eval.default.by_kind as Record<
      string,
      { queries: number; bm25: Record<string, number>; reranked: Record<string, number> }
    >;
    expect(Object.keys(byKind)).toContain('fact');
    expect(Object.values(byKind).reduce((n, k) => n + k.queries, 0)).toBe(report.rerank.eval.default.queries);
    // each kind's metrics are means over its queries, so weighted by the queries they are the overall means
    for (const system of ['bm25', 'reranked'] as const) {
      for (const [kind, k] of Object.entries(byKind)) expectFiniteIn(k[system]['ndcg@10'], 0, 1, `${kind} ${system}`);
      const weighted = Object.values(byKind).reduce((sum, k) => sum + k.queries * k[system]['ndcg@10'], 0);
      expect(weighted / report.rerank.eval.default.queries, system).toBeCloseTo(
        report.rerank.eval.default[system]['ndcg@10'],
        9,
      );
    }
    expect(await readFile(reportPath, 'utf8')).toContain('nDCG@10 by kind of query');
    expectContiguous(await readPoints(runDir));

    const conn = await openDatabase();
    try {
      const id = path.basename(runDir);
      const [run] = await conn.db.select().from(schema.runs).where(eq(schema.runs.id, id));
      expect(run).toMatchObject({ status: 'completed', preset: 'smoke', backend: report.backend.name });
      const stored = await conn.db.select().from(schema.metrics).where(eq(schema.metrics.runId, id));
      expect(stored.length).toBe((await readPoints(runDir)).length);
      const evaluations = await conn.db.select().from(schema.evaluations).where(eq(schema.evaluations.runId, id));
      expect(
        evaluations
          .filter((e) => e.kind === 'instructions')
          .map((e) => e.model)
          .sort(),
      ).toEqual(['base', 'no_replay', 'train_on_all', 'tuned']);
      expect(
        evaluations
          .filter((e) => e.kind !== 'instructions')
          .map((e) => `${e.kind}:${e.model}`)
          .sort(),
      ).toEqual([
        'pmrr:default/reranked',
        'retrieval:default/bm25',
        'retrieval:default/fused',
        'retrieval:default/reranked',
      ]);
      const reranked = evaluations.find((e) => e.model === 'default/reranked' && e.kind === 'retrieval')!;
      const perQuery = await conn.db
        .select()
        .from(schema.evaluationExamples)
        .where(eq(schema.evaluationExamples.evaluationId, reranked.id));
      expect(perQuery.length).toBe(report.rerank.eval.default.queries);
      // the stored per-query metrics are the ones the report's means are taken over
      for (const m of ['ndcg@10', 'mrr@10', 'map']) {
        const values = perQuery.map((q) => (q.metrics as Record<string, unknown>)[m]);
        values.forEach((v, i) => expectFiniteIn(v, 0, 1, `query ${i} ${m}`));
        const mean = (values as number[]).reduce((a, b) => a + b, 0) / values.length;
        expect(mean, m).toBeCloseTo(report.rerank.eval.default.reranked[m], 9);
      }
    } finally {
      await conn.close();
    }
  }, 300_000);

  it('starts from an existing Hugging Face model directory, with LoRA and without packing', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'runs-'));
    const result = await runTrainer([
      '--preset',
      'smoke',
      '--output-dir',
      out,
      '--stages',
      'data,sft',
      '--from',
      path.join(smokeRunDir, 'base'),
      '--no-packing',
      '--set',
      'sft.lora.enabled=true',
      '--set',
      'sft.lora.r=4',
      '--set',
      'sft.ablations=[]',
      '--set',
      'sft.epochs=0.02',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/tokenizer: from .*base/);
    expect(result.stderr).toMatch(/padding sft: \d+ examples → \d+ rows/);
    const runDir = path.dirname(/report: (.*)/.exec(result.stdout)![1]);
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    expect(report.sft.eval.forgetting.lora).toBe(true);
    expect(report.sft.runs.sft.lora).toBe(true);
    expect(JSON.parse(await readFile(path.join(runDir, 'tuned/adapter/adapter_config.json'), 'utf8'))).toMatchObject({
      peft_type: 'LORA',
      r: 4,
    });
    expect(await readdir(path.join(runDir, 'tuned'))).toEqual(
      expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']),
    );
  }, 300_000);

  it('adapts the reranker to a BEIR collection from its documents alone, and evaluates a saved reranker', async () => {
    const collection = await mkdtemp(path.join(tmpdir(), 'beir-'));
    const topics = [
      'library catalogues',
      'citation indexes',
      'subject headings',
      'document retrieval',
      'information needs',
      'abstracting services',
    ];
    const corpus = new Map<string, BeirDocument>(
      topics.flatMap((t, i) =>
        [0, 1].map((k) => {
          const id = `d${i}-${k}`;
          return [
            id,
            {
              id,
              title: `A study of ${t} in research libraries`,
              text:
                `This paper reviews ${t}. It compares ${t} across ${k + 2} institutions. ` +
                `The results show how ${t} help readers find material.`,
            },
          ] as const;
        }),
      ),
    );
    // one sentence too long for the model's context as a query: that synthetic query is left out, named
    const long = Array.from({ length: 36 }, (_, i) => `Zygomorphic${'qxv'.repeat(1 + (i % 4))}ic`).join(' ');
    corpus.set('dlong', {
      id: 'dlong',
      title: '',
      text: `Glossary of terms used in this survey of libraries. ${long}.`,
    });
    const queries = new Map(topics.map((t, i) => [`q${i}`, { id: `q${i}`, text: `How do ${t} help readers?` }]));
    const qrels = new Map(
      topics.map((_, i) => [
        `q${i}`,
        new Map([
          [`d${i}-0`, 1],
          [`d${i}-1`, 1],
        ]),
      ]),
    );
    await writeBeir(collection, { corpus, queries, qrels });
    const out = await mkdtemp(path.join(tmpdir(), 'runs-'));
    const result = await runTrainer(
      rerankStageArgs(out, smokeRunDir, collection, '--set', 'rerank.defaultCollection=false'),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/synthetic training queries \(template\)/);
    expect(result.stderr).toMatch(
      /rerank_beir-\w+: 1 of \d+ training queries leave under \d+ tokens for the document .*; left out: dlong:ict1/,
    );
    const runDir = path.dirname(/report: (.*)/.exec(result.stdout)![1]);
    const name = path.basename(collection);
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    expect(report.rerank.eval[name].queries).toBe(6);
    expect(report.rerank.eval[name].bm25['ndcg@10']).toBeGreaterThan(0);
    expect(report.rerank.training[name].steps).toBe(3);
    expect(await readdir(path.join(runDir, `reranker-${name}`))).toEqual(
      expect.arrayContaining(['reranker.json', 'model.safetensors', 'tokenizer.json']),
    );
    // the saved reranker evaluates the same collection again, without training, to the same numbers
    const again = await runTrainer([
      '--preset',
      'smoke',
      '--output-dir',
      out,
      '--stages',
      'rerank',
      '--from',
      path.join(runDir, `reranker-${name}`),
      '--collection',
      collection,
      '--set',
      'rerank.defaultCollection=false',
      '--set',
      'rerank.train=false',
    ]);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(
      await readFile(path.join(path.dirname(/report: (.*)/.exec(again.stdout)![1]), 'report.json'), 'utf8'),
    );
    expect(second.rerank.eval[name].reranked['ndcg@10']).toBeCloseTo(report.rerank.eval[name].reranked['ndcg@10'], 6);
    const missing = await runTrainer(rerankStageArgs(out, smokeRunDir, path.join(collection, 'nope')));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: .*nope\/corpus\.jsonl: not found/m);
    await writeFile(path.join(collection, 'queries.jsonl'), '{"_id": "q0"}\n');
    const bad = await runTrainer(rerankStageArgs(out, smokeRunDir, collection));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/queries\.jsonl:1: text: /);
  }, 300_000);
  it('survives the database going away mid-run and back-fills every metric once', async () => {
    const server = await privateServer();
    const out = await mkdtemp(path.join(tmpdir(), 'runs-'));
    const run = startTrainer(['--preset', 'smoke', '--output-dir', out], { DATABASE_URL: server.url });
    const runDir = async () => (await readdir(out).catch(() => [] as string[])).map((d) => path.join(out, d))[0];
    await until(
      async () =>
        (await readdir(path.join((await runDir()) ?? out, 'stages')).catch(() => [] as string[])).includes(
          'pretrain.json',
        ),
      180_000,
      'pre-training to finish',
    );
    await stopEmbeddedPostgres(server.dataDir);
    // down for the whole main fine-tune: its metrics flush at every checkpoint and find no database
    await until(
      async () =>
        (await readdir(path.join((await runDir())!, 'stages')).catch(() => [] as string[])).includes('sft.json'),
      180_000,
      'the main SFT run to finish',
    );
    await ensureEmbeddedPostgres({ dataDir: server.dataDir, port: server.port });
    const finished = await run.done;
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.stderr).toMatch(/registry: database unavailable/);
    expect(finished.stderr).toMatch(/registry: database back; back-filled \d+ metric points/);
    const dir = (await runDir())!;
    await expectRegistered(server, dir, (await readPoints(dir)).length);
  }, 300_000);

  it('resumes a run killed with SIGKILL from its last checkpoint, without gaps or duplicates', async () => {
    const server = await privateServer();
    const out = await mkdtemp(path.join(tmpdir(), 'runs-'));
    const run = startTrainer(['--preset', 'smoke', '--output-dir', out, '--set', 'sft.checkpointEvery=3'], {
      DATABASE_URL: server.url,
    });
    const runDir = async () => (await readdir(out).catch(() => [] as string[])).map((d) => path.join(out, d))[0];
    await until(
      async () =>
        (await readdir(path.join((await runDir()) ?? out, 'checkpoints', 'sft')).catch(() => [] as string[])).some(
          (d) => /^checkpoint-\d+$/.test(d),
        ),
      180_000,
      'an SFT checkpoint',
    );
    process.kill(-run.child.pid!, 'SIGKILL');
    expect((await run.done).code).toBe(137);
    const dir = (await runDir())!;
    const resumed = await runTrainer(['--resume', dir], { DATABASE_URL: server.url });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/tokenizer: from the run's tokenizer\/ \(resumed\)/);
    expect(resumed.stderr).toMatch(/pretrain: finished earlier/);
    expect(resumed.stderr).toMatch(/sft: resuming from .*checkpoint-\d+/);
    const file = await readPoints(dir);
    expectContiguous(file);
    await expectRegistered(server, dir, file.length);
  }, 300_000);
});

/** The registry holds the run as completed, with as many metric rows as its metrics.jsonl; stops the server. */
async function expectRegistered(server: { url: string; dataDir: string }, dir: string, points: number): Promise<void> {
  const conn = await openDatabase({ url: server.url });
  try {
    const stored = await conn.db
      .select()
      .from(schema.metrics)
      .where(eq(schema.metrics.runId, path.basename(dir)));
    expect(stored.length).toBe(points);
    const [row] = await conn.db
      .select()
      .from(schema.runs)
      .where(eq(schema.runs.id, path.basename(dir)));
    expect(row.status).toBe('completed');
  } finally {
    await conn.close();
    await stopEmbeddedPostgres(server.dataDir);
  }
}

/** The rerank stage alone, from a run, on one `--collection`, into `out`. */
function rerankStageArgs(out: string, run: string, collection: string, ...extra: string[]): string[] {
  const from = ['--stages', 'rerank', '--from', run, '--collection', collection];
  return ['--preset', 'smoke', '--output-dir', out, ...from, ...extra];
}
