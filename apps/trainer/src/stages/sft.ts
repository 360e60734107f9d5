import { mkdir, writeFile } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs';
import { saveTokenizer, type TokenizedExample } from '@tunekit/data';
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
  const c = ctx.config;
  const tokenizer = data.tokenizer;
  const mainRows = pack(ctx, data.sft, tokenizer.padId).rows;
  const steps = Math.max(1, Math.ceil((mainRows.length * c.sft.epochs) / (c.sft.batchSize * c.sft.gradAccum)));
  const evalRows = pack(ctx, data.heldOut, tokenizer.padId).rows;
  const variants: [string, readonly TokenizedExample[], Llama][] = [
    ['sft', data.sft, base],
    ...(Object.entries(data.sftVariants) as [string, TokenizedExample[]][]).map(
      ([n, e]) => [n, e, base] as [string, TokenizedExample[], Llama],
    ),
    // the augmentation ablation: the same tuning from a base pre-trained on plain prose
    ...(plainBase ? [['plain_prose', data.sft, plainBase] as [string, TokenizedExample[], Llama]] : []),
  ];
  const lora: LoraConfig | undefined = c.sft.lora.enabled
    ? { r: c.sft.lora.r, alpha: c.sft.lora.alpha, dropout: c.sft.lora.dropout, targetModules: c.sft.lora.targets }
    : undefined;

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
    const model = Llama.fromWeights(from.config, await from.weights(), 'base model');
    let trainable: Map<string, tf.Variable> = model.params;
    if (lora) trainable = addLora(model, lora, c.seed);
    else if (c.sft.freezeEmbeddings) trainable = withoutEmbeddings(model.params);
    const rows = name === 'sft' ? mainRows : pack(ctx, examples, tokenizer.padId).rows;
    const summary = await trainLanguageModel(ctx, { name, model, rows, evalRows, schedule: c.sft, steps, trainable });
    if (lora) {
      await saveAdapters(model, lora, ctx.path(dir, 'adapter'), 'base');
      mergeLora(model);
    }
    await saveModel(model, ctx.path(dir));
    await saveTokenizer(tokenizer, ctx.path(dir));
    runs[name] = { ...summary, dir, lora: lora !== undefined };
    await ctx.markDone(name, runs[name]);
    models[name] = model;
  }

  // Evaluation: the same held-out prompts for every model.
  const items = heldOutItems(data.corpus.heldOut, { questions: c.eval.questions, seed: c.seed });
  const perplexityRows = pack(ctx, data.perplexity, tokenizer.padId).rows;
  const evals: SftResult['evals'] = {};
  const examples: Record<string, InstructionEval['examples']> = {};
  await mkdir(ctx.path('evals'), { recursive: true });
  for (const [name, model] of [
    ['base', base] as const,
    ...(plainBase ? [['base_plain', plainBase] as const] : []),
    ...Object.entries(models),
  ]) {
    const started = performance.now();
    const result = evaluateInstructions(model, tokenizer, data.template, items, {
      batch: c.eval.batch,
      maxNewTokens: c.eval.maxNewTokens,
    });
    const perplexity = Math.exp(evaluateRows(model, perplexityRows, c.sft.batchSize));
    const { examples: rows, ...aggregate } = result;
    evals[name] = { ...aggregate, perplexity };
    examples[name] = rows;
    await writeFile(ctx.path('evals', `${name}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    log(
      `eval ${name}: held-out accuracy ${(100 * result.heldout.accuracy).toFixed(1)}% (${result.heldout.correct}/${result.heldout.total}), format ${(100 * result.format.compliance).toFixed(1)}%, harmful refused ${(100 * result.refusals.harmful).toFixed(0)}%, perplexity ${perplexity.toFixed(2)} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
  const pick = (task: string, n: number) => examples.base.filter((e) => e.task === task).slice(0, n);
  const samples = [...pick('qa', 4), ...pick('json', 1), ...pick('bullets', 1), ...pick('refusal_harmful', 1)].map(
    (e) => ({
      prompt: e.prompt,
      base: e.output,
      tuned: examples.sft.find((x) => x.id === e.id)!.output,
    }),
  );
  for (const m of Object.values(models)) m.dispose();
  return { runs, evals, examples, samples };
}
