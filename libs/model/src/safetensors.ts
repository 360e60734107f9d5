import { open, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A named float32 tensor as stored on disk. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

type Dtype = 'F32' | 'F16' | 'BF16';
const BYTES: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };

/**
 * Reads a `.safetensors` file: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets}}`, then the raw bytes. F32, F16 and BF16 become float32.
 */
export async function readSafetensors(file: string): Promise<Map<string, NamedTensor>> {
  const bytes = await readFile(file);
  if (bytes.length < 8) throw new Error(`${file}: too short to be a safetensors file`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (8 + headerLength > bytes.length)
    throw new Error(`${file}: header length ${headerLength} runs past the end of the file`);
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const out = new Map<string, NamedTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!(info.dtype in BYTES))
      throw new Error(`${file}: tensor ${name} has dtype ${info.dtype}; supported: F32, F16, BF16`);
    const dtype = info.dtype as Dtype;
    const [start, end] = info.data_offsets;
    const count = info.shape.reduce((a, b) => a * b, 1);
    if (end - start !== count * BYTES[dtype])
      throw new Error(`${file}: tensor ${name} has ${end - start} bytes for shape [${info.shape}] ${dtype}`);
    const raw = bytes.subarray(base + start, base + end);
    out.set(name, { shape: info.shape, data: toFloat32(raw, dtype, count) });
  }
  return out;
}

function toFloat32(raw: Buffer, dtype: Dtype, count: number): Float32Array {
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    new Uint8Array(out.buffer).set(raw); // copies into an aligned buffer (little-endian, as on every platform we run)
    return out;
  }
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  for (let i = 0; i < count; i++) {
    const h = raw.readUInt16LE(2 * i);
    if (dtype === 'BF16') {
      bits[0] = h << 16;
      out[i] = asFloat[0];
    } else {
      out[i] = halfToFloat(h);
    }
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

/**
 * Writes F32 tensors in name order (so the same tensors always give the same bytes), atomically:
 * to a temporary name, fsync, then rename.
 */
export async function writeSafetensors(
  file: string,
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = { format: 'pt' },
): Promise<void> {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new Error(`tensor ${name}: shape [${t.shape}] does not match ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const data = tensors.get(name)!.data;
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, at);
    at += data.byteLength;
  }
  await writeFileAtomic(file, out);
}

/** Reads `model.safetensors`, or every shard listed in `model.safetensors.index.json`. */
export async function readModelWeights(dir: string): Promise<Map<string, NamedTensor>> {
  const index = path.join(dir, 'model.safetensors.index.json');
  let indexJson: { weight_map: Record<string, string> } | undefined;
  try {
    indexJson = JSON.parse(await readFile(index, 'utf8'));
  } catch {
    indexJson = undefined;
  }
  if (!indexJson) return readSafetensors(path.join(dir, 'model.safetensors'));
  const out = new Map<string, NamedTensor>();
  for (const shard of [...new Set(Object.values(indexJson.weight_map))].sort()) {
    for (const [name, t] of await readSafetensors(path.join(dir, shard))) out.set(name, t);
  }
  const missing = Object.keys(indexJson.weight_map).filter((n) => !out.has(n));
  if (missing.length)
    throw new Error(`${index}: tensors listed but not found in shards: ${missing.slice(0, 5).join(', ')}`);
  return out;
}

/** Write to `file.tmp-<pid>`, fsync, rename: a reader sees the old file or the new one, never half. */
export async function writeFileAtomic(file: string, data: Buffer | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  const handle = await open(tmp, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}
