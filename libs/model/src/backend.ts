import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useNativeGemm } from './native-gemm';

/** Backends in the order we try them: native GPU, native CPU, WebAssembly, pure JavaScript. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendChoice {
  /** The backend now active. */
  name: BackendName;
  /** Why it was chosen. */
  reason: string;
  /** Earlier backends in the order that were not used, and why. */
  skipped: { name: BackendName; reason: string }[];
}

const require = createRequire(import.meta.url);
let gemm: { active: boolean; reason: string } | undefined;

/** Loads one backend; throws with a readable reason when it cannot run here. */
async function load(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      try {
        require.resolve(pkg);
      } catch {
        throw new Error(
          `${pkg} is not installed (an optional dependency: it needs libtensorflow, which npm could not download here)`,
        );
      }
      await import(pkg); // registers the native "tensorflow" backend
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not initialise`);
      return;
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(`${dist}${path.sep}`);
      wasm.setThreadsCount(1); // the threaded build does not start in Node
      if (!(await tf.setBackend('wasm'))) throw new Error('the WebAssembly backend did not initialise');
      gemm = useNativeGemm();
      return;
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
  }
}

/**
 * Activates the first backend that works, in `BACKENDS` order, or exactly `preferred` when given
 * (an error if it cannot run). Importing this library never fails because a native backend is
 * missing: native packages are loaded here, on demand.
 */
export async function selectBackend(preferred?: BackendName): Promise<BackendChoice> {
  if (preferred !== undefined && !BACKENDS.includes(preferred)) {
    throw new Error(`unknown backend "${preferred}"; choose one of ${BACKENDS.join(', ')}`);
  }
  const skipped: BackendChoice['skipped'] = [];
  for (const name of preferred ? [preferred] : BACKENDS) {
    try {
      await load(name);
      await tf.ready();
      const reason = preferred
        ? 'requested'
        : skipped.length
          ? `first available (${skipped.map((s) => s.name).join(', ')} unavailable)`
          : 'first in order';
      return { name, reason, skipped };
    } catch (err) {
      if (preferred) throw new Error(`backend "${preferred}" cannot run here: ${(err as Error).message}`);
      skipped.push({ name, reason: (err as Error).message });
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** One line for logs: which backend runs and why the earlier ones did not. */
export function describeBackend(choice: BackendChoice): string {
  const skipped = choice.skipped.map((s) => `\n  skipped ${s.name}: ${s.reason}`).join('');
  const products = gemm?.active ? gemm.reason : `WebAssembly GEMM, native one unavailable: ${gemm?.reason}`;
  const simd = choice.name === 'wasm' ? ` (SIMD, 1 thread; matrix products: ${products})` : '';
  return `backend: ${choice.name}${simd}, ${choice.reason}${skipped}`;
}
