import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { buildFactRetrieval, factOf, loadCountries, type FactRetrieval } from '@tunekit/corpora';
import { Rng, readBeir, writeBeir, type BeirCollection, type TextTokenizer } from '@tunekit/data';
import { Llama, addLora, mergeLora } from '@tunekit/model';
import {
  Bm25Index,
  HEAD_WEIGHT,
  Reranker,
  checkGroups,
  evaluateGroups,
  factTrainingQueries,
  generatedQueries,
  mineTrainingGroups,
  rankingStepLoss,
  substituteEntities,
  templateQueries,
  type GroupReport,
  type MinedGroups,
  type RankingGroup,
  type TrainingQuery,
} from '@tunekit/rerank';
import {
  evaluateCollection,
  evaluateInstructionPairs,
  type PairsResult,
  type RetrievalResult,
} from '../eval/retrieval-eval';
import { log } from '../progress';
import type { RunContext } from '../run-context';
import { trainStage, withoutEmbeddings } from './train-stage';

export interface RerankTrainSummary {
  collection: string;
  steps: number;
  groups: number;
  mining: GroupReport;
  /**
   * Training queries left out because they leave too little room for a document in the context (the first 20 listed).
   */
  tooLong: { count: number; first: string[] };
  seconds: number;
  tokensPerSecond: number;
  finalLoss: number;
  /** Validation: share of held-back training groups whose positive scores highest. */
  evalAccuracy: number | null;
  dir: string;
  resumedFrom: string | null;
}

export interface RerankResult {
  training: Record<string, RerankTrainSummary>;
  /** Retrieval evaluations by collection: BM25, reranked and fused. */
  eval: Record<string, RetrievalResult>;
  /** The default collection's instruction pairs: p-MRR. */
  pairs?: PairsResult;
}

/**
 * The rerank stage: turns the tuned chat model (or `--from`) into a reranker, trains it on the
 * default collection built from the facts (natural questions and FollowIR-style instruction pairs,
 * BM25 hard negatives), adapts it to each `--collection` with synthetic queries from its corpus,
 * and evaluates BM25 top-k → reranked on every collection, with p-MRR on the instruction pairs.
 */
export async function runRerank(
  ctx: RunContext,
  start: { model?: Llama; tokenizer: TextTokenizer; reranker?: Reranker },
): Promise<RerankResult> {
  const c = ctx.config.rerank;
  const result: RerankResult = { training: {}, eval: {} };
  let reranker = start.reranker ?? (await newReranker(ctx, start.model!, start.tokenizer));
  log(
    `rerank: ${start.reranker ? 'trained reranker from --from' : 'new reranker on the tuned model'}, ` +
      `${reranker.config.mode} scoring, documents cut to ${reranker.config.maxDocTokens} tokens, inputs up to ` +
      `${reranker.config.maxLength}`,
  );
  if (c.defaultCollection) reranker = await defaultCollection(ctx, reranker, result);
  for (const dir of c.collections) await userCollection(ctx, reranker, dir, result);
  for (const [name, t] of Object.entries(result.training)) {
    const accuracy = t.evalAccuracy === null ? '—' : `${(100 * t.evalAccuracy).toFixed(1)}%`;
    log(`rerank ${name}: trained ${t.steps} steps on ${t.groups} groups, validation accuracy ${accuracy}`);
  }
  reranker.dispose();
  return result;
}

async function newReranker(ctx: RunContext, model: Llama, tokenizer: TextTokenizer): Promise<Reranker> {
  const c = ctx.config.rerank;
  const config = { mode: c.mode, maxDocTokens: c.maxDocTokens, markQueryTerms: c.markQueryTerms };
  return Reranker.create(await copyOf(model), tokenizer, config, ctx.config.seed);
}

/**
 * The default collection: trains on the training countries' questions and instruction pairs (unless
 * rerank.train is off), evaluates on the held-out countries' questions and pairs. Returns the trained reranker.
 */
