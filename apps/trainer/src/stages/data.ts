import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DataError,
  datasetStatistics,
  padExamples,
  explainLabels,
  mixSources,
  packExamples,
  prepareExamples,
  readDataset,
  TextTokenizer,
  saveTokenizer,
  trainByteLevelBpe,
  type ChatTemplate,
  type DatasetStatistics,
  type Example,
  type MixReport,
  type PackingReport,
  type PrepareReport,
  type ReadReport,
  type TokenizedExample,
} from '@tunekit/data';
import { buildDefaultCorpus, buildFactRetrieval, type DefaultCorpus } from '@tunekit/corpora';
import { DEFAULT_FORMAT } from '@tunekit/rerank';
import type { TrainerConfig } from '../config';
import { log, progress } from '../progress';
import { histogramSvg } from '../report/svg';

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
 * Builds the default corpora, trains (or takes) the tokenizer, and turns every dataset into masked
 * token sequences. `tokenizer` comes from `--from` when starting from an existing model.
 */
export async function runDataStage(
  config: TrainerConfig,
  runDir: string,
  from?: TextTokenizer,
): Promise<DataStageResult> {
  const dataDir = path.join(runDir, 'data');
  await mkdir(dataDir, { recursive: true });
  const { data, sequence } = config;
  for (const source of data.sources) {
    await access(source.path).catch(() => {
      throw new DataError(`${source.path}: file not found (from --data / data.sources)`);
    });
  }

  const corpus = buildDefaultCorpus({ seed: config.seed, heldOutFraction: data.heldOutFraction });
  log(
    `data: ${corpus.facts.length} countries from countries-list; ${corpus.trainEntities.length} train, ${corpus.heldOutEntities.length} held out; ${corpus.train.length} train / ${corpus.heldOut.length} held-out instructions`,
  );

  // Tokenizer: byte-level BPE over pre-training prose and instruction text (or the given model's). A resumed
  // run keeps the one it saved: its checkpoints' token ids mean that tokenizer's tokens, whatever the code now trains.
  const started = Date.now();
  const tokenizerDir = path.join(runDir, 'tokenizer');
  const hasSaved =
    Boolean(config.resume) &&
    !from &&
    (await access(path.join(tokenizerDir, 'tokenizer.json')).then(
      () => true,
      () => false,
    ));
  const saved = hasSaved ? await TextTokenizer.fromDirectory(tokenizerDir) : undefined;
  const given = from ?? saved;
  const tokenizerTexts = given
    ? []
    : [
        ...corpus.pretraining({
          exposures: config.tokenizer.trainExposures,
          seed: config.seed + 1,
          style: data.pretrainStyle,
        }),
        ...corpus.train.flatMap((c) => c.messages.map((m) => m.content)),
        ...(config.stages.includes('rerank') ? rerankTexts(config) : []),
      ];
  const tokenizer =
    given ??
    trainByteLevelBpe(tokenizerTexts, { vocabSize: config.tokenizer.vocabSize, modelMaxLength: sequence.maxLength });
  if (!saved) await saveTokenizer(tokenizer, tokenizerDir);
  const tokenizerSeconds = (Date.now() - started) / 1000;
  log(
    given
      ? `tokenizer: from ${saved ? `the run's tokenizer/ (resumed)` : config.from}, ${tokenizer.vocabSize} tokens`
      : `tokenizer: byte-level BPE, ${tokenizer.vocabSize} tokens, trained on ${tokenizerTexts.length} texts in ${tokenizerSeconds.toFixed(1)}s`,
  );
  const template = tokenizer.chatTemplate();

  const prepare = (name: string, examples: Example[], strategy = sequence.masking) => {
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

  const pretrainDocs: Example[] = [
    ...corpus.pretraining({ exposures: data.pretrainExposures, style: data.pretrainStyle }),
  ].map((text, i) => ({ kind: 'text', document: { text, source: `default:pretraining:${i}` } }));
  const pretraining = prepare('pre-training prose', pretrainDocs);
  const plainPretraining = config.pretrain.compareAugmentation
    ? prepare(
        'plain pre-training prose (ablation)',
        [...corpus.pretraining({ exposures: data.pretrainExposures, style: 'plain' })].map((text, i) => ({
          kind: 'text',
          document: { text, source: `default:plain:${i}` },
        })),
      ).examples
    : undefined;
  const perplexityDocs: Example[] = [
    ...corpus.pretraining({ exposures: config.eval.perplexityExposures, seed: config.seed + 7919, style: 'augmented' }),
  ].map((text, i) => ({ kind: 'text', document: { text, source: `default:perplexity:${i}` } }));
  const perplexity = prepare('held-out pre-training prose', perplexityDocs);

  // Instruction mixture: the default corpus, user files, and pre-training replay.
  const reads: ReadReport[] = [];
  const sources: { name: string; items: TokenizedExample[]; weight: number }[] = [];
  const sftPrepare: PrepareReport[] = [];
  if (data.defaultWeight > 0) {
    const out = prepare(
      'default instructions',
      corpus.train.map((conversation) => ({ kind: 'chat', conversation })),
    );
    sources.push({ name: 'default', items: out.examples, weight: data.defaultWeight });
    sftPrepare.push(out.report);
  }
  for (const source of data.sources) {
    const { examples, report } = await readDataset(source.path, { format: source.format, onError: data.onError });
    reads.push(report);
    log(
      `read ${source.path}: ${report.format}, ${report.kept}/${report.rows} rows kept, ${report.skipped.length} skipped`,
    );
    const out = prepare(path.basename(source.path), examples);
    sources.push({ name: source.path, items: out.examples, weight: source.weight });
    sftPrepare.push(out.report);
  }
  if (sources.length === 0)
    throw new DataError('no instruction data: data.defaultWeight is 0 and no --data files were given');
  const replay =
    data.replayWeight > 0 ? [{ name: 'replay', items: pretraining.examples, weight: data.replayWeight }] : [];
  const mixture = mixSources([...sources, ...replay], { seed: config.seed });
  log(
    `mixture: ${mixture.report.sources.map((s) => `${s.name} ${s.taken} (${(100 * s.share).toFixed(0)}%${s.epochs > 1.05 ? `, each row ×${s.epochs.toFixed(1)}` : ''})`).join(', ')}`,
  );
  for (const s of mixture.report.sources.slice(1)) {
    if (s.epochs > 10)
      log(
        `warning: ${s.name} has ${s.available} rows but weight ${s.weight} asks for ${s.taken}: each row repeats ~${Math.round(s.epochs)} times; lower its weight or add data`,
      );
  }

  // Ablations train on the same budget with one thing changed.
  const sftVariants: DataStageResult['sftVariants'] = {};
  const ablations = config.stages.includes('sft') ? config.sft.ablations : [];
  if (ablations.includes('no_replay') && replay.length)
    sftVariants.no_replay = mixSources(sources, { seed: config.seed }).items;
  if (ablations.includes('train_on_all') && sequence.masking !== 'all' && data.defaultWeight > 0) {
    const everything = prepare(
      'default instructions (train on all tokens)',
      corpus.train.map((conversation) => ({ kind: 'chat', conversation })),
      'all',
    );
    sftVariants.train_on_all = mixSources(
      [{ ...sources[0], items: everything.examples }, ...sources.slice(1), ...replay],
      { seed: config.seed },
    ).items;
  }

  const heldOut = prepare(
    'held-out instructions',
    corpus.heldOut.map((conversation) => ({ kind: 'chat', conversation })),
  );

  const pack = (examples: TokenizedExample[]) =>
    (sequence.packing ? packExamples : padExamples)(examples, { seqLength: sequence.maxLength, padId: tokenizer.padId })
      .report;
  const packing = { pretraining: pack(pretraining.examples), sft: pack(mixture.items) };
  for (const [name, r] of Object.entries(packing))
    log(
      `${sequence.packing ? 'packing' : 'padding'} ${name}: ${r.examples} examples → ${r.rows} rows of ${sequence.maxLength}, efficiency ${(100 * r.efficiency).toFixed(1)}%`,
    );

  const statistics = {
    pretraining: datasetStatistics('pretraining', pretraining.examples),
    sft: datasetStatistics('sft', mixture.items),
    heldOut: datasetStatistics('heldOut', heldOut.examples),
  };
  const samples = sampleByTask(
    new Map(corpus.train.map((c) => [c.source!, String(c.meta?.task)])),
    mixture.items,
    tokenizer,
  );
  const summary: DataSummary = {
    entities: {
      total: corpus.facts.length,
      train: corpus.trainEntities.length,
      heldOut: corpus.heldOutEntities.length,
    },
    reads,
    prepare: { pretraining: pretraining.report, sft: mergePrepare(sftPrepare), heldOut: heldOut.report },
    mixture: mixture.report,
    packing,
    statistics,
    tokenizer: { vocabSize: tokenizer.vocabSize, trainedOnDocuments: tokenizerTexts.length, seconds: tokenizerSeconds },
    samples,
  };
  await writeFile(path.join(dataDir, 'stats.json'), JSON.stringify(summary, null, 2) + '\n');
  for (const [name, s] of Object.entries(statistics)) {
    await writeFile(
      path.join(dataDir, `lengths-${name}.svg`),
      histogramSvg(`${name}: tokens per example`, s.lengthHistogram.edges, s.lengthHistogram.counts, 'tokens'),
    );
  }
  return {
    corpus,
    tokenizer,
    template,
    pretraining: pretraining.examples,
    plainPretraining,
    perplexity: perplexity.examples,
    sft: mixture.items,
    sftVariants,
    heldOut: heldOut.examples,
    summary,
  };
}

/**
 * What the reranker will read, for the tokenizer: its fixed wording (as often as a training run
 * repeats it, so it gets whole-word tokens) and the retrieval collection's passages and questions.
 */
function rerankTexts(config: TrainerConfig): string[] {
  const facts = buildFactRetrieval({ seed: config.seed, heldOutFraction: config.data.heldOutFraction });
  const frame = `${DEFAULT_FORMAT.system}\n<Instruct>: ${DEFAULT_FORMAT.defaultInstruction}\n<Query>: \n<Document>: `;
  return [
    ...Array.from({ length: 200 }, () => frame),
    ...[...facts.corpus.values()].map((d) => d.text),
    ...[...facts.train.queries.values()].map((q) => q.text),
    ...facts.train.pairs.flatMap((p) => [p.query, p.original.instruction, p.altered.instruction]),
  ];
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
