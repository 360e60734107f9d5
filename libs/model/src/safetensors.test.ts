import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend';
import { loadModel, saveModel } from './hf-directory';
import { readModelWeights, readSafetensors, writeSafetensors } from './safetensors';

const peer = path.join(import.meta.dirname, 'testing/peer/gqa-untied');

/** A safetensors file with 16-bit tensors, written by hand (as transformers writes them). */
function halfFile(tensors: Record<string, { dtype: 'F16' | 'BF16'; shape: number[]; bits: number[] }>): Buffer {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + 2 * t.bits.length] };
    offset += 2 * t.bits.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length));
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) for (const b of t.bits) at = out.writeUInt16LE(b, at);
  return out;
}

describe.each(['wasm', 'cpu'] as const)('checkpoints on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it('save → load → save gives byte-identical safetensors, and a valid HF directory', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ckpt-'));
    const model = await loadModel(peer);
    await saveModel(model, path.join(dir, 'a'));
    const again = await loadModel(path.join(dir, 'a'));
    await saveModel(again, path.join(dir, 'b'));
    const [a, b] = await Promise.all(['a', 'b'].map((d) => readFile(path.join(dir, d, 'model.safetensors'))));
    expect(a.equals(b)).toBe(true);
    const config = JSON.parse(await readFile(path.join(dir, 'a', 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      num_key_value_heads: 2,
      hidden_act: 'silu',
    });
    // the peer's tensors survive unchanged
    const original = await readSafetensors(path.join(peer, 'model.safetensors'));
    const saved = await readSafetensors(path.join(dir, 'a', 'model.safetensors'));
    for (const [name, t] of original) expect(saved.get(name)!.data).toEqual(t.data);
    model.dispose();
    again.dispose();
  });

  it('reads F16 and BF16 tensors', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'half-'));
    const file = path.join(dir, 'half.safetensors');
    // 1.0, -2.0, 0.5, 65504 in F16; 1.0, -2.0, 3.140625 in BF16
    await writeFile(
      file,
      halfFile({
        h: { dtype: 'F16', shape: [2, 2], bits: [0x3c00, 0xc000, 0x3800, 0x7bff] },
        b: { dtype: 'BF16', shape: [3], bits: [0x3f80, 0xc000, 0x4049] },
      }),
    );
    const t = await readSafetensors(file);
    expect([...t.get('h')!.data]).toEqual([1, -2, 0.5, 65504]);
    expect([...t.get('b')!.data]).toEqual([1, -2, 3.140625]);
  });

  it('reads sharded checkpoints through model.safetensors.index.json', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shard-'));
    const all = await readSafetensors(path.join(peer, 'model.safetensors'));
    const names = [...all.keys()].sort();
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    for (const [i, shard] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeSafetensors(path.join(dir, file), new Map(shard.map((n) => [n, all.get(n)!])));
      for (const n of shard) weightMap[n] = file;
    }
    await writeFile(
      path.join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    const read = await readModelWeights(dir);
    expect([...read.keys()].sort()).toEqual(names);
  });

  it('names what is wrong with a bad directory', async () => {
    await expect(loadModel('/nonexistent')).rejects.toThrow(/config\.json: not found \(is this a model directory\?\)/);
    const dir = await mkdtemp(path.join(tmpdir(), 'bad-'));
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: 10 }));
    await expect(loadModel(dir)).rejects.toThrow(/model_type: supported model_type: llama, qwen2, qwen3/);
    const cfg = JSON.parse(await readFile(path.join(peer, 'config.json'), 'utf8'));
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, hidden_size: 48 }));
    await writeFile(path.join(dir, 'model.safetensors'), await readFile(path.join(peer, 'model.safetensors')));
    await expect(loadModel(dir)).rejects.toThrow(
      /weights do not match config\.json: model\.embed_tokens\.weight has shape \[64,32\], config says \[64,48\]/,
    );
  });
});
