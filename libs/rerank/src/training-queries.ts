import { Rng, type BeirDocument, type BeirQuery, type InstructionPair, type Qrels } from '@tunekit/data';
import type { Bm25Index } from './bm25';
import { InputError } from './format';
import { buildGroups, type GroupReport, type TrainingQuery } from './groups';
import type { Reranker } from './reranker';
import type { RankingGroup } from './train';

/** Whose a document is and which of their facts it states, in a collection of facts about entities. */
export interface DocumentFacet {
  entity: string;
  facet: string;
}

/** Judged queries and instruction pairs of a collection whose documents each state facts about one entity. */
export interface FactSplit {
  queries: Map<string, BeirQuery>;
  qrels: Qrels;
  pairs: readonly InstructionPair[];
}

export interface FactQueryOptions {
  /** Where a document sits: documents without a facet are never contrast negatives. */
  facetOf: (documentId: string) => DocumentFacet | undefined;
  /**
   * How many times the queries of a kind (query metadata `kind`) are asked: kinds that are few next to the others
   * (questions by value, one per value). They ask across entities, so they get no contrast negatives.
   */
  repeatKinds?: Record<string, number>;
  /** How many times each instruction pair is asked, under each of its instructions (default 2: pairs are few). */
  pairRepeats?: number;
  /** The grade of the document that answers a question about one fact (default 2). */
  answerGrade?: number;
  seed: number;
}

/**
 * Training queries for a collection of facts about entities, judged only on `corpus` (documents outside it are left
 * out of the judgments: training sees only the training entities' documents). A question about one fact of one entity
 * is contrasted with the same fact of another entity and another fact of the same entity, so neither the name nor the
 * kind of fact alone can answer it. Each instruction pair is asked under its original instruction, and under the
 * altered one with the documents it excludes as preferred negatives.
 */
export function factTrainingQueries(
  split: FactSplit,
  corpus: Map<string, BeirDocument>,
  o: FactQueryOptions,
): TrainingQuery[] {
  const judged = (qrels: Map<string, number>) => new Map([...qrels].filter(([d]) => corpus.has(d)));
  const contrast = contrastNegatives(corpus, o);
  const queries = [...split.queries.values()].flatMap((q): TrainingQuery[] => {
    const relevant = judged(split.qrels.get(q.id)!);
    const repeats = o.repeatKinds?.[String(q.metadata?.kind)];
    if (repeats) return Array.from({ length: repeats }, (_, k) => ({ id: `${q.id}:${k}`, text: q.text, relevant }));
    return [{ id: q.id, text: q.text, relevant, ...contrast(relevant) }];
  });
  for (const p of split.pairs) {
    const [original, altered] = [judged(p.original.qrels), judged(p.altered.qrels)];
    if (altered.size === 0) continue;
    const changed = [...original.keys()].filter((d) => !altered.has(d));
    for (let k = 0; k < (o.pairRepeats ?? 2); k++) {
      queries.push({ id: `${p.id}:og${k}`, text: p.query, instruction: p.original.instruction, relevant: original });
      queries.push({
        id: `${p.id}:alt${k}`,
        text: p.query,
        instruction: p.altered.instruction,
        relevant: altered,
        preferNegatives: changed,
      });
    }
  }
  return queries;
}

/** For a question's judgments: the same facet of another entity and another facet of the same entity. */
function contrastNegatives(
  corpus: Map<string, BeirDocument>,
  o: FactQueryOptions,
): (relevant: Map<string, number>) => Pick<TrainingQuery, 'preferNegatives'> {
  const rng = new Rng(o.seed).fork('rerank-queries');
  const documents = [...corpus.keys()].map((id) => ({ id, ...o.facetOf(id) }));
  return (relevant) => {
    const answer = [...relevant].find(([, grade]) => grade === (o.answerGrade ?? 2))?.[0];
    const where = answer === undefined ? undefined : o.facetOf(answer);
    if (!where) return {};
    const unjudged = documents.filter((d) => !relevant.has(d.id));
    const otherEntity = rng.pick(unjudged.filter((d) => d.facet === where.facet)).id;
    const otherFacet = rng.pick(unjudged.filter((d) => d.entity === where.entity)).id;
    return { preferNegatives: [otherEntity, otherFacet] };
  };
}

