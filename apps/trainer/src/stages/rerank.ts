import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { buildFactRetrieval, loadCountries } from '@tunekit/corpora';
import { Rng, readBeir, writeBeir, type BeirCollection, type TextTokenizer } from '@tunekit/data';
import { DEFAULT_OPTIMIZER, Llama, addLora, mergeLora } from '@tunekit/model';
import {
  Bm25Index,
  HEAD_WEIGHT,
  InputError,
  Reranker,
  buildGroups,
  generatedQueries,
  substituteEntities,
  templateQueries,
  trainReranker,
  type GroupReport,
  type RankingGroup,
  type TrainingQuery,
} from '@tunekit/rerank';
import {
  evaluateCollection,
  evaluateInstructionPairs,
  type PairsResult,
  type RetrievalResult,
} from '../eval/retrieval-eval';
import { log, progress } from '../progress';
import type { RunContext } from '../run-context';
import { withoutEmbeddings } from './train-model';

export interface RerankTrainSummary {
  collection: string;
  steps: number;
  groups: number;
  mining: GroupReport;
  /** Training queries left out because they leave too little room for a document in the context (the first 20 listed). */
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
  let reranker =
    start.reranker ??
    Reranker.create(
      await copyOf(start.model!),
      start.tokenizer,
      { mode: c.mode, maxDocTokens: c.maxDocTokens, markQueryTerms: c.markQueryTerms },
      ctx.config.seed,
    );
  log(
    `rerank: ${start.reranker ? 'trained reranker from --from' : 'new reranker on the tuned model'}, ${reranker.config.mode} scoring, documents cut to ${reranker.config.maxDocTokens} tokens, inputs up to ${reranker.config.maxLength}`,
  );

  if (c.defaultCollection) {
    const facts = buildFactRetrieval({ seed: ctx.config.seed, heldOutFraction: ctx.config.data.heldOutFraction });
    const dir = ctx.path('rerank', 'default');
    await writeBeir(dir, { corpus: facts.corpus, queries: facts.test.queries, qrels: facts.test.qrels });
    await writeFile(
      path.join(dir, 'instruction-pairs.jsonl'),
      facts.test.pairs
        .map((p) =>
          JSON.stringify({
            id: p.id,
            query: p.query,
            original: { instruction: p.original.instruction, qrels: Object.fromEntries(p.original.qrels) },
            altered: { instruction: p.altered.instruction, qrels: Object.fromEntries(p.altered.qrels) },
          }),
        )
        .join('\n') + '\n',
    );
    const index = new Bm25Index(facts.corpus.values());
    if (c.train) {
      // Training sees only the training countries' documents: were the held-out countries' documents in it, they
      // would only ever be negatives, and the model would learn to push them down.
      const trainIds = new Set(facts.entities.train);
      const inTrain = (doc: string) => trainIds.has(doc.split('-')[0]);
      const corpus = new Map([...facts.corpus].filter(([id]) => inTrain(id)));
      const trainIndex = new Bm25Index(corpus.values());
      const ids = [...corpus.keys()];
      const only = (qrels: Map<string, number>) => new Map([...qrels].filter(([d]) => inTrain(d)));
      const rng = new Rng(ctx.config.seed).fork('rerank-queries');
      const queries: TrainingQuery[] = [...facts.train.queries.values()].flatMap((q) => {
        const relevant = only(facts.train.qrels.get(q.id)!);
        // questions by value are few (one per value) next to questions by fact: each is asked three times
        if (q.metadata?.kind === 'value') return [0, 1, 2].map((k) => ({ id: `${q.id}:${k}`, text: q.text, relevant }));
        // a question about one fact of one country: contrast both the same fact of another country and another
        // fact of the same country, so neither the name nor the kind of fact alone can answer
        const passage = [...relevant].find(([, g]) => g === 2)?.[0];
        if (!passage) return [{ id: q.id, text: q.text, relevant }];
        const [country, fact] = [passage.slice(0, 2), passage.slice(3)];
        const otherCountry = rng.pick(ids.filter((d) => d.endsWith(`-${fact}`) && !relevant.has(d)));
        const otherFact = rng.pick(ids.filter((d) => d.startsWith(`${country}-`) && !relevant.has(d)));
        return [{ id: q.id, text: q.text, relevant, preferNegatives: [otherCountry, otherFact] }];
      });
      // each pair under its original instruction, and under the altered one with the documents it excludes as
      // negatives; twice, as pairs are few next to the questions
      for (const p of facts.train.pairs) {
        const [original, altered] = [only(p.original.qrels), only(p.altered.qrels)];
        if (altered.size === 0) continue;
        const changed = [...original.keys()].filter((d) => !altered.has(d));
        for (let k = 0; k < 2; k++) {
          queries.push({
            id: `${p.id}:og${k}`,
            text: p.query,
            instruction: p.original.instruction,
            relevant: original,
          });
          queries.push({
            id: `${p.id}:alt${k}`,
            text: p.query,
            instruction: p.altered.instruction,
            relevant: altered,
            preferNegatives: changed,
          });
        }
      }
      const steps = Math.max(1, Math.ceil((queries.length * c.epochs) / (c.batchSize * c.gradAccum)));
      // every document of this collection is judged, so the top BM25 ranks hold no unjudged relevant ones: mine from rank 1
      // the held-out countries' names never occur in training; with the query's terms marked in the documents
      // (rerank.markQueryTerms) the model learns to match them, and entity substitution, the older remedy, is off
      const substitutes = c.entitySubstitution > 0 || c.otherEntitySubstitution > 0;
      const names = substitutes
        ? loadCountries()
            .filter((f) => trainIds.has(f.id))
            .map((f) => f.name)
        : [];
      const augment = substitutes
        ? (groups: RankingGroup[], seed: number) => {
            const out = substituteEntities(groups, names, {
              share: c.entitySubstitution,
              others: c.otherEntitySubstitution,
              seed,
            });
            log(
              `rerank_default: ${out.substituted} of ${groups.length} groups with an invented name in place of the query's country (rerank.entitySubstitution ${c.entitySubstitution}), ${out.othersSubstituted} other countries renamed in them (rerank.otherEntitySubstitution ${c.otherEntitySubstitution})`,
            );
            return out.groups;
          }
        : undefined;
      ({ reranker, summary: result.training.default } = await train(ctx, reranker, 'default', {
        corpus,
        index: trainIndex,
        queries,
        steps,
        ranks: [1, c.negativeRanks[1]],
        augment,
      }));
    }
    const test: BeirCollection = {
      name: 'default',
      corpus: facts.corpus,
      queries: sample(facts.test.queries, c.evalQueries, ctx.config.seed),
      qrels: facts.test.qrels,
    };
    result.eval.default = await evaluateCollection(ctx, reranker, test, index, 'default');
    result.pairs = await evaluateInstructionPairs(
      ctx,
      reranker,
      facts.corpus,
      index,
      c.evalPairs ? new Rng(ctx.config.seed).shuffle([...facts.test.pairs]).slice(0, c.evalPairs) : facts.test.pairs,
    );
  }

