import { beforeAll, describe, expect, it } from 'vitest';
import { makeDataRun } from '@tunekit/db/testing';
import { createCaller } from '../root';

describe('runs router', () => {
  let run: { runsDir: string; id: string };
  beforeAll(async () => {
    run = await makeDataRun();
    process.env.TUNEKIT_RUNS_DIR = run.runsDir;
  }, 120_000); // a real trainer run: seconds alone, longer on a loaded machine

  it("lists runs that have a report and returns one run's report", async () => {
    const caller = createCaller({});
    const runs = await caller.runs.list();
    expect(runs.map((r) => r.id)).toEqual([run.id]);
    expect(runs[0]).toMatchObject({ preset: 'smoke', stages: ['data'] });
    const report = await caller.runs.get({ id: run.id });
    expect(report.data?.statistics.sft.rows).toBe(runs[0].sftRows);
  });

  it('answers an unknown run with NOT_FOUND and rejects path tricks', async () => {
    const caller = createCaller({});
    await expect(caller.runs.get({ id: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(caller.runs.get({ id: '../etc' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