async function defaultCollection(ctx: RunContext, reranker: Reranker, result: RerankResult): Promise<Reranker> {
  const c = ctx.config.rerank;
  const facts = buildFactRetrieval({ seed: ctx.config.seed, heldOutFraction: ctx.config.data.heldOutFraction });
  await writeTestCollection(ctx.path('rerank', 'default'), facts);
  if (c.train) {
    // Training sees only the training countries' documents: were the held-out countries' documents in it, they
    // would only ever be negatives, and the model would learn to push them down.
    const trainIds = new Set(facts.entities.train);
    const corpus = new Map([...facts.corpus].filter(([, d]) => trainIds.has(factOf(d)!.entity)));
    const queries = factTrainingQueries(facts.train, corpus, {
      facetOf: (id) => factOf(facts.corpus.get(id)!),
      // questions by value are few (one per value) next to questions by fact: each is asked three times
      repeatKinds: { value: 3 },
      seed: ctx.config.seed,
    });
    const trained = await train(ctx, reranker, 'default', {
      corpus,
      index: new Bm25Index(corpus.values()),
      queries,
      steps: Math.max(1, Math.ceil((queries.length * c.epochs) / (c.batchSize * c.gradAccum))),
      // every document of this collection is judged, so the top BM25 ranks hold no unjudged relevant ones: mine
      // from rank 1
      ranks: [1, c.negativeRanks[1]],
      augment: entitySubstitution(ctx, trainIds),
    });
    ({ reranker, summary: result.training.default } = trained);
  }
  const index = new Bm25Index(facts.corpus.values());
  const test: BeirCollection = {
    name: 'default',
    corpus: facts.corpus,
    queries: sample(facts.test.queries, c.evalQueries, ctx.config.seed),
    qrels: facts.test.qrels,
  };
  result.eval.default = await evaluateCollection(ctx, reranker, test, index, 'default');
  const pairs = c.evalPairs
    ? new Rng(ctx.config.seed).shuffle([...facts.test.pairs]).slice(0, c.evalPairs)
    : facts.test.pairs;
  result.pairs = await evaluateInstructionPairs(ctx, reranker, facts.corpus, index, pairs);
  return reranker;
}

/** The default collection's test split in BEIR format, and its instruction pairs as JSONL. */
async function writeTestCollection(dir: string, facts: FactRetrieval): Promise<void> {
  await writeBeir(dir, { corpus: facts.corpus, queries: facts.test.queries, qrels: facts.test.qrels });
  const pairs = facts.test.pairs.map((p) =>
    JSON.stringify({
      id: p.id,
      query: p.query,
      original: { instruction: p.original.instruction, qrels: Object.fromEntries(p.original.qrels) },
      altered: { instruction: p.altered.instruction, qrels: Object.fromEntries(p.altered.qrels) },
    }),
  );
  await writeFile(path.join(dir, 'instruction-pairs.jsonl'), pairs.join('\n') + '\n');
}

/**
 * A user's collection (`--collection`): adapts a copy of the reranker with synthetic queries from its corpus alone
 * (unless rerank.train is off), evaluates on its judged queries, never trained on.
 */
async function userCollection(ctx: RunContext, reranker: Reranker, dir: string, result: RerankResult): Promise<void> {
  const collection = await readBeir(dir);
  const name = uniqueName(collection.name, result.eval);
  const index = new Bm25Index(collection.corpus.values());
  log(
    `rerank ${name}: ${collection.corpus.size} documents, ${collection.qrels.size} judged queries (never trained on)`,
  );
  let adapted = reranker;
  if (ctx.config.rerank.train) {
    const queries = syntheticQueries(ctx, reranker, collection, index);
    const copy = Reranker.create(await copyOf(reranker.model), reranker.tokenizer, reranker.config);
    const steps = ctx.config.rerank.collectionSteps;
    const trained = await train(ctx, copy, name, { corpus: collection.corpus, index, queries, steps });
    ({ reranker: adapted, summary: result.training[name] } = trained);
  }
  const judged = new Map([...collection.queries].filter(([id]) => collection.qrels.has(id)));
  result.eval[name] = await evaluateCollection(ctx, adapted, { ...collection, queries: judged }, index, name);
  if (adapted !== reranker) adapted.dispose();
}

