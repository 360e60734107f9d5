import { mkdir, open, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DataError,
  datasetStatistics,
  explainLabels,
  mixSources,
  prepareExamples,
  readDataset,
  TextTokenizer,
  type ChatTemplate,
  type Conversation,
  type DatasetStatistics,
  type Example,
  type MaskStrategy,
  type MixReport,
  type MixSource,
  type PackingReport,
  type PrepareReport,
  type ReadReport,
  type TokenizedExample,
} from '@tunekit/data';
import { buildDefaultCorpus, type DefaultCorpus } from '@tunekit/corpora';
import type { TrainerConfig } from '../config';
import { log, progress } from '../progress';
import { histogramSvg } from '../report/svg';
import type { RunContext } from '../run-context';
import { stageTokenizer } from './tokenizer';
import { pack } from './train-stage';

/** What the data stage hands to later stages, and what it reports. */
export interface DataStageResult {
  corpus: DefaultCorpus;
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  pretraining: TokenizedExample[];
  /** Held-out pre-training prose (fresh biographies under another seed), for perplexity. */
  perplexity: TokenizedExample[];
  /** The same facts in one fixed template (the augmentation ablation), when asked for. */
  plainPretraining?: TokenizedExample[];
  sft: (TokenizedExample & { mixSource: string })[];
  /** The instruction mixture for each ablation: same sources, other masking or no replay. */
  sftVariants: Partial<Record<'train_on_all' | 'no_replay', TokenizedExample[]>>;
  heldOut: TokenizedExample[];
  summary: DataSummary;
}

export interface DataSummary {
  entities: { total: number; train: number; heldOut: number };
  reads: ReadReport[];
  prepare: Record<'pretraining' | 'sft' | 'heldOut', PrepareReport>;
  mixture: MixReport;
  packing: Record<'pretraining' | 'sft', PackingReport>;
  statistics: Record<'pretraining' | 'sft' | 'heldOut', DatasetStatistics>;
  tokenizer: { vocabSize: number; trainedOnDocuments: number; seconds: number };
  samples: { task: string; labels: string }[];
}

/**
 * Builds the default corpora, trains (or takes) the tokenizer, and turns every dataset into masked token sequences.
 * `from` is the tokenizer of the model given with `--from`.
 */
export async function runDataStage(ctx: RunContext, from?: TextTokenizer): Promise<DataStageResult> {
  const { config } = ctx;
  await mkdir(ctx.path('data'), { recursive: true });
  await checkSources(config);
  const corpus = buildDefaultCorpus({ seed: config.seed, heldOutFraction: config.data.heldOutFraction });
  log(
    `data: ${corpus.facts.length} countries from countries-list; ${corpus.trainEntities.length} train, ` +
      `${corpus.heldOutEntities.length} held out; ${corpus.train.length} train / ${corpus.heldOut.length} ` +
      'held-out instructions',
  );
  const tokenizer = await stageTokenizer(ctx, corpus, from);
  const prepare = preparer(config, tokenizer.tokenizer);
  const prose = pretrainingProse(config, corpus, prepare);
  const instructions = await instructionMixture(config, corpus, prepare, prose.pretraining.examples);
  const sftVariants = ablationMixtures(config, corpus, prepare, instructions);
  const heldOut = prepare('held-out instructions', chats(corpus.heldOut));
  const packing = packingReports(ctx, tokenizer.tokenizer, {
    pretraining: prose.pretraining.examples,
    sft: instructions.mixture.items,
  });
  const statistics = {
    pretraining: datasetStatistics('pretraining', prose.pretraining.examples),
    sft: datasetStatistics('sft', instructions.mixture.items),
    heldOut: datasetStatistics('heldOut', heldOut.examples),
  };
  const summary: DataSummary = {
    entities: {
      total: corpus.facts.length,
      train: corpus.trainEntities.length,
      heldOut: corpus.heldOutEntities.length,
    },
    reads: instructions.reads,
    prepare: {
      pretraining: prose.pretraining.report,
      sft: mergePrepare(instructions.prepared),
      heldOut: heldOut.report,
    },
    mixture: instructions.mixture.report,
    packing,
    statistics,
    tokenizer: tokenizer.summary,
    samples: sampleByTask(
      new Map(corpus.train.map((c) => [c.source!, String(c.meta?.task)])),
      instructions.mixture.items,
      tokenizer.tokenizer,
    ),
  };
  await writeDataReport(ctx, summary);
  return {
    corpus,
    tokenizer: tokenizer.tokenizer,
    template: tokenizer.tokenizer.chatTemplate(),
    pretraining: prose.pretraining.examples,
    plainPretraining: prose.plain?.examples,
    perplexity: prose.perplexity.examples,
    sft: instructions.mixture.items,
    sftVariants,
    heldOut: heldOut.examples,
    summary,
  };
}

