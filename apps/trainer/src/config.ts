import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { FORMATS, MASK_STRATEGIES, type MaskStrategy } from '@tunekit/data';
import { LORA_TARGETS } from '@tunekit/model';
import { RANKING_LOSSES, SCORE_MODES } from '@tunekit/rerank';

export const STAGES = ['data', 'pretrain', 'sft', 'rerank'] as const;
export type Stage = (typeof STAGES)[number];

const optimizer = {
  lr: z.number().positive(),
  warmupSteps: z.number().int().nonnegative(),
  /** Cosine decay ends at lr · minLrRatio. */
  minLrRatio: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().nonnegative().default(0.1),
  clipNorm: z.number().nonnegative().default(1),
  /** Packed rows per micro-batch, and micro-batches per optimiser step. */
  batchSize: z.number().int().positive().default(8),
  gradAccum: z.number().int().positive().default(1),
  evalEvery: z.number().int().positive().default(100),
  checkpointEvery: z.number().int().positive().default(200),
};

/** LoRA adapters on the named projections (PEFT's names); off: full fine-tuning. */
const lora = z
  .strictObject({
    enabled: z.boolean().default(false),
    r: z.number().int().positive().default(16),
    alpha: z.number().positive().default(32),
    dropout: z.number().min(0).max(1).default(0),
    targets: z.array(z.enum(LORA_TARGETS)).default([...LORA_TARGETS]),
  })
  .prefault({});

/** The most a source's weight may be, next to the first source's: its rows then repeat up to ~1,000 times. */
export const MAX_SOURCE_WEIGHT = 1000;

const dataSource = z.strictObject({
  /** A JSON or JSONL file in any supported format. */
  path: z.string().min(1),
  format: z.enum([...FORMATS, 'auto']).default('auto'),
  /** Relative share in the instruction mixture. */
  weight: z.number().positive().max(MAX_SOURCE_WEIGHT).default(1),
});

