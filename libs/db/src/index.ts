export { openDatabase, type Connection, type Database } from './client';
export { RunRegistry, type EvaluationExample, type MetricRow } from './registry';
export * as schema from './schema';
export { ensureEmbeddedPostgres, stopEmbeddedPostgres, workspaceRoot, type EmbeddedServer } from './server';
