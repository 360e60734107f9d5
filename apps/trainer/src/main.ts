import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { DataError, TextTokenizer } from '@tunekit/data';
import type { RunRegistry } from '@tunekit/db';
import { NonFiniteError, describeBackend, loadModel, selectBackend, type Llama } from '@tunekit/model';
import { InputError, Reranker } from '@tunekit/rerank';
import { parseFlags, USAGE } from './cli';
import { ConfigError, resolveConfig, type TrainerConfig } from './config';
import { log } from './progress';
import { buildReport, reportMarkdown, writeCharts, type RunReport } from './report/run-report';
import { attachRegistry, recordData, recordEvaluations, recordRetrieval } from './registry-sink';
import { RunContext } from './run-context';
import { checkSources, runDataStage, type DataStageResult } from './stages/data';
import { runPretrain, type PretrainResult } from './stages/pretrain';
import { runRerank, type RerankResult } from './stages/rerank';
import { runSft, type SftResult } from './stages/sft';

async function main(argv: string[]): Promise<void> {
  const { flags, configFile, help } = parseFlags(argv);
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const ctx = await openRun(await resolveConfig(flags, configFile));
  const { config } = ctx;
  log(`run ${ctx.dir} (preset ${config.preset}, stages ${config.stages.join(', ')}, host ${hostname()})`);
  const choice = await selectBackend(config.backend === 'auto' ? undefined : config.backend);
  log(describeBackend(choice));
  ctx.backend = choice.name;

  const registry = await attachRegistry(ctx);
  const started = Date.now();
  try {
    const results = await runStages(ctx, registry);
    const counts = await registry.counts().catch(() => undefined);
    const report = buildReport(ctx, {
      seconds: (Date.now() - started) / 1000,
      backend: { name: choice.name, reason: choice.reason, skipped: choice.skipped },
      data: results.data?.summary,
      pretrain: results.pretrain?.summary,
      pretrainPlain: results.pretrainPlain?.summary,
      sft: results.sft,
      rerank: results.rerank,
      registry: { run: registry.runId, available: registry.available, ...counts },
    });
    await writeReport(ctx, registry, report, results.rerank);
    registry.finishRun('completed', { report });
    await registry.close();
    process.stdout.write(`report: ${ctx.path('report.md')}\n`);
  } catch (err) {
    await ctx.flush().catch(() => undefined);
    registry.finishRun('failed', { error: (err as Error).message });
    await registry.close();
    throw err;
  }
}

