export { BACKENDS, describeBackend, selectBackend, type BackendChoice, type BackendName } from './backend';
export { parseConfig, toHfConfig, type LlamaConfig } from './config';
export { Llama, parameterShapes, type Adapter, type KVCache, type ModelInputs } from './llama';
export { loadModel, saveModel } from './checkpoint';
export { readModelWeights, readSafetensors, writeSafetensors, type NamedTensor } from './safetensors';
