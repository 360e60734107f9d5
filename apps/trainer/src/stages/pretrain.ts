import { saveTokenizer } from '@tunekit/data';
import { Llama, loadModel, parseConfig, saveModel } from '@tunekit/model';
import { log } from '../progress';
import type { RunContext } from '../run-context';
import type { DataStageResult } from './data';
import { pack, trainLanguageModel, type TrainSummary } from './train-stage';

export interface PretrainResult {
  model: Llama;
  summary: TrainSummary & { parameters: number; perplexity: number };
}

/**
 * Pre-trains a small decoder from scratch on the default prose and saves it as an HF directory in
 * base/ (`variant` "plain": on the unaugmented prose, into ablations/base_plain/).
 */
export async function runPretrain(
  ctx: RunContext,
  data: DataStageResult,
  variant: 'augmented' | 'plain' = 'augmented',
): Promise<PretrainResult> {
  const name = variant === 'plain' ? 'pretrain_plain' : 'pretrain';
  const dir = variant === 'plain' ? 'ablations/base_plain' : 'base';
  const m = ctx.config.model;
  const tokenizer = data.tokenizer;
  const config = parseConfig({
    model_type: 'llama',
    vocab_size: tokenizer.vocabSize,
    hidden_size: m.hidden,
    intermediate_size: m.intermediate,
    num_hidden_layers: m.layers,
    num_attention_heads: m.heads,
    num_key_value_heads: m.kvHeads,
    tie_word_embeddings: m.tieEmbeddings,
    max_position_embeddings: ctx.config.sequence.maxLength,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    bos_token_id: null,
    eos_token_id: tokenizer.eosId ?? null,
    pad_token_id: tokenizer.padId,
  });
  const done = await ctx.doneSummary<PretrainResult['summary']>(name);
  if (done) {
    log(`${name}: finished earlier (${done.steps} steps); loading ${dir}/`);
    return { model: await loadModel(ctx.path(dir)), summary: done };
  }
  const model = Llama.init(config, ctx.config.seed);
  const parameters = [...model.params.values()].reduce((n, v) => n + v.size, 0);
  log(
    `pretrain: ${config.model_type} decoder, ${parameters.toLocaleString('en')} parameters ` +
      `(hidden ${m.hidden}, ${m.layers} layers, ${m.heads} heads, ${m.kvHeads} KV heads)`,
  );
  const rows = pack(ctx, variant === 'plain' ? data.plainPretraining! : data.pretraining, tokenizer.padId).rows;
  const evalRows = pack(ctx, data.perplexity, tokenizer.padId).rows;
  const trained = await trainLanguageModel(ctx, { name, model, rows, evalRows, schedule: ctx.config.pretrain });
  await saveModel(model, ctx.path(dir));
  await saveTokenizer(tokenizer, ctx.path(dir));
  const summary = { ...trained, parameters, perplexity: Math.exp(trained.evalLoss ?? NaN) };
  await ctx.markDone(name, summary);
  return { model, summary };
}