export const trainerConfig = z.strictObject({
  preset: z.enum(['default', 'smoke']).default('default'),
  stages: z
    .array(z.string())
    .min(1)
    .default(['data', 'pretrain', 'sft', 'rerank'])
    .superRefine((stages, ctx) => {
      for (const s of stages) {
        if (!(STAGES as readonly string[]).includes(s))
          ctx.addIssue({ code: 'custom', message: `unknown stage "${s}"; available: ${STAGES.join(', ')}` });
      }
    }),
  seed: z.number().int().nonnegative().default(1234),
  /** TensorFlow.js backend; `auto` tries tensorflow-gpu, tensorflow, wasm, cpu in that order. */
  backend: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  /**
   * Start from an existing model instead of pre-training: a Hugging Face model directory (config.json,
   * safetensors, tokenizer files), a run directory (its tuned/ model), or, for the rerank stage, a
   * trained reranker directory (its reranker.json).
   */
  from: z.string().optional(),
  /**
   * A run directory to continue after a crash or kill: finished stages are kept, the current one resumes from
   * its checkpoint.
   */
  resume: z.string().optional(),
  /** Where run directories go; each run gets `<outputDir>/<timestamp>-<preset>`. */
  outputDir: z.string().default('runs'),
  data: z
    .strictObject({
      /** Share of countries whose instruction pairs are held out for evaluation. */
      heldOutFraction: z.number().gt(0).lt(1).default(0.5),
      /** Biographies per country in the pre-training prose. */
      pretrainExposures: z.number().int().positive().default(100),
      /** `augmented` (paraphrases, shuffled order) or `plain` (one fixed template), for the ablation. */
      pretrainStyle: z.enum(['augmented', 'plain']).default('augmented'),
      /** Extra instruction data mixed with the default corpus. */
      sources: z.array(dataSource).default([]),
      /** Weight of the default instruction corpus in the mixture (0 leaves it out). */
      defaultWeight: z.number().nonnegative().default(1),
      /** Weight of pre-training prose replayed inside the instruction mixture (0 = no replay). */
      replayWeight: z.number().nonnegative().default(0.3),
      onError: z.enum(['stop', 'skip']).default('stop'),
    })
    .prefault({}),
  tokenizer: z
    .strictObject({
      vocabSize: z.number().int().min(300).max(1_048_576).default(2048),
      /** Pre-training biographies per country the tokenizer is trained on. */
      trainExposures: z.number().int().positive().default(5),
    })
    .prefault({}),
  model: z
    .strictObject({
      /**
       * hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, intermediate_size of the
       * base model.
       */
      hidden: z.number().int().positive().default(128),
      layers: z.number().int().positive().default(4),
      heads: z.number().int().positive().default(4),
      kvHeads: z.number().int().positive().default(4),
      intermediate: z.number().int().positive().default(352),
      tieEmbeddings: z.boolean().default(true),
    })
    .prefault({}),
  pretrain: z
    .strictObject({
      ...optimizer,
      lr: optimizer.lr.default(2e-3),
      warmupSteps: optimizer.warmupSteps.default(100),
      epochs: z.number().positive().default(1),
      /**
       * Also pre-train a second base on plain prose (one fixed template per country) and tune it the same
       * way: the augmentation ablation. Doubles the run time.
       */
      compareAugmentation: z.boolean().default(false),
    })
    .prefault({}),
  sft: z
    .strictObject({
      ...optimizer,
      lr: optimizer.lr.default(1e-3),
      warmupSteps: optimizer.warmupSteps.default(20),
      weightDecay: optimizer.weightDecay.default(0),
      epochs: z.number().positive().default(2),
      /** LoRA instead of full fine-tuning. */
      lora,
      freezeEmbeddings: z.boolean().default(false),
      /** Extra fine-tunes with the same budget, for the report: training on every token, and no replay. */
      ablations: z.array(z.enum(['train_on_all', 'no_replay'])).default(['train_on_all', 'no_replay']),
    })
    .prefault({}),
  rerank: z
    .strictObject({
      ...optimizer,
      lr: optimizer.lr.default(3e-4),
      warmupSteps: optimizer.warmupSteps.default(20),
      weightDecay: optimizer.weightDecay.default(0),
      /** Groups (a query with 1 + negatives documents) per micro-batch, and micro-batches per step. */
      batchSize: z.number().int().positive().default(4),
      gradAccum: z.number().int().positive().default(2),
      evalEvery: optimizer.evalEvery.default(50),
      checkpointEvery: optimizer.checkpointEvery.default(100),
      /** Passes over the training groups of the default collection. */
      epochs: z.number().positive().default(3),
      /** `yes_no`: logit(yes) − logit(no) at the answer position; `head`: a linear head on the last hidden state. */
      mode: z.enum(SCORE_MODES).default('yes_no'),
      loss: z.enum(RANKING_LOSSES).default('listwise'),
      /**
       * Negatives per group, and the BM25 ranks (1-based, inclusive) hard negatives are sampled from in
       * collections with incomplete judgments (the default collection is fully judged: from rank 1).
       */
      negatives: z.number().int().positive().default(3),
      negativeRanks: z.tuple([z.number().int().positive(), z.number().int().positive()]).default([3, 50]),
      /**
       * Judged documents of a lower grade than a group's positive may be its negatives (first in line), so
       * grades order the relevant documents too.
       */
      gradedNegatives: z.boolean().default(false),
      /**
       * Mine new negatives (and draw new invented names) for every pass over the training queries, instead of
       * repeating one set.
       */
      freshNegatives: z.boolean().default(true),
      /**
       * Share of the default collection's training groups in which the country's name is replaced by an
       * invented one throughout.
       */
      entitySubstitution: z.number().min(0).max(1).default(0),
      /**
       * Chance that each other country a training group names is renamed too, each to its own invented name,
       * so that an unfamiliar name does not mark the relevant document.
       */
      otherEntitySubstitution: z.number().min(0).max(1).default(0),
      /**
       * Keep the token embeddings as the tuned model has them: training then cannot mark the names it
       * trains on (and not the held-out ones) in their embeddings.
       */
      freezeEmbeddings: z.boolean().default(true),
      /** Documents are cut to this many tokens; instruction and query never are. */
      maxDocTokens: z.number().int().positive().default(128),
      /**
       * Mark the document's words that match a query term (`**word**`, as MarkedBERT does); saved with the
       * reranker.
       */
      markQueryTerms: z.boolean().default(true),
      /** BM25 candidates reranked per query. */
      depth: z.number().int().positive().default(100),
      /** Test questions and instruction pairs of the default collection evaluated (0 = all). */
      evalQueries: z.number().int().nonnegative().default(120),
      evalPairs: z.number().int().nonnegative().default(40),
      /** Weight of the reranker in score fusion with BM25 (reported apart from the reranker alone). */
      fusionWeight: z.number().min(0).max(1).default(0.5),
      /** Train (false: only evaluate the model given with --from). */
      train: z.boolean().default(true),
      /** Train and evaluate on the default collection built from the facts. */
      defaultCollection: z.boolean().default(true),
      /**
       * BEIR collection directories to adapt to (synthetic queries from their corpus, never their queries)
       * and evaluate on.
       */
      collections: z.array(z.string()).default([]),
      /**
       * How training queries are made for those collections: from the documents (title, inverse cloze), by
       * the chat model, or both.
       */
      syntheticQueries: z.enum(['template', 'model', 'both']).default('template'),
      queriesPerDocument: z.number().int().positive().default(2),
      /** Optimiser steps of adaptation per collection. */
      collectionSteps: z.number().int().positive().default(150),
      lora,
    })
    .prefault({}),
  eval: z
    .strictObject({
      /** Held-out questions asked of each model (one phrasing per fact, sampled); 0 = all. */
      questions: z.number().int().nonnegative().default(0),
      /** Prompts generated together. */
      batch: z.number().int().positive().default(64),
      maxNewTokens: z.number().int().positive().default(64),
      /** Pre-training biographies per country in the held-out perplexity text. */
      perplexityExposures: z.number().int().positive().default(1),
    })
    .prefault({}),
  sequence: z
    .strictObject({
      maxLength: z.number().int().positive().default(256),
      masking: z.enum(MASK_STRATEGIES as [MaskStrategy, ...MaskStrategy[]]).default('all_assistant'),
      packing: z.boolean().default(true),
      truncation: z.enum(['truncate', 'drop', 'error']).default('truncate'),
    })
    .prefault({}),
});