/** A new run directory with its resolved config.json, or a resumed run's directory with its original config. */
async function openRun(config: TrainerConfig): Promise<RunContext> {
  if (config.resume) {
    const runDir = path.resolve(config.resume);
    const text = await readFile(path.join(runDir, 'config.json'), 'utf8').catch(() => {
      throw new ConfigError(`--resume ${config.resume}: no config.json there; pass a run directory`);
    });
    let saved: TrainerConfig;
    try {
      saved = JSON.parse(text) as TrainerConfig;
    } catch (err) {
      throw new ConfigError(`--resume ${config.resume}: config.json is not JSON (${(err as Error).message})`);
    }
    validateStages(saved);
    return new RunContext({ ...saved, resume: runDir }, runDir);
  }
  validateStages(config);
  await checkSources(config);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  const runDir = path.resolve(config.outputDir, `${stamp}-${config.preset}`);
  await mkdir(runDir, { recursive: true });
  await writeFile(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  return new RunContext(config, runDir);
}

interface StageResults {
  data?: DataStageResult;
  pretrain?: PretrainResult;
  pretrainPlain?: PretrainResult;
  sft?: SftResult;
  rerank?: RerankResult;
}

/** The configured stages in order, each handed what the earlier ones made; results go to the registry. */
async function runStages(ctx: RunContext, registry: RunRegistry): Promise<StageResults> {
  const { config } = ctx;
  const results: StageResults = {};
  const from = config.from ? await loadFrom(config.from, config.stages) : undefined;
  const needsData = config.stages.some((stage) => stage === 'data' || stage === 'pretrain' || stage === 'sft');
  if (needsData) {
    results.data = await runDataStage(ctx, from?.tokenizer);
    recordData(registry, results.data.summary);
  }
  let base: Llama | undefined = from?.model;
  if (config.stages.includes('pretrain')) {
    results.pretrain = await runPretrain(ctx, results.data!);
    base = results.pretrain.model;
    registry.recordArtifact('model', ctx.path('base'));
    if (config.pretrain.compareAugmentation) results.pretrainPlain = await runPretrain(ctx, results.data!, 'plain');
  }
  if (config.stages.includes('sft')) {
    results.sft = await runSft(ctx, results.data!, base!, results.pretrainPlain?.model);
    recordEvaluations(registry, results.sft);
    for (const r of Object.values(results.sft.runs)) registry.recordArtifact('model', ctx.path(r.dir));
  }
  if (config.stages.includes('rerank')) {
    const tuned = results.sft ? await loadModel(ctx.path('tuned')) : from?.model;
    const tokenizer = results.data?.tokenizer ?? from!.tokenizer;
    results.rerank = await runRerank(ctx, { model: tuned, tokenizer, reranker: from?.reranker });
    recordRetrieval(registry, results.rerank);
    for (const t of Object.values(results.rerank.training)) registry.recordArtifact('model', ctx.path(t.dir));
  }
  return results;
}

/** report.json, report.md and the loss charts, each also recorded as an artifact. */
async function writeReport(
  ctx: RunContext,
  registry: RunRegistry,
  report: RunReport,
  rerank: RerankResult | undefined,
): Promise<void> {
  const charts = await writeCharts(ctx, await ctx.readMetrics());
  await writeFile(ctx.path('report.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFile(ctx.path('report.md'), reportMarkdown(ctx.config, report, charts, rerank));
  for (const file of ['report.md', 'report.json', ...charts])
    registry.recordArtifact(file.endsWith('.svg') ? 'chart' : 'report', ctx.path(file));
}

function validateStages(config: TrainerConfig): void {
  if (config.stages.includes('sft') && !config.stages.includes('pretrain') && !config.from) {
    throw new ConfigError(
      'stage "sft" needs a base model: add "pretrain" to --stages or pass --from <HF model directory>',
    );
  }
  if (config.stages.includes('rerank') && !config.stages.includes('sft') && !config.from) {
    throw new ConfigError(
      'stage "rerank" needs a tuned model: add "sft" to --stages or pass --from <run directory, ' +
        'HF model directory or reranker directory>',
    );
  }
  if (!config.rerank.defaultCollection && config.rerank.collections.length === 0 && config.stages.includes('rerank')) {
    throw new ConfigError(
      'stage "rerank" has nothing to do: rerank.defaultCollection is false and no --collection was given',
    );
  }
  if (config.from && config.stages.includes('pretrain')) {
    throw new ConfigError('--from starts from an existing model; leave "pretrain" out of --stages');
  }
}

/**
 * `--from`: a Hugging Face model directory, a run directory (its tuned/ model) or, for the rerank
 * stage, a reranker directory (with reranker.json).
 */
async function loadFrom(
  dir: string,
  stages: readonly string[],
): Promise<{ model?: Llama; tokenizer: TextTokenizer; reranker?: Reranker }> {
  const has = (file: string) =>
    access(path.join(dir, file)).then(
      () => true,
      () => false,
    );
  try {
    if (await has('reranker.json')) {
      if (stages.some((s) => s === 'pretrain' || s === 'sft'))
        throw new ConfigError(`--from ${dir} is a reranker; use it with --stages rerank`);
      const reranker = await Reranker.load(dir);
      return { reranker, tokenizer: reranker.tokenizer };
    }
    // a run directory has its own config.json (the run's), and the tuned model in tuned/
    const modelDir = (await has('tuned/config.json')) ? path.join(dir, 'tuned') : dir;
    return { model: await loadModel(modelDir), tokenizer: await TextTokenizer.fromDirectory(modelDir) };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`--from ${dir}: ${(err as Error).message}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // One line for the user: their mistake (exit 2) or an internal error (exit 1); the stack only with --debug. The
  // error must not escape as uncaught: the WebAssembly backend's handler would re-throw it with its glue code.
  const userMistake =
    err instanceof ConfigError ||
    err instanceof DataError ||
    err instanceof NonFiniteError ||
    err instanceof InputError;
  const message = err instanceof Error ? err.message : String(err);
  if (process.argv.includes('--debug')) process.stderr.write(`${(err as Error)?.stack ?? message}\n`);
  else if (userMistake) process.stderr.write(`error: ${message}\n`);
  else
    process.stderr.write(
      `error: ${message.split('\n')[0]}\n(an internal error: run again with --debug for its stack trace)\n`,
    );
  process.exit(userMistake ? 2 : 1);
});