  for (const dir of c.collections) {
    const collection = await readBeir(dir);
    const name = uniqueName(collection.name, result.eval);
    const index = new Bm25Index(collection.corpus.values());
    log(
      `rerank ${name}: ${collection.corpus.size} documents, ${collection.qrels.size} judged queries (never trained on)`,
    );
    let adapted = reranker;
    if (c.train) {
      const queries = syntheticQueries(ctx, reranker, collection, index);
      const copy = Reranker.create(await copyOf(reranker.model), reranker.tokenizer, reranker.config);
      ({ reranker: adapted, summary: result.training[name] } = await train(ctx, copy, name, {
        corpus: collection.corpus,
        index,
        queries,
        steps: c.collectionSteps,
      }));
    }
    const judged = new Map([...collection.queries].filter(([id]) => collection.qrels.has(id)));
    result.eval[name] = await evaluateCollection(ctx, adapted, { ...collection, queries: judged }, index, name);
    if (adapted !== reranker) adapted.dispose();
  }
  for (const [name, t] of Object.entries(result.training))
    log(
      `rerank ${name}: trained ${t.steps} steps on ${t.groups} groups, validation accuracy ${t.evalAccuracy === null ? '—' : `${(100 * t.evalAccuracy).toFixed(1)}%`}`,
    );
  reranker.dispose();
  return result;
}

