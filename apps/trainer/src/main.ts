import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { DataError, TextTokenizer } from '@tunekit/data';
import { NonFiniteError, describeBackend, loadModel, selectBackend, type Llama } from '@tunekit/model';
import { parseFlags, USAGE } from './cli';
import { ConfigError, resolveConfig, type TrainerConfig } from './config';
import { log } from './progress';
import { buildReport, reportMarkdown, writeCharts } from './report/run-report';
import { attachRegistry, recordData, recordEvaluations } from './registry-sink';
import { RunContext } from './run-context';
import { runDataStage } from './stages/data';
import { runPretrain, type PretrainResult } from './stages/pretrain';
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
    const saved = JSON.parse(await readFile(path.join(runDir, 'config.json'), 'utf8').catch(() => {
      throw new ConfigError(`--resume ${config.resume}: no config.json there; pass a run directory`);
    })) as TrainerConfig;
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
    const from = config.from ? await loadFrom(config.from) : undefined;
    const data = await runDataStage(config, runDir, from?.tokenizer);
    recordData(registry, data.summary);
    let pretrain: PretrainResult | undefined;
    let plain: PretrainResult | undefined;
    let base: Llama | undefined = from?.model;
    if (config.stages.includes('pretrain')) {
      pretrain = await runPretrain(ctx, data);
      base = pretrain.model;
      registry.recordArtifact('model', ctx.path('base'));
      if (config.pretrain.compareAugmentation) plain = await runPretrain(ctx, data, 'plain');
    }
    let sft: SftResult | undefined;
    if (config.stages.includes('sft')) {
      sft = await runSft(ctx, data, base!, plain?.model);
      recordEvaluations(registry, sft);
      for (const r of Object.values(sft.runs)) registry.recordArtifact('model', ctx.path(r.dir));
    }
    const counts = await registry.counts().catch(() => undefined);
    const report = buildReport(ctx, {
      seconds: (Date.now() - started) / 1000, backend: { name: choice.name, reason: choice.reason, skipped: choice.skipped }, data: data.summary, pretrain: pretrain?.summary, pretrainPlain: plain?.summary, sft,
      registry: { run: registry.runId, available: registry.available, ...counts },
    });
    const charts = await writeCharts(ctx, await ctx.readMetrics());
    await writeFile(ctx.path('report.json'), JSON.stringify(report, null, 2) + '\n');
    await writeFile(ctx.path('report.md'), reportMarkdown(config, report, charts));
    for (const file of ['report.md', 'report.json', ...charts]) registry.recordArtifact(file.endsWith('.svg') ? 'chart' : 'report', ctx.path(file));
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
    throw new ConfigError('stage "sft" needs a base model: add "pretrain" to --stages or pass --from <HF model directory>');
  }
  if (config.from && config.stages.includes('pretrain')) {
    throw new ConfigError('--from starts from an existing model; leave "pretrain" out of --stages');
  }
}

async function loadFrom(dir: string): Promise<{ model: Llama; tokenizer: TextTokenizer }> {
  try {
    return { model: await loadModel(dir), tokenizer: await TextTokenizer.fromDirectory(dir) };
  } catch (err) {
    throw new ConfigError(`--from ${dir}: ${(err as Error).message}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // A user's mistake, or a run that cannot go on, gets its message, not a stack trace.
  if (err instanceof ConfigError || err instanceof DataError || err instanceof NonFiniteError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
});
