import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTrainer } from '@tunekit/db/testing';
import { describe, expect, it } from 'vitest';

describe('trainer CLI', () => {
  it('runs the data stage of the smoke preset and writes a report', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'runs-'));
    const extra = path.join(out, 'extra.jsonl');
    await writeFile(
      extra,
      [
        JSON.stringify({ instruction: 'Say hi.', output: 'Hi!' }),
        '{broken',
        JSON.stringify({ instruction: 'Say bye.', output: 'Bye!' }),
      ].join('\n'),
    );
    const result = await runTrainer([
      '--preset',
      'smoke',
      '--stages',
      'data',
      '--output-dir',
      out,
      '--data',
      `${extra}:0.5`,
      '--on-error',
      'skip',
    ]);
    expect(result.stderr).toMatch(/read .*extra\.jsonl: alpaca, 2\/3 rows kept, 1 skipped/);
    expect(result.code).toBe(0);
    const reportPath = /report: (.*)/.exec(result.stdout)![1];
    const runDir = path.dirname(reportPath);
    expect(await readdir(runDir)).toEqual(
      expect.arrayContaining(['config.json', 'report.md', 'report.json', 'tokenizer', 'data']),
    );
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    expect(report.data.entities).toEqual({ total: 247, train: 123, heldOut: 124 });
    expect(report.data.reads[0]).toMatchObject({ rows: 3, kept: 2, skipped: [{ line: 2, field: '(row)' }] });
    expect(report.data.packing.sft.efficiency).toBeGreaterThan(0.9);
    expect(report.data.mixture.sources.map((s: { name: string }) => s.name)).toEqual(['default', extra, 'replay']);
    expect(await readFile(path.join(runDir, 'data/lengths-sft.svg'), 'utf8')).toMatch(/^<svg/);
    expect(await readFile(reportPath, 'utf8')).toContain('«');
  });

  it('names unknown flags, bad values and unknown config keys without a stack trace', async () => {
    const unknown = await runTrainer(['--epochs', '3']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: Unknown option '--epochs'/);
    const bad = await runTrainer(['--masking', 'everything', '--stages', 'data,distill']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'sequence.masking: Invalid option: expected one of "all_assistant"|"last_assistant"|"all"',
    );
    expect(bad.stderr).toContain('stages: unknown stage "distill"; available: data, pretrain, sft, rerank');
    const dir = await mkdtemp(path.join(tmpdir(), 'cfg-'));
    await writeFile(path.join(dir, 'c.json'), JSON.stringify({ data: { replayWeigth: 0.2 } }));
    const typo = await runTrainer(['--config', path.join(dir, 'c.json')]);
    expect(typo.stderr).toMatch(/data: Unrecognized key: "replayWeigth"/);
    expect(typo.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('reports a missing data file clearly', async () => {
    const missing = await runTrainer([
      '--preset',
      'smoke',
      '--output-dir',
      await mkdtemp(path.join(tmpdir(), 'runs-')),
      '--data',
      '/nope/data.jsonl',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/error: .*\/nope\/data\.jsonl: file not found/);
  });

  it('refuses a directory as --data in one line, before a run directory is made', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'runs-')), 'runs');
    const dir = await mkdtemp(path.join(tmpdir(), 'data-dir-'));
    const result = await runTrainer(['--preset', 'smoke', '--output-dir', out, '--data', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `error: ${dir}: is a directory; pass a JSON or JSONL file (from --data / data.sources)`,
    ]);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
    const debug = await runTrainer(['--preset', 'smoke', '--output-dir', out, '--data', dir, '--debug']);
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(/DataError: .* is a directory[^]*\n\s+at checkSources/);
  });

  it('says in one line when a resumed run has a broken config.json', async () => {
    const run = await mkdtemp(path.join(tmpdir(), 'run-'));
    await writeFile(path.join(run, 'config.json'), '{not json');
    const result = await runTrainer(['--resume', run]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: --resume .*: config\.json is not JSON \(/m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