/**
 * Entity substitution (off by default, the older remedy for names the model memorised): invented names in place of a
 * share of the training countries' names in the groups of each round.
 */
function entitySubstitution(
  ctx: RunContext,
  trainIds: Set<string>,
): ((groups: RankingGroup[], seed: number) => RankingGroup[]) | undefined {
  const c = ctx.config.rerank;
  if (c.entitySubstitution === 0 && c.otherEntitySubstitution === 0) return undefined;
  const names = loadCountries()
    .filter((f) => trainIds.has(f.id))
    .map((f) => f.name);
  return (groups, seed) => {
    const options = { share: c.entitySubstitution, others: c.otherEntitySubstitution, seed };
    const out = substituteEntities(groups, names, options);
    log(
      `rerank_default: ${out.substituted} of ${groups.length} groups with an invented name in place of the ` +
        `query's country (rerank.entitySubstitution ${c.entitySubstitution}), ${out.othersSubstituted} other ` +
        `countries renamed in them (rerank.otherEntitySubstitution ${c.otherEntitySubstitution})`,
    );
    return out.groups;
  };
}

interface RerankTraining {
  corpus: BeirCollection['corpus'];
  index: Bm25Index;
  queries: TrainingQuery[];
  steps: number;
  ranks?: [number, number];
  augment?: (groups: RankingGroup[], seed: number) => RankingGroup[];
}

/** Trains on the groups mined for `queries`, saves the reranker under reranker/ (or reranker-<name>/). */
async function train(
  ctx: RunContext,
  reranker: Reranker,
  name: string,
  o: RerankTraining,
): Promise<{ reranker: Reranker; summary: RerankTrainSummary }> {
  const c = ctx.config.rerank;
  const stage = `rerank_${name}`;
  const dir = name === 'default' ? 'reranker' : `reranker-${name}`;
  const done = await ctx.doneSummary<RerankTrainSummary>(stage);
  if (done) {
    log(`${stage}: finished earlier; loading ${dir}/`);
    reranker.dispose();
    return { reranker: await Reranker.load(ctx.path(dir)), summary: done };
  }
  const groupsPerStep = c.batchSize * c.gradAccum;
  const ranks = o.ranks ?? c.negativeRanks;
  const groups = mineTrainingGroups(reranker, o.queries, o.corpus, o.index, {
    negatives: c.negatives,
    ranks,
    gradedNegatives: c.gradedNegatives,
    freshNegatives: c.freshNegatives,
    groupsNeeded: o.steps * groupsPerStep,
    augment: o.augment,
    seed: ctx.config.seed,
    name: stage,
  });
  logMining(stage, groups, o.queries.length, reranker.config.maxLength, ranks);
  checkGroups(groups.train);
  const trainable = rerankTrainable(ctx, reranker);
  const trained = await trainStage(ctx, {
    name: stage,
    model: reranker.model,
    rows: groups.train,
    rowsPerStep: groupsPerStep,
    stepLoss: rankingStepLoss(reranker, { loss: c.loss, microGroups: c.batchSize }),
    evaluate: groups.validation.length
      ? () => evaluateGroups(reranker, groups.validation, c.loss, c.batchSize)
      : undefined,
    schedule: c,
    steps: o.steps,
    trainable,
  });
  if (c.lora.enabled) mergeLora(reranker.model);
  await reranker.save(ctx.path(dir));
  const { report, tooLong } = groups;
  const summary: RerankTrainSummary = {
    collection: name,
    steps: o.steps,
    groups: groups.train.length,
    mining: { ...report, withoutPositive: report.withoutPositive.slice(0, 20) },
    tooLong: { count: tooLong.length, first: tooLong.slice(0, 20) },
    seconds: trained.seconds,
    tokensPerSecond: trained.tokensPerSecond,
    finalLoss: trained.finalLoss,
    evalAccuracy: trained.lastEval?.accuracy ?? null,
    dir,
    resumedFrom: trained.resumedFrom,
  };
  await ctx.markDone(stage, summary);
  return { reranker, summary };
}