export interface GroupMiningOptions {
  /** Negatives per group, and the BM25 ranks (1-based, inclusive) they are sampled from. */
  negatives: number;
  ranks: [number, number];
  gradedNegatives: boolean;
  /** Groups the training will read: with fresh negatives, a round of mining per pass over the queries (at most 10). */
  groupsNeeded: number;
  freshNegatives: boolean;
  /** Rewrites a round's groups (entity substitution), seeded by the round. */
  augment?: (groups: RankingGroup[], seed: number) => RankingGroup[];
  seed: number;
  /** Names the training (the stage) in messages, and seeds its own shuffle of the queries. */
  name: string;
}

export interface MinedGroups {
  train: RankingGroup[];
  /** Groups of held-back queries (whole queries, never in training), for validation. */
  validation: RankingGroup[];
  /** The first round's mining report. */
  report: GroupReport;
  rounds: number;
  /** Queries kept after those too long for the context are left out. */
  queries: number;
  groupsPerRound: number;
  /** Queries that leave under `room` tokens for the document in the model's context, left out. */
  tooLong: string[];
  room: number;
}

/**
 * Ranking groups for training a reranker on `queries`: queries that leave too little room for a document in the
 * model's context are left out (a query is never cut), 5 % of the rest (at most 64) are held back for validation,
 * and the others get BM25 hard negatives, freshly mined for each pass over them.
 */
export function mineTrainingGroups(
  reranker: Reranker,
  queries: readonly TrainingQuery[],
  corpus: Map<string, BeirDocument>,
  index: Bm25Index,
  o: GroupMiningOptions,
): MinedGroups {
  const room = Math.min(32, reranker.config.maxDocTokens);
  const fits = fitsContext(reranker, room);
  const tooLong = new Set(queries.filter((q) => !fits(q)).map((q) => q.id));
  const kept = new Rng(o.seed).fork(o.name).shuffle(queries.filter((q) => !tooLong.has(q.id)));
  const held = Math.min(64, Math.floor(kept.length * 0.05));
  const mine = (qs: TrainingQuery[], round: number) => {
    const seed = o.seed + round;
    const mining = { negatives: o.negatives, ranks: o.ranks, gradedNegatives: o.gradedNegatives, seed };
    const { groups, report } = buildGroups(qs, corpus, index, mining);
    return { groups: o.augment ? o.augment(groups, seed) : groups, report };
  };
  const [heldQueries, trainQueries] = [kept.slice(0, held), kept.slice(held)];
  const validation = mine(heldQueries, 0).groups;
  const passes = Math.ceil(o.groupsNeeded / Math.max(1, trainQueries.length));
  const rounds = o.freshNegatives ? Math.min(10, Math.max(1, passes)) : 1;
  const mined = Array.from({ length: rounds }, (_, r) => mine(trainQueries, r));
  const train = mined.flatMap((m) => m.groups);
  const report = mined[0].report;
  if (train.length === 0)
    throw new Error(
      `${o.name}: no training groups (${report.withoutPositive.length} queries without a relevant document, ` +
        `${tooLong.size} too long for the context)`,
    );
  const groupsPerRound = mined[0].groups.length;
  return { train, validation, report, rounds, queries: kept.length, groupsPerRound, tooLong: [...tooLong], room };
}

/** Whether a query (with its instruction) leaves `room` tokens for the document in the model's context. */
function fitsContext(reranker: Reranker, room: number): (q: TrainingQuery) => boolean {
  return (q) => {
    try {
      const ids = reranker.encode({ instruction: q.instruction, query: q.text, document: '' }).ids;
      return ids.length + room <= reranker.config.maxLength;
    } catch (err) {
      if (err instanceof InputError) return false;
      throw err;
    }
  };
}
