import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseConfig, toHfConfig, type LlamaConfig } from './config';
import { Llama } from './llama';
import { readModelWeights, writeFileAtomic, writeSafetensors } from './safetensors';

/**
 * Loads a Hugging Face model directory (config.json + model.safetensors or sharded); weights named
 * in `extra` (a task head) are loaded too when present.
 */
export async function loadModel(dir: string, options: { extra?: readonly string[] } = {}): Promise<Llama> {
  const configFile = path.join(dir, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(`${configFile}: ${missing ? 'not found (is this a model directory?)' : (err as Error).message}`);
  }
  const config: LlamaConfig = parseConfig(json, configFile);
  const weights = await readModelWeights(dir);
  return Llama.fromWeights(config, weights, dir, options.extra);
}

/** Writes config.json and model.safetensors (F32, names sorted), each atomically. */
export async function saveModel(model: Llama, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeSafetensors(path.join(dir, 'model.safetensors'), await model.weights());
  await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(toHfConfig(model.config), null, 2) + '\n');
}
