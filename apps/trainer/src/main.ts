import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { DataError, TextTokenizer } from '@tunekit/data';
import { NonFiniteError, describeBackend, loadModel, selectBackend, type Llama } from '@tunekit/model';
import { InputError, Reranker } from '@tunekit/rerank';
import { parseFlags, USAGE } from './cli';
import { ConfigError, resolveConfig, type TrainerConfig } from './config';
import { log } from './progress';
import { buildReport, reportMarkdown, writeCharts } from './report/run-report';
import { attachRegistry, recordData, recordEvaluations, recordRetrieval } from './registry-sink';
import { RunContext } from './run-context';
import { runDataStage } from './stages/data';
import { runPretrain, type PretrainResult } from './stages/pretrain';
import { runRerank, type RerankResult } from './stages/rerank';
import { runSft, type SftResult } from './stages/sft';

async function main(argv: string[]): Promise<void> {
  const { flags, configFile, help } = parseFlags(argv);
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config = await resolveConfig(flags, configFile);
  let runDir: string;
  if (config.resume) {
    // A resumed run keeps its directory and its original configuration.
    runDir = path.resolve(config.resume);
    const saved = JSON.parse(
      await readFile(path.join(runDir, 'config.json'), 'utf8').catch(() => {
        throw new ConfigError(`--resume ${config.resume}: no config.json there; pass a run directory`);
      }),
    ) as TrainerConfig;
    config = { ...saved, resume: runDir };
  } else {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
    runDir = path.resolve(config.outputDir, `${stamp}-${config.preset}`);
    await mkdir(runDir, { recursive: true });
    await writeFile(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }
  validateStages(config);
  const ctx = new RunContext(config, runDir);
  log(`run ${runDir} (preset ${config.preset}, stages ${config.stages.join(', ')}, host ${hostname()})`);
  const choice = await selectBackend(config.backend === 'auto' ? undefined : config.backend);
  log(describeBackend(choice));
  ctx.backend = choice.name;

  const registry = await attachRegistry(ctx);
  const started = Date.now();
  try {
    const from = config.from ? await loadFrom(config.from, config.stages) : undefined;
    const needsData = config.stages.some((stage) => stage === 'data' || stage === 'pretrain' || stage === 'sft');
    const data = needsData ? await runDataStage(config, runDir, from?.tokenizer) : undefined;
    if (data) recordData(registry, data.summary);
    let pretrain: PretrainResult | undefined;
    let plain: PretrainResult | undefined;
    let base: Llama | undefined = from?.model;
    if (config.stages.includes('pretrain')) {
      pretrain = await runPretrain(ctx, data!);
      base = pretrain.model;
      registry.recordArtifact('model', ctx.path('base'));
      if (config.pretrain.compareAugmentation) plain = await runPretrain(ctx, data!, 'plain');
    }
    let sft: SftResult | undefined;
    if (config.stages.includes('sft')) {
      sft = await runSft(ctx, data!, base!, plain?.model);
      recordEvaluations(registry, sft);
      for (const r of Object.values(sft.runs)) registry.recordArtifact('model', ctx.path(r.dir));
    }
    let rerank: RerankResult | undefined;
    if (config.stages.includes('rerank')) {
      const tuned = sft ? await loadModel(ctx.path('tuned')) : from?.model;
      rerank = await runRerank(ctx, {
        model: tuned,
        tokenizer: data?.tokenizer ?? from!.tokenizer,
        reranker: from?.reranker,
      });
      recordRetrieval(registry, rerank);
      for (const t of Object.values(rerank.training)) registry.recordArtifact('model', ctx.path(t.dir));
    }
    const counts = await registry.counts().catch(() => undefined);
    const report = buildReport(ctx, {
      seconds: (Date.now() - started) / 1000,
      backend: { name: choice.name, reason: choice.reason, skipped: choice.skipped },
      data: data?.summary,
      pretrain: pretrain?.summary,
      pretrainPlain: plain?.summary,
      sft,
      rerank,
      registry: { run: registry.runId, available: registry.available, ...counts },
    });
    const charts = await writeCharts(ctx, await ctx.readMetrics());
    await writeFile(ctx.path('report.json'), JSON.stringify(report, null, 2) + '\n');
    await writeFile(ctx.path('report.md'), reportMarkdown(config, report, charts, rerank));
    for (const file of ['report.md', 'report.json', ...charts])
      registry.recordArtifact(file.endsWith('.svg') ? 'chart' : 'report', ctx.path(file));
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

function validateStages(config: TrainerConfig): void {
  if (config.stages.includes('sft') && !config.stages.includes('pretrain') && !config.from) {
    throw new ConfigError(
      'stage "sft" needs a base model: add "pretrain" to --stages or pass --from <HF model directory>',
    );
  }
  if (config.stages.includes('rerank') && !config.stages.includes('sft') && !config.from) {
    throw new ConfigError(
      'stage "rerank" needs a tuned model: add "sft" to --stages or pass --from <run directory, HF model directory or reranker directory>',
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
  // A user's mistake, or a run that cannot go on, gets its message, not a stack trace.
  if (
    err instanceof ConfigError ||
    err instanceof DataError ||
    err instanceof NonFiniteError ||
    err instanceof InputError
  ) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
});