export type TrainerConfig = z.output<typeof trainerConfig>;
export type TrainerConfigInput = z.input<typeof trainerConfig>;

/** Presets fill in what the user did not set. */
export const PRESETS: Record<TrainerConfig['preset'], TrainerConfigInput> = {
  default: {},
  smoke: {
    data: { pretrainExposures: 2 },
    tokenizer: { vocabSize: 512, trainExposures: 1 },
    model: { hidden: 32, layers: 1, heads: 2, kvHeads: 1, intermediate: 64 },
    pretrain: { warmupSteps: 2, batchSize: 8, evalEvery: 10, checkpointEvery: 10 },
    sft: { epochs: 0.1, warmupSteps: 1, batchSize: 8, evalEvery: 5, checkpointEvery: 5 },
    eval: { questions: 24, batch: 24, maxNewTokens: 16 },
    rerank: {
      mode: 'head',
      epochs: 0.02,
      warmupSteps: 1,
      batchSize: 2,
      negatives: 3,
      evalEvery: 5,
      checkpointEvery: 5,
      depth: 20,
      evalQueries: 12,
      evalPairs: 6,
      collectionSteps: 3,
      maxDocTokens: 48,
    },
  },
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Merges preset ← config file ← flags and validates the result, naming every bad key. */
export async function resolveConfig(flags: TrainerConfigInput, configFile?: string): Promise<TrainerConfig> {
  let fromFile: TrainerConfigInput = {};
  if (configFile) {
    let text: string;
    try {
      text = await readFile(configFile, 'utf8');
    } catch {
      throw new ConfigError(`${configFile}: config file not found`);
    }
    try {
      fromFile = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${configFile}: invalid JSON (${(err as Error).message})`);
    }
  }
  const preset = flags.preset ?? fromFile.preset ?? 'default';
  const merged = deepMerge(deepMerge(PRESETS[preset as TrainerConfig['preset']] ?? {}, fromFile), flags);
  const result = trainerConfig.safeParse(merged);
  if (!result.success) {
    const where = configFile ? `${configFile} / flags` : 'flags';
    const issues = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration (${where}):\n${issues.join('\n')}`);
  }
  return result.data;
}

function deepMerge<T>(base: T, over: unknown): T {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over))
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? deepMerge(out[k] ?? {}, v) : v;
  return out as T;
}
