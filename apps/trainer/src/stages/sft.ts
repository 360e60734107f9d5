import { mkdir, writeFile } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs';
import { saveTokenizer, type PackedRow, type TokenizedExample } from '@tunekit/data';
import {
  Llama,
  addLora,
  evaluateRows,
  loadModel,
  mergeLora,
  saveAdapters,
  saveModel,
  type LoraConfig,
} from '@tunekit/model';
import { evaluateInstructions, heldOutItems, type InstructionEval } from '../eval/instruction-eval';
import { log } from '../progress';
import type { RunContext } from '../run-context';
import type { DataStageResult } from './data';
import { pack, trainLanguageModel, withoutEmbeddings, type TrainSummary } from './train-stage';

export interface ModelEval extends Omit<InstructionEval, 'examples'> {
  perplexity: number;
}

export interface SftResult {
  runs: Record<string, TrainSummary & { dir: string; lora: boolean }>;
  /** Evaluations by model: base, sft (the tuned model), and each ablation. */
  evals: Record<string, ModelEval>;
  /** The scored answers behind each evaluation. */
  examples: Record<string, InstructionEval['examples']>;
  samples: { prompt: string; base: string; tuned: string }[];
}

const VARIANT_DIRS: Record<string, string> = {
  sft: 'tuned',
  train_on_all: 'ablations/train_on_all',
  no_replay: 'ablations/no_replay',
  plain_prose: 'ablations/plain_prose',
};

/**
 * Instruction-tunes copies of the base model (the main run and each ablation, same step budget),
 * exports each as an HF directory, and evaluates base and tuned models on held-out entities.
 */
export async function runSft(
  ctx: RunContext,
  data: DataStageResult,
  base: Llama,
  plainBase?: Llama,
): Promise<SftResult> {
  const variants: Variant[] = [
    ['sft', data.sft, base],
    ...Object.entries(data.sftVariants).map(([name, examples]): Variant => [name, examples, base]),
    // the augmentation ablation: the same tuning from a base pre-trained on plain prose
    ...(plainBase ? [['plain_prose', data.sft, plainBase] as Variant] : []),
  ];
  const { runs, models } = await tuneVariants(ctx, data, variants);
  const bases: [string, Llama][] = [
    ['base', base],
    ...(plainBase ? [['base_plain', plainBase] as [string, Llama]] : []),
  ];
  const { evals, examples } = await evaluateModels(ctx, data, [...bases, ...Object.entries(models)]);
  for (const m of Object.values(models)) m.dispose();
  return { runs, evals, examples, samples: sampleAnswers(examples) };
}

/** A fine-tune: its name, what it trains on, and the model it starts from. */
type Variant = [name: string, examples: readonly TokenizedExample[], from: Llama];

/** Trains each variant on the main run's step budget (or loads it when a resumed run finished it). */
async function tuneVariants(
  ctx: RunContext,
  data: DataStageResult,
  variants: Variant[],
): Promise<Pick<SftResult, 'runs'> & { models: Record<string, Llama> }> {
  const c = ctx.config;
  const padId = data.tokenizer.padId;
  const mainRows = pack(ctx, data.sft, padId).rows;
  const steps = Math.max(1, Math.ceil((mainRows.length * c.sft.epochs) / (c.sft.batchSize * c.sft.gradAccum)));
  const evalRows = pack(ctx, data.heldOut, padId).rows;
  const runs: SftResult['runs'] = {};
  const models: Record<string, Llama> = {};
  for (const [name, examples, from] of variants) {
    const dir = VARIANT_DIRS[name];
    const done = await ctx.doneSummary<SftResult['runs'][string]>(name);
    if (done) {
      log(`${name}: finished earlier; loading ${dir}/`);
      runs[name] = done;
      models[name] = await loadModel(ctx.path(dir));
      continue;
    }
    const rows = name === 'sft' ? mainRows : pack(ctx, examples, padId).rows;
    const tuned = await tune(ctx, data, { name, dir, from, rows, evalRows, steps });
    runs[name] = tuned.run;
    models[name] = tuned.model;
  }
  return { runs, models };
}

/** One fine-tune of a copy of `from`, saved to `dir` as an HF directory (and its LoRA adapter alone, with LoRA). */
async function tune(
  ctx: RunContext,
  data: DataStageResult,
  o: { name: string; dir: string; from: Llama; rows: PackedRow[]; evalRows: PackedRow[]; steps: number },
): Promise<{ run: SftResult['runs'][string]; model: Llama }> {
  const c = ctx.config.sft;
  const lora: LoraConfig | undefined = c.lora.enabled
    ? { r: c.lora.r, alpha: c.lora.alpha, dropout: c.lora.dropout, targetModules: c.lora.targets }
    : undefined;
  const model = Llama.fromWeights(o.from.config, await o.from.weights(), 'base model');
  let trainable: Map<string, tf.Variable> = model.params;
  if (lora) trainable = addLora(model, lora, ctx.config.seed);
  else if (c.freezeEmbeddings) trainable = withoutEmbeddings(model.params);
  const summary = await trainLanguageModel(ctx, { ...o, model, schedule: c, trainable });
  if (lora) {
    await saveAdapters(model, lora, ctx.path(o.dir, 'adapter'), 'base');
    mergeLora(model);
  }
  await saveModel(model, ctx.path(o.dir));
  await saveTokenizer(data.tokenizer, ctx.path(o.dir));
  const run = { ...summary, dir: o.dir, lora: lora !== undefined };
  await ctx.markDone(o.name, run);
  return { run, model };
}

/** The same held-out prompts for every model; every scored answer in evals/<model>.jsonl. */
async function evaluateModels(
  ctx: RunContext,
  data: DataStageResult,
  models: [string, Llama][],
): Promise<Pick<SftResult, 'evals' | 'examples'>> {
  const c = ctx.config;
  const items = heldOutItems(data.corpus.heldOut, { questions: c.eval.questions, seed: c.seed });
  const perplexityRows = pack(ctx, data.perplexity, data.tokenizer.padId).rows;
  const evals: SftResult['evals'] = {};
  const examples: SftResult['examples'] = {};
  await mkdir(ctx.path('evals'), { recursive: true });
  for (const [name, model] of models) {
    const started = performance.now();
    const result = evaluateInstructions(model, data.tokenizer, data.template, items, {
      batch: c.eval.batch,
      maxNewTokens: c.eval.maxNewTokens,
    });
    const perplexity = Math.exp(evaluateRows(model, perplexityRows, c.sft.batchSize));
    const { examples: rows, ...aggregate } = result;
    evals[name] = { ...aggregate, perplexity };
    examples[name] = rows;
    await writeFile(ctx.path('evals', `${name}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`;
    log(
      `eval ${name}: held-out accuracy ${pct(result.heldout.accuracy)} ` +
        `(${result.heldout.correct}/${result.heldout.total}), format ${pct(result.format.compliance)}, ` +
        `harmful refused ${pct(result.refusals.harmful, 0)}, perplexity ${perplexity.toFixed(2)} ` +
        `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
  return { evals, examples };
}

/** A few held-out prompts of each kind with the base and the tuned model's answers, for the report. */
function sampleAnswers(examples: SftResult['examples']): SftResult['samples'] {
  const pick = (task: string, n: number) => examples.base.filter((e) => e.task === task).slice(0, n);
  return [...pick('qa', 4), ...pick('json', 1), ...pick('bullets', 1), ...pick('refusal_harmful', 1)].map((e) => ({
    prompt: e.prompt,
    base: e.output,
    tuned: examples.sft.find((x) => x.id === e.id)!.output,
  }));
}