/** Trains on the groups mined for `queries`, saves the reranker under reranker/ (or reranker-<name>/). */
async function train(
  ctx: RunContext,
  reranker: Reranker,
  name: string,
  o: {
    corpus: BeirCollection['corpus'];
    index: Bm25Index;
    queries: TrainingQuery[];
    steps: number;
    ranks?: [number, number];
    augment?: (groups: RankingGroup[], seed: number) => RankingGroup[];
  },
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
  const ranks = o.ranks ?? c.negativeRanks;
  // a query that leaves no room for a document in the model's context cannot be trained on (it is never cut)
  const room = Math.min(32, reranker.config.maxDocTokens);
  const fits = (q: TrainingQuery) => {
    try {
      return (
        reranker.encode({ instruction: q.instruction, query: q.text, document: '' }).ids.length + room <=
        reranker.config.maxLength
      );
    } catch (err) {
      if (err instanceof InputError) return false;
      throw err;
    }
  };
  const tooLong = new Set(o.queries.filter((q) => !fits(q)).map((q) => q.id));
  if (tooLong.size)
    log(
      `${stage}: ${tooLong.size} of ${o.queries.length} training queries leave under ${room} tokens for the document in the ${reranker.config.maxLength}-token context; left out: ${[...tooLong].slice(0, 10).join(', ')}${tooLong.size > 10 ? ', …' : ''}`,
    );
  // validation holds back whole queries, so that no round of fresh negatives puts a held-back query in training
  const queries = new Rng(ctx.config.seed).fork(stage).shuffle(o.queries.filter((q) => !tooLong.has(q.id)));
  const held = Math.min(64, Math.floor(queries.length * 0.05));
  const mine = (qs: TrainingQuery[], round: number) => {
    const seed = ctx.config.seed + round;
    const { groups, report } = buildGroups(qs, o.corpus, o.index, {
      negatives: c.negatives,
      ranks,
      gradedNegatives: c.gradedNegatives,
      seed,
    });
    return { groups: o.augment ? o.augment(groups, seed) : groups, report };
  };
  const [heldQueries, trainQueries] = [queries.slice(0, held), queries.slice(held)];
  const evalGroups = mine(heldQueries, 0).groups;
  // with rerank.freshNegatives, each pass over the queries gets its own negatives (and invented names)
  const rounds = c.freshNegatives
    ? Math.min(10, Math.max(1, Math.ceil((o.steps * c.batchSize * c.gradAccum) / Math.max(1, trainQueries.length))))
    : 1;
  const mined = Array.from({ length: rounds }, (_, r) => mine(trainQueries, r));
  const report = mined[0].report;
  const trainGroups = mined.flatMap((m) => m.groups);
  if (trainGroups.length === 0)
    throw new Error(
      `${stage}: no training groups (${report.withoutPositive.length} queries without a relevant document, ${tooLong.size} too long for the context)`,
    );
  log(
    `${stage}: ${queries.length} queries → ${mined[0].groups.length} groups of 1 + ${c.negatives}${rounds > 1 ? ` × ${rounds} rounds of fresh negatives` : ''} (BM25 ranks ${ranks.join('–')}; ${report.randomNegatives} random fill-ins, ${report.nearDuplicates} near-duplicates skipped), ${evalGroups.length} held back for validation`,
  );

  let trainable: Map<string, tf.Variable> = reranker.model.params;
  if (c.lora.enabled) {
    trainable = addLora(
      reranker.model,
      { r: c.lora.r, alpha: c.lora.alpha, dropout: c.lora.dropout, targetModules: c.lora.targets },
      ctx.config.seed,
    );
    if (reranker.config.mode === 'head') trainable.set(HEAD_WEIGHT, reranker.model.p(HEAD_WEIGHT));
  } else if (c.freezeEmbeddings) trainable = withoutEmbeddings(trainable);
  const resumeFrom = ctx.config.resume ? await ctx.latestCheckpoint(stage) : undefined;
  if (ctx.config.resume)
    await ctx.dropMetricsAfter(stage, resumeFrom ? Number(/checkpoint-(\d+)$/.exec(resumeFrom)![1]) : 0);
  const bar = progress(stage, o.steps);
  const started = performance.now();
  let tokens = 0,
    lastLoss = NaN;
  const result = await trainReranker({
    reranker,
    groups: trainGroups,
    loss: c.loss,
    steps: o.steps,
    groupsPerStep: c.batchSize * c.gradAccum,
    microGroups: c.batchSize,
    seed: ctx.config.seed,
    trainable,
    optimizer: {
      ...DEFAULT_OPTIMIZER,
      lr: c.lr,
      warmupSteps: Math.min(c.warmupSteps, Math.floor(o.steps / 2)),
      totalSteps: o.steps,
      minLrRatio: c.minLrRatio,
      weightDecay: c.weightDecay,
      clipNorm: c.clipNorm,
    },
    evalGroups,
    evalEvery: c.evalEvery,
    checkpointDir: ctx.path('checkpoints', stage),
    checkpointEvery: c.checkpointEvery,
    resumeFrom,
    onStep: (step, r) => {
      tokens += r.tokens;
      lastLoss = r.loss;
      const rate = tokens / ((performance.now() - started) / 1000);
      ctx.metric(stage, step, { loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: rate });
      if (step % 20 === 0) void ctx.flush();
      bar.update(step, { loss: r.loss.toFixed(3), lr: r.lr.toExponential(1), 'tok/s': Math.round(rate) });
    },
    onEval: (step, e) => ctx.metric(stage, step, { eval_loss: e.loss, eval_accuracy: e.accuracy }),
    beforeCheckpoint: () => ctx.flush(),
    onCheckpoint: (step, where) => ctx.sink?.checkpoint(stage, step, where),
  });
  await ctx.flush();
  const seconds = (performance.now() - started) / 1000;
  const evalAccuracy = result.evals.at(-1)?.accuracy ?? null;
  bar.finish(
    `loss ${lastLoss.toFixed(3)}${evalAccuracy !== null ? `, validation accuracy ${(100 * evalAccuracy).toFixed(1)}%` : ''}`,
  );
  if (c.lora.enabled) mergeLora(reranker.model);
  await reranker.save(ctx.path(dir));
  const summary: RerankTrainSummary = {
    collection: name,
    steps: o.steps,
    groups: trainGroups.length,
    mining: { ...report, withoutPositive: report.withoutPositive.slice(0, 20) },
    tooLong: { count: tooLong.size, first: [...tooLong].slice(0, 20) },
    seconds,
    tokensPerSecond: tokens / seconds,
    finalLoss: result.history.at(-1)?.loss ?? lastLoss,
    evalAccuracy,
    dir,
    resumedFrom: resumeFrom ?? null,
  };
  await ctx.markDone(stage, summary);
  return { reranker, summary };
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
      `rerank ${collection.name}: the chat model wrote ${made.generated} queries, ${made.kept} kept by the round-trip filter`,
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