/** Every `--data` file must be a readable file before anything is built (or a run directory is made). */
export async function checkSources(config: TrainerConfig): Promise<void> {
  for (const source of config.data.sources) {
    const what = await stat(source.path).catch(() => undefined);
    if (!what) throw new DataError(`${source.path}: file not found (from --data / data.sources)`);
    if (what.isDirectory())
      throw new DataError(`${source.path}: is a directory; pass a JSON or JSONL file (from --data / data.sources)`);
    await open(source.path, 'r')
      .then((file) => file.close())
      .catch((err: NodeJS.ErrnoException) => {
        throw new DataError(`${source.path}: cannot be read (${err.code}); check that you may read it`);
      });
  }
}

type Prepare = (name: string, examples: Example[], strategy?: MaskStrategy) => ReturnType<typeof prepareExamples>;

/** Tokenizes and masks a dataset with progress, listing the first skipped rows. */
function preparer(config: TrainerConfig, tokenizer: TextTokenizer): Prepare {
  const template = tokenizer.chatTemplate();
  const { sequence, data } = config;
  return (name, examples, strategy = sequence.masking) => {
    const bar = progress(`tokenize ${name}`, examples.length);
    const out = prepareExamples(examples, tokenizer, template, {
      strategy,
      maxLength: sequence.maxLength,
      truncation: sequence.truncation,
      onError: data.onError,
      onProgress: (done, tokens) => bar.update(done, { tokens }),
    });
    const r = out.report;
    bar.finish(`${r.kept}/${r.input} kept, ${r.truncated} truncated, ${r.skipped.length} skipped`);
    for (const s of r.skipped.slice(0, 5)) log(`  skipped ${s.source}: ${s.message}`);
    if (r.skipped.length > 5) log(`  … ${r.skipped.length - 5} more skipped, all listed in data/stats.json`);
    return out;
  };
}

const chats = (conversations: Conversation[]): Example[] =>
  conversations.map((conversation) => ({ kind: 'chat', conversation }));

const texts = (documents: Iterable<string>, source: string): Example[] =>
  [...documents].map((text, i) => ({ kind: 'text', document: { text, source: `default:${source}:${i}` } }));

/**
 * Pre-training prose, the plain prose of the augmentation ablation when asked for, and held-out prose (fresh
 * biographies under another seed) for perplexity.
 */
function pretrainingProse(config: TrainerConfig, corpus: DefaultCorpus, prepare: Prepare) {
  const { data } = config;
  const pretraining = prepare(
    'pre-training prose',
    texts(corpus.pretraining({ exposures: data.pretrainExposures, style: data.pretrainStyle }), 'pretraining'),
  );
  const plain = config.pretrain.compareAugmentation
    ? prepare(
        'plain pre-training prose (ablation)',
        texts(corpus.pretraining({ exposures: data.pretrainExposures, style: 'plain' }), 'plain'),
      )
    : undefined;
  const perplexity = prepare(
    'held-out pre-training prose',
    texts(
      corpus.pretraining({ exposures: config.eval.perplexityExposures, seed: config.seed + 7919, style: 'augmented' }),
      'perplexity',
    ),
  );
  return { pretraining, plain, perplexity };
}

interface Mixture {
  /** The instruction sources (the default corpus and user files), without replay. */
  sources: MixSource<TokenizedExample>[];
  replay: MixSource<TokenizedExample>[];
  mixture: ReturnType<typeof mixSources<TokenizedExample>>;
  reads: ReadReport[];
  prepared: PrepareReport[];
}

/** The instruction mixture: the default corpus, user files, and pre-training replay. */
async function instructionMixture(
  config: TrainerConfig,
  corpus: DefaultCorpus,
  prepare: Prepare,
  pretraining: TokenizedExample[],
): Promise<Mixture> {
  const { data } = config;
  const reads: ReadReport[] = [];
  const sources: MixSource<TokenizedExample>[] = [];
  const prepared: PrepareReport[] = [];
  if (data.defaultWeight > 0) {
    const out = prepare('default instructions', chats(corpus.train));
    sources.push({ name: 'default', items: out.examples, weight: data.defaultWeight });
    prepared.push(out.report);
  }
  for (const source of data.sources) {
    const { examples, report } = await readDataset(source.path, { format: source.format, onError: data.onError });
    reads.push(report);
    log(
      `read ${source.path}: ${report.format}, ${report.kept}/${report.rows} rows kept, ` +
        `${report.skipped.length} skipped`,
    );
    const out = prepare(path.basename(source.path), examples);
    sources.push({ name: source.path, items: out.examples, weight: source.weight });
    prepared.push(out.report);
  }
  if (sources.length === 0)
    throw new DataError('no instruction data: data.defaultWeight is 0 and no --data files were given');
  const replay = data.replayWeight > 0 ? [{ name: 'replay', items: pretraining, weight: data.replayWeight }] : [];
  const mixture = mixSources([...sources, ...replay], { seed: config.seed });
  logMixture(mixture.report);
  return { sources, replay, mixture, reads, prepared };
}

