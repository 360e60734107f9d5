export { evaluateRun, rankDocuments, type EvaluateOptions, type Evaluation } from './metrics';
