import {
  bigint,
  bigserial,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

// Columns most tables share: each call makes a new column (drizzle's builders are not reusable).
const serialId = () => bigserial('id', { mode: 'number' }).primaryKey();
/** The run a row belongs to; deleting the run deletes its rows. */
const runOf = () =>
  text('run_id')
    .notNull()
    .references(() => runs.id, { onDelete: 'cascade' });
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/** Datasets a run read or built: where from, in what format, how many rows, and their statistics. */
export const datasets = pgTable(
  'datasets',
  {
    id: serialId(),
    runId: runOf(),
    name: text('name').notNull(),
    source: text('source').notNull(),
    format: text('format'),
    rows: integer('rows').notNull(),
    kept: integer('kept').notNull(),
    skipped: integer('skipped').notNull().default(0),
    statistics: jsonb('statistics'),
  },
  (t) => [uniqueIndex('datasets_run_name').on(t.runId, t.name)],
);

/** One training run: its resolved config, where it ran and how it ended. */
export const runs = pgTable('runs', {
  id: text('id').primaryKey(),
  preset: text('preset').notNull(),
  stages: jsonb('stages').$type<string[]>().notNull(),
  config: jsonb('config').notNull(),
  status: text('status', { enum: ['running', 'completed', 'failed'] }).notNull(),
  directory: text('directory').notNull(),
  backend: text('backend'),
  host: text('host'),
  error: text('error'),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
  report: jsonb('report'),
});

/** Time series: one value of one metric at one step of one stage. Unique, so back-filling never duplicates. */
export const metrics = pgTable(
  'metrics',
  {
    id: serialId(),
    runId: runOf(),
    stage: text('stage').notNull(),
    step: integer('step').notNull(),
    name: text('name').notNull(),
    value: doublePrecision('value').notNull(),
    time: timestamp('time', { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex('metrics_point').on(t.runId, t.stage, t.step, t.name),
    index('metrics_run_name').on(t.runId, t.name),
  ],
);

export const checkpoints = pgTable(
  'checkpoints',
  {
    id: serialId(),
    runId: runOf(),
    stage: text('stage').notNull(),
    step: integer('step').notNull(),
    path: text('path').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('checkpoints_run_stage_step').on(t.runId, t.stage, t.step)],
);

/** An evaluation of one model of a run (held-out questions, format, refusals, perplexity, retrieval…). */
export const evaluations = pgTable(
  'evaluations',
  {
    id: serialId(),
    runId: runOf(),
    kind: text('kind').notNull(),
    model: text('model').notNull(),
    metrics: jsonb('metrics').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('evaluations_run_kind_model').on(t.runId, t.kind, t.model)],
);

/** The per-example rows behind an evaluation. */
export const evaluationExamples = pgTable(
  'evaluation_examples',
  {
    id: serialId(),
    evaluationId: bigint('evaluation_id', { mode: 'number' })
      .notNull()
      .references(() => evaluations.id, { onDelete: 'cascade' }),
    exampleId: text('example_id').notNull(),
    task: text('task'),
    prompt: text('prompt'),
    output: text('output'),
    expected: text('expected'),
    correct: integer('correct'),
    score: doublePrecision('score'),
    /** Every metric of this example (a retrieval query's nDCG@10, MRR@10, MAP, …). */
    metrics: jsonb('metrics'),
  },
  (t) => [uniqueIndex('evaluation_examples_eval_example').on(t.evaluationId, t.exampleId)],
);

/** Files a run produced: model directories, reports, charts. */
export const artifacts = pgTable(
  'artifacts',
  {
    id: serialId(),
    runId: runOf(),
    kind: text('kind').notNull(),
    path: text('path').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('artifacts_run_path').on(t.runId, t.path)],
);
