import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics (and the process's: memory, CPU, event-loop lag). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'rerank_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'rerank_request_duration_seconds',
      help: 'Request latency by route',
      labelNames: ['route'],
      registers: [registry],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    queueDepth: new Gauge({
      name: 'rerank_queue_depth',
      help: '(query, document) pairs waiting for a model worker',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'rerank_batch_size',
      help: 'Pairs per forward pass',
      registers: [registry],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    }),
    batchSeconds: new Histogram({
      name: 'rerank_batch_duration_seconds',
      help: 'Time per forward pass',
      registers: [registry],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    documents: new Counter({ name: 'rerank_documents_scored_total', help: 'Documents scored', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
