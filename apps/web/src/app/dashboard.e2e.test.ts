import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDataRun, workspaceRoot } from '@tunekit/db/testing';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('dashboard in a real browser', () => {
  let server: ChildProcess;
  let browser: Browser;
  let base: string;
  let run: { runsDir: string; id: string };

  beforeAll(async () => {
    if (!existsSync(path.join(workspaceRoot, 'apps/web/.next/BUILD_ID')))
      throw new Error('apps/web is not built: run `npx nx run web:build` (nx run web:test does it first)');
    run = await makeDataRun();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(
      path.join(workspaceRoot, 'node_modules/.bin/next'),
      ['start', 'apps/web', '-p', String(port), '-H', '127.0.0.1'],
      {
        cwd: workspaceRoot,
        env: { ...process.env, TUNEKIT_RUNS_DIR: run.runsDir, NEXT_TELEMETRY_DISABLED: '1' },
        stdio: 'pipe',
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => d.toString().includes('Ready') && resolve());
      server.on('exit', (code) => reject(new Error(`next start exited with ${code}`)));
    });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_FLAGS,
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
  });

  it('lists the run, opens it, and shows its statistics, histograms and trained tokens', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(base);
    const link = page.getByRole('link', { name: run.id });
    await link.click({ timeout: 20_000 });
    await page.waitForURL(`**/runs/${run.id}`);
    await expect.poll(() => page.getByTestId('dataset-table').locator('tbody tr').count(), { timeout: 20_000 }).toBe(3);
    expect(await page.getByTestId('efficiency-sft').textContent()).toMatch(/\d+\.\d% efficiency/);
    await expect
      .poll(() => page.getByTestId('histogram-sft').locator('.recharts-bar-rectangle').count(), { timeout: 20_000 })
      .toBeGreaterThan(3);
    const trained = await page.locator('mark[data-trained]').first().textContent();
    expect(trained).toMatch(/<\|im_end\|>$/);
    const shots = path.join(workspaceRoot, 'tmp/screenshots');
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'run.png'), fullPage: true });
  });

  it('says so when a run does not exist', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/runs/no-such-run`);
    await expect.poll(() => page.getByText('Could not load the run').count(), { timeout: 20_000 }).toBe(1);
  });
});
