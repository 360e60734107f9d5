export { describeBackend, selectBackend, type BackendName } from './backend';
export { parseConfig, type LlamaConfig } from './config';
export { Llama, variableOf, type KVCache, type PrefixKV } from './llama';
export { gatherRows, rotaryTables } from './ops';
export { exportOnnx } from './onnx';
export { loadModel, saveModel } from './hf-directory';

export { AdamW, DEFAULT_OPTIMIZER, type OptimizerConfig } from './optim';
export { NonFiniteError, rowsToBatch, trainStep, type StepLoss } from './train';
export { evaluateRows, languageModelStepLoss, trainLoop, type Evaluation } from './loop';
export { generate } from './generate';
export { LORA_TARGETS, addLora, mergeLora, saveAdapters, type LoraConfig } from './lora';
