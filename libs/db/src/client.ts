import path from 'node:path';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as schema from './schema';
import { ensureEmbeddedPostgres } from './server';

export type Database = NodePgDatabase<typeof schema>;

export interface Connection {
  db: Database;
  pool: pg.Pool;
  url: string;
  /** "embedded" or "external" (DATABASE_URL). */
  kind: 'embedded' | 'external';
  close(): Promise<void>;
}

const MIGRATIONS = path.resolve(import.meta.dirname, '../migrations');

/**
 * Connects to `DATABASE_URL`, or to the embedded PostgreSQL (started on demand), and applies the
 * committed migrations.
 */
export async function openDatabase(options: { url?: string; log?: (line: string) => void } = {}): Promise<Connection> {
  const external = options.url ?? process.env.DATABASE_URL;
  const url = external ?? (await ensureEmbeddedPostgres({ log: options.log })).url;
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined); // a dropped idle connection is reported by the next query
  const db = drizzle(pool, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS });
  return { db, pool, url, kind: external ? 'external' : 'embedded', close: () => pool.end() };
}