function logMixture(report: MixReport): void {
  const share = (s: MixReport['sources'][number]) => {
    const repeats = s.epochs > 1.05 ? `, each row ×${s.epochs.toFixed(1)}` : '';
    return `${s.name} ${s.taken} (${(100 * s.share).toFixed(0)}%${repeats})`;
  };
  log(`mixture: ${report.sources.map(share).join(', ')}`);
  for (const s of report.sources.slice(1)) {
    if (s.epochs > 10)
      log(
        `warning: ${s.name} has ${s.available} rows but weight ${s.weight} asks for ${s.taken}: each row repeats ` +
          `~${Math.round(s.epochs)} times; lower its weight or add data`,
      );
  }
}

/** The instruction mixture of each ablation, on the same budget with one thing changed. */
function ablationMixtures(
  config: TrainerConfig,
  corpus: DefaultCorpus,
  prepare: Prepare,
  { sources, replay }: Mixture,
): DataStageResult['sftVariants'] {
  const variants: DataStageResult['sftVariants'] = {};
  const ablations = config.stages.includes('sft') ? config.sft.ablations : [];
  if (ablations.includes('no_replay') && replay.length)
    variants.no_replay = mixSources(sources, { seed: config.seed }).items;
  if (ablations.includes('train_on_all') && config.sequence.masking !== 'all' && config.data.defaultWeight > 0) {
    const everything = prepare('default instructions (train on all tokens)', chats(corpus.train), 'all');
    variants.train_on_all = mixSources(
      [{ ...sources[0], items: everything.examples }, ...sources.slice(1), ...replay],
      { seed: config.seed },
    ).items;
  }
  return variants;
}

function packingReports(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  sets: Record<'pretraining' | 'sft', TokenizedExample[]>,
): Record<'pretraining' | 'sft', PackingReport> {
  const { sequence } = ctx.config;
  const reports = {
    pretraining: pack(ctx, sets.pretraining, tokenizer.padId).report,
    sft: pack(ctx, sets.sft, tokenizer.padId).report,
  };
  for (const [name, r] of Object.entries(reports))
    log(
      `${sequence.packing ? 'packing' : 'padding'} ${name}: ${r.examples} examples → ${r.rows} rows of ` +
        `${sequence.maxLength}, efficiency ${(100 * r.efficiency).toFixed(1)}%`,
    );
  return reports;
}

/** data/stats.json and a token-length histogram per dataset. */
async function writeDataReport(ctx: RunContext, summary: DataSummary): Promise<void> {
  await writeFile(ctx.path('data', 'stats.json'), JSON.stringify(summary, null, 2) + '\n');
  for (const [name, s] of Object.entries(summary.statistics)) {
    await writeFile(
      ctx.path('data', `lengths-${name}.svg`),
      histogramSvg(`${name}: tokens per example`, s.lengthHistogram.edges, s.lengthHistogram.counts, 'tokens'),
    );
  }
}

/** One example per task type, with its labels drawn, for the report. */
function sampleByTask(
  taskOf: Map<string, string>,
  mixed: (TokenizedExample & { mixSource: string })[],
  tokenizer: TextTokenizer,
): DataSummary['samples'] {
  const seen = new Set<string>();
  const samples: DataSummary['samples'] = [];
  for (const e of mixed) {
    const task = (e.source && taskOf.get(e.source)) || e.mixSource;
    if (seen.has(task)) continue;
    seen.add(task);
    samples.push({ task, labels: explainLabels(tokenizer, e) });
  }
  return samples;
}

function mergePrepare(reports: PrepareReport[]): PrepareReport {
  return reports.reduce((a, r) => ({
    ...a,
    input: a.input + r.input,
    kept: a.kept + r.kept,
    truncated: a.truncated + r.truncated,
    truncatedTokens: a.truncatedTokens + r.truncatedTokens,
    skipped: [...a.skipped, ...r.skipped],
    skippedByReason: {
      invalid: a.skippedByReason.invalid + r.skippedByReason.invalid,
      too_long: a.skippedByReason.too_long + r.skippedByReason.too_long,
      untrainable: a.skippedByReason.untrainable + r.skippedByReason.untrainable,
    },
  }));
}
