export { BACKENDS, describeBackend, selectBackend, type BackendChoice, type BackendName } from './backend';
export { parseConfig, toHfConfig, type LlamaConfig } from './config';
export {
  Block,
  CausalSelfAttention,
  Linear,
  Llama,
  MLP,
  RMSNorm,
  parameterShapes,
  variableOf,
  type Adapter,
  type AttentionContext,
  type KVCache,
  type LayerKV,
  type ModelInputs,
  type PastKV,
  type PrefixKV,
} from './llama';
export { gatherRows, rotaryTables } from './ops';
export { OnnxBuilder, exportOnnx, type OnnxGraph } from './onnx';
export { loadModel, saveModel } from './hf-directory';
export { readModelWeights, readSafetensors, writeSafetensors, type NamedTensor } from './safetensors';
export {
  AdamW,
  DEFAULT_OPTIMIZER,
  clipGradients,
  clipScale,
  globalNorm,
  learningRate,
  type AdamWState,
  type OptimizerConfig,
} from './optim';
export {
  NonFiniteError,
  batchLoss,
  trainingLoss,
  loadCheckpoint,
  optimizerStep,
  rowsToBatch,
  saveCheckpoint,
  takeRows,
  trainStep,
  trainedTargets,
  languageModelLoss,
  type StepLoss,
  type DataCursor,
  type StepResult,
  type TrainBatch,
  type TrainerState,
} from './train';
export {
  evaluateRows,
  languageModelStepLoss,
  trainLoop,
  type Evaluation,
  type StepReport,
  type TrainLoopOptions,
  type TrainLoopResult,
} from './loop';
export { generate, type GenerateOptions, type Generation } from './generate';
export { LORA_TARGETS, addLora, loadAdapters, mergeLora, saveAdapters, type LoraConfig } from './lora';
