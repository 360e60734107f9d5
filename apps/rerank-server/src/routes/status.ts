import type { FastifyInstance } from 'fastify';
import type { Batcher } from '../batcher';
import type { Metrics } from '../metrics';

/** Liveness, readiness (the model is loaded and the server takes work), the model list and Prometheus metrics. */
export function statusRoutes(
  app: FastifyInstance,
  o: {
    metrics: Metrics;
    batcher: Batcher;
    modelName: string;
    started: number;
    info: Record<string, unknown>;
    ready: () => boolean;
  },
): void {
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_req, reply) => {
    if (!o.ready())
      return reply
        .code(503)
        .send({ status: 'shutting_down', message: 'the server is draining its queue and takes no new work' });
    return { status: 'ready', model: o.modelName, queue: o.batcher.depth, ...o.info };
  });
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: o.modelName, object: 'model', created: Math.floor(o.started / 1000), owned_by: 'tunekit', ...o.info }],
  }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', o.metrics.registry.contentType);
    return o.metrics.registry.metrics();
  });
}
