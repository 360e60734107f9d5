import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';

interface GemmAddon {
  supported: boolean;
  sgemm(
    buffer: ArrayBuffer,
    a: number,
    b: number,
    c: number,
    batch: number,
    strideA: number,
    strideB: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
  ): void;
}

/** What the wasm backend needs from its internals to work on its heap in place. */
interface WasmBackendInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

let state: { active: boolean; reason: string } | undefined;

function loadAddon(): GemmAddon | string {
  try {
    const addon = createRequire(import.meta.url)('@tunekit/gemm-native') as GemmAddon;
    return addon.supported ? addon : 'this CPU lacks AVX2/FMA';
  } catch (err) {
    return `the addon did not build or load (${(err as Error).message.split('\n')[0]})`;
  }
}

/**
 * Routes the wasm backend's BatchMatMul through the native AVX2/FMA GEMM, reading and writing the
 * WebAssembly heap in place. Idempotent; when the addon is missing (no compiler at install time, or
 * another CPU) the WebAssembly kernel stays and `reason` says why.
 */
export function useNativeGemm(): { active: boolean; reason: string } {
  if (state) return state;
  if (process.env.TUNEKIT_NATIVE_GEMM === '0')
    return (state = { active: false, reason: 'turned off with TUNEKIT_NATIVE_GEMM=0' });
  const addon = loadAddon();
  if (typeof addon === 'string') return (state = { active: false, reason: addon });
  const original = tf.getKernel('BatchMatMul', 'wasm');
  if (!original) return (state = { active: false, reason: 'the wasm backend is not registered' });
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    setupFunc: original.setupFunc,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      const backend = args.backend as unknown as WasmBackendInternals;
      const ra = a.shape.length,
        rb = b.shape.length;
      const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const sameBatch = a.shape.slice(0, -2).join() === b.shape.slice(0, -2).join();
      // Equal batch shapes, or one side a single matrix; anything else goes to the original kernel.
      if (
        a.dtype !== 'float32' ||
        b.dtype !== 'float32' ||
        !(sameBatch || (batchA === 1 && ra <= rb) || (batchB === 1 && rb <= ra))
      ) {
        return original.kernelFunc(args);
      }
      const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
      const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
      const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
      const batchShape = (batchA >= batchB ? a : b).shape.slice(0, -2);
      const batch = Math.max(batchA, batchB);
      const out = backend.makeOutput([...batchShape, m, n], 'float32');
      const offset = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
      addon.sgemm(
        backend.wasm.HEAPU8.buffer as ArrayBuffer,
        offset(a),
        offset(b),
        offset(out),
        batch,
        batchA === 1 ? 0 : m * k,
        batchB === 1 ? 0 : k * n,
        m,
        n,
        k,
        transposeA,
        transposeB,
      );
      return out;
    },
  });
  return (state = { active: true, reason: 'native AVX2/FMA GEMM on the wasm heap' });
}

/** True when matMul's transpose flags cost nothing (the native GEMM serves the active wasm backend). */
export function transposeFlagsAreFree(): boolean {
  return state?.active === true && tf.getBackend() === 'wasm';
}