function logMining(stage: string, g: MinedGroups, asked: number, maxLength: number, ranks: [number, number]): void {
  const c = g.report;
  if (g.tooLong.length)
    log(
      `${stage}: ${g.tooLong.length} of ${asked} training queries leave under ${g.room} tokens for the document in ` +
        `the ${maxLength}-token context; left out: ${g.tooLong.slice(0, 10).join(', ')}` +
        (g.tooLong.length > 10 ? ', …' : ''),
    );
  log(
    `${stage}: ${g.queries} queries → ${g.groupsPerRound} groups of 1 + ${g.train[0]?.negatives.length ?? 0}` +
      (g.rounds > 1 ? ` × ${g.rounds} rounds of fresh negatives` : '') +
      ` (BM25 ranks ${ranks.join('–')}; ${c.randomNegatives} random fill-ins, ${c.nearDuplicates} near-duplicates ` +
      `skipped), ${g.validation.length} held back for validation`,
  );
}

/** LoRA adapters (and the head), or every weight but the token embeddings, or every weight. */
function rerankTrainable(ctx: RunContext, reranker: Reranker): Map<string, tf.Variable> {
  const c = ctx.config.rerank;
  if (c.lora.enabled) {
    const lora = { r: c.lora.r, alpha: c.lora.alpha, dropout: c.lora.dropout, targetModules: c.lora.targets };
    const trainable = addLora(reranker.model, lora, ctx.config.seed);
    if (reranker.config.mode === 'head') trainable.set(HEAD_WEIGHT, reranker.model.param(HEAD_WEIGHT));
    return trainable;
  }
  return c.freezeEmbeddings ? withoutEmbeddings(reranker.model.params) : reranker.model.params;
}

/** Training queries for a collection from its corpus alone: templates, the chat model, or both. */
function syntheticQueries(
  ctx: RunContext,
  reranker: Reranker,
  collection: BeirCollection,
  index: Bm25Index,
): TrainingQuery[] {
  const c = ctx.config.rerank;
  const queries: TrainingQuery[] = [];
  if (c.syntheticQueries !== 'model')
    queries.push(...templateQueries(collection.corpus, { perDocument: c.queriesPerDocument, seed: ctx.config.seed }));
  if (c.syntheticQueries !== 'template') {
    const docs = new Rng(ctx.config.seed).shuffle([...collection.corpus.values()]).slice(0, 400);
    const made = generatedQueries(reranker.model, docs, {
      tokenizer: reranker.tokenizer,
      template: reranker.template,
      index,
    });
    log(
      `rerank ${collection.name}: the chat model wrote ${made.generated} queries, ` +
        `${made.kept} kept by the round-trip filter`,
    );
    queries.push(...made.queries);
  }
  log(`rerank ${collection.name}: ${queries.length} synthetic training queries (${c.syntheticQueries})`);
  return queries;
}

/** An independent copy of a model's weights, with its head (the tuned model stays as it is). */
async function copyOf(model: Llama): Promise<Llama> {
  return Llama.fromWeights(model.config, await model.weights(), 'model', [HEAD_WEIGHT]);
}

function sample<T>(items: Map<string, T>, n: number, seed: number): Map<string, T> {
  if (n === 0 || items.size <= n) return items;
  return new Map(
    new Rng(seed)
      .fork('eval-sample')
      .shuffle([...items])
      .slice(0, n),
  );
}

function uniqueName(name: string, taken: Record<string, unknown>): string {
  let out = name,
    k = 2;
  while (out in taken) out = `${name}-${k++}`;
  return out;
}
