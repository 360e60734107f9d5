import * as tf from '@tensorflow/tfjs';

interface WasmInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}
interface CpuInternals {
  data: { get(dataId: object): { values?: Float32Array } | undefined };
}

/**
 * A Float32Array over a float32 tensor's own storage on the wasm heap or in the cpu backend, to
 * update parameters in place (no copies, no new tensors). Undefined on other backends. The view is
 * valid until the next tf call that may grow the heap: use it at once.
 */
export function storageOf(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const backend = tf.backend() as unknown;
  const name = tf.getBackend();
  const dataId = (t as unknown as { dataId: object }).dataId;
  if (name === 'wasm') {
    const info = (backend as WasmInternals).dataIdMap.get(dataId);
    if (!info) return undefined;
    return new Float32Array((backend as WasmInternals).wasm.HEAPU8.buffer, info.memoryOffset, t.size);
  }
  if (name === 'cpu') {
    const values = (backend as CpuInternals).data.get(dataId)?.values;
    return values instanceof Float32Array && values.length === t.size ? values : undefined;
  }
  return undefined;
}
