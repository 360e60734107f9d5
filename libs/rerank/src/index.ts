export { evaluateRun, type Evaluation } from './metrics';

export { Bm25Index } from './bm25';
export { DEFAULT_FORMAT, InputError, encodePair, type RerankPair } from './format';
export { HEAD_WEIGHT, Reranker, SCORE_MODES, type RerankerConfig } from './reranker';
export { RANKING_LOSSES } from './losses';
export type { GroupReport, TrainingQuery } from './groups';
export { checkGroups, evaluateGroups, rankingStepLoss, type RankingGroup } from './train';
export { generatedQueries, templateQueries } from './synthetic';
export { evaluatePairs, firstStage, fuseRuns, rerankRun, type EvalQuery } from './evaluate';
export { OnnxScorer, type ScoredPairs } from './onnx-scorer';
export { substituteEntities } from './augment';
export { factTrainingQueries, mineTrainingGroups, type MinedGroups } from './training-queries';
