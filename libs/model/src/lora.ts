import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@tunekit/data';
import { variableOf, type Llama } from './llama';
import { readSafetensors, writeFileAtomic, writeSafetensors, type NamedTensor } from './safetensors';

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: readonly (typeof LORA_TARGETS)[number][];
}

/** PEFT's key for an adapter matrix, so adapter files load in PEFT too. */
const peftKey = (projection: string, which: 'A' | 'B') => `base_model.model.${projection}.lora_${which}.weight`;

/**
 * Adds LoRA adapters to the target projections: A ~ U(±1/√in) (PEFT's Kaiming-uniform), B = 0, so the
 * model starts out unchanged; output += (alpha/r)·B·A·x. Returns the adapter variables by PEFT key,
 * the only ones to train.
 */
export function addLora(model: Llama, config: LoraConfig, seed: number): Map<string, tf.Variable> {
  if (config.r <= 0) throw new Error(`LoRA rank must be positive, got ${config.r}`);
  const unknown = config.targetModules.filter((t) => !LORA_TARGETS.includes(t));
  if (unknown.length)
    throw new Error(`unknown LoRA target modules ${unknown.join(', ')}; choose from ${LORA_TARGETS.join(', ')}`);
  const rng = new Rng(seed);
  const trainable = new Map<string, tf.Variable>();
  for (const [name, w] of model.params) {
    const m = /^(.*\.(\w+_proj))\.weight$/.exec(name);
    if (!m || !config.targetModules.includes(m[2] as LoraConfig['targetModules'][number])) continue;
    const [out, inFeatures] = w.shape;
    const bound = 1 / Math.sqrt(inFeatures);
    const a = variableOf(
      Float32Array.from({ length: config.r * inFeatures }, () => (2 * rng.next() - 1) * bound),
      [config.r, inFeatures],
    );
    const b = variableOf(new Float32Array(out * config.r), [out, config.r]);
    model.adapters.set(m[1], { a, b, scale: config.alpha / config.r, dropout: config.dropout });
    trainable.set(peftKey(m[1], 'A'), a);
    trainable.set(peftKey(m[1], 'B'), b);
  }
  if (trainable.size === 0) throw new Error('LoRA matched no projection');
  return trainable;
}

/** Folds every adapter into its base weight (W += scale·B·A) and removes the adapters, for export. */
export function mergeLora(model: Llama): void {
  for (const [projection, adapter] of model.adapters) {
    const w = model.params.get(`${projection}.weight`)!;
    const merged = tf.tidy(() => tf.add(w, tf.mul(tf.matMul(adapter.b, adapter.a), adapter.scale))); // [out, in]
    w.assign(merged);
    merged.dispose();
    adapter.a.dispose();
    adapter.b.dispose();
  }
  model.adapters.clear();
}

/** Writes `adapter_model.safetensors` + `adapter_config.json` (PEFT's layout). */
export async function saveAdapters(model: Llama, config: LoraConfig, dir: string, baseModel = ''): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors = new Map<string, NamedTensor>();
  for (const [projection, a] of model.adapters) {
    tensors.set(peftKey(projection, 'A'), { shape: a.a.shape, data: (await a.a.data()) as Float32Array });
    tensors.set(peftKey(projection, 'B'), { shape: a.b.shape, data: (await a.b.data()) as Float32Array });
  }
  await writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors);
  await writeFileAtomic(
    path.join(dir, 'adapter_config.json'),
    JSON.stringify(
      {
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        base_model_name_or_path: baseModel,
        r: config.r,
        lora_alpha: config.alpha,
        lora_dropout: config.dropout,
        target_modules: [...config.targetModules],
        bias: 'none',
        fan_in_fan_out: false,
      },
      null,
      2,
    ) + '\n',
  );
}

/** Loads adapters saved by `saveAdapters` (or PEFT) onto a model; returns them by PEFT key. */
export async function loadAdapters(
  model: Llama,
  dir: string,
): Promise<{ config: LoraConfig; trainable: Map<string, tf.Variable> }> {
  const json = JSON.parse(await readFile(path.join(dir, 'adapter_config.json'), 'utf8'));
  const config: LoraConfig = {
    r: json.r,
    alpha: json.lora_alpha,
    dropout: json.lora_dropout ?? 0,
    targetModules: json.target_modules,
  };
  const trainable = addLora(model, config, 0);
  const tensors = await readSafetensors(path.join(dir, 'adapter_model.safetensors'));
  for (const [key, v] of trainable) {
    const t = tensors.get(key);
    if (!t) throw new Error(`${dir}: adapter file lacks ${key}`);
    const next = tf.tensor(t.data, v.shape);
    v.assign(next);
    next.dispose();
  }
  return { config, trainable };
}
