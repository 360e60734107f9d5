export { openDatabase } from './client';
export { RunRegistry } from './registry';
export * as schema from './schema';
export { ensureEmbeddedPostgres, stopEmbeddedPostgres } from './server';
