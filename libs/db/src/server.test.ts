import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureEmbeddedPostgres, stopEmbeddedPostgres } from './server';

/** A data directory the postgres user can reach (the server runs as that user when we are root). */
async function freshDataDir(): Promise<string> {
  const parent = await mkdtemp(path.join(tmpdir(), 'pg-checkout-'));
  await chmod(parent, 0o755);
  return path.join(parent, 'data');
}

describe('embedded PostgreSQL per checkout', () => {
  const started: string[] = [];
  afterAll(async () => {
    for (const dataDir of started) await stopEmbeddedPostgres(dataDir);
  });

  it("never uses another checkout's server: each data directory gets its own", async () => {
    const first = await ensureEmbeddedPostgres({ dataDir: await freshDataDir() });
    started.push(first.dataDir);
    const second = await ensureEmbeddedPostgres({ dataDir: await freshDataDir() });
    started.push(second.dataDir);
    expect(second.port).not.toBe(first.port);
    // asked again, each finds its own server where it left it
    expect(await ensureEmbeddedPostgres({ dataDir: first.dataDir })).toEqual(first);
    expect(await ensureEmbeddedPostgres({ dataDir: second.dataDir })).toEqual(second);
    // a port held by another directory's server is refused, with what serves it
    await expect(ensureEmbeddedPostgres({ dataDir: await freshDataDir(), port: first.port })).rejects.toThrow(
      `127.0.0.1:${first.port} serves ${first.dataDir}`,
    );
  }, 180_000);
});
