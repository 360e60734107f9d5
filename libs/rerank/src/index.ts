export { evaluateRun, rankDocuments, type EvaluateOptions, type Evaluation } from './metrics';
export { pMrr, type PairRanking, type PMrrResult } from './pmrr';
export { Bm25Index, analyze, type Bm25Options } from './bm25';
export { DEFAULT_FORMAT, InputError, encodePair, type EncodedPair, type RerankFormat, type RerankPair } from './format';
export { HEAD_WEIGHT, Reranker, SCORE_MODES, type RerankerConfig, type ScoreMode, type ScoreOptions } from './reranker';
export { RANKING_LOSSES, listwiseLoss, pairwiseLoss, pointwiseLoss, rankingLoss, type RankingLoss } from './losses';
export { buildGroups, documentText, type GroupReport, type MiningOptions, type TrainingQuery } from './groups';
export { checkGroups, evaluateGroups, rankingStepLoss, type GroupEvaluation, type RankingGroup } from './train';
export { generatedQueries, templateQueries, type GeneratedQueryOptions, type TemplateQueryOptions } from './synthetic';
export { evaluatePairs, firstStage, fuseRuns, rerankRun, type EvalQuery, type PairEvaluation } from './evaluate';
export { OnnxScorer, type ScoredPairs } from './onnx-scorer';
export { inventName, substituteEntities, substituteEntity } from './augment';
export {
  factTrainingQueries,
  mineTrainingGroups,
  type DocumentFacet,
  type FactQueryOptions,
  type FactSplit,
  type GroupMiningOptions,
  type MinedGroups,
} from './training-queries';
