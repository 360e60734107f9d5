import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFlags } from './cli';
import { ConfigError } from './config';

const sources = (...specs: string[]) =>
  (parseFlags(specs.flatMap((s) => ['--data', s])).flags as { data: { sources: unknown[] } }).data.sources;

describe('--data FILE[:WEIGHT]', () => {
  it('reads a weight after the last colon, and a file whose name has a colon whole', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cli-'));
    const colon = path.join(dir, 'a:b.jsonl');
    await writeFile(colon, '');
    expect(sources('x.jsonl', 'x.jsonl:0.5', 'x.jsonl:1000', colon, `${colon}:2`)).toEqual([
      { path: 'x.jsonl' },
      { path: 'x.jsonl', weight: 0.5 },
      { path: 'x.jsonl', weight: 1000 },
      { path: colon },
      { path: colon, weight: 2 },
    ]);
  });

  it.each(['x.jsonl:abc', 'x.jsonl:-1', 'x.jsonl:', 'x.jsonl:0', 'x.jsonl:99999999999999999999', 'x.jsonl:NaN'])(
    'refuses %s, naming the weight and the form to use',
    (spec) => {
      const call = () => sources(spec);
      expect(call).toThrow(ConfigError);
      expect(call).toThrow(`--data ${spec}: the weight "${spec.slice(8)}" is not a number in (0, 1000]`);
      expect(call).toThrow('write FILE:WEIGHT (e.g. my.jsonl:0.5), or FILE alone for weight 1');
    },
  );
});
