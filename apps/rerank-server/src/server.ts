import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { bearerChecker } from './auth';
import { ClosedError, QueueFullError, TimeoutError, type Batcher } from './batcher';
import { PairError } from './engine';
import { ApiError } from './errors';
import type { Metrics } from './metrics';
import type { ServerOptions } from './options';
import { cohereRoutes } from './routes/cohere';
import { statusRoutes } from './routes/status';
import { teiRoutes } from './routes/tei';
import type { RerankService } from './service';

/** Routes anyone may call (probes); everything else needs a key when keys are configured. */
const PUBLIC = new Set(['/health', '/ready']);

/** The HTTP server: routes, API keys, limits, metrics, and JSON errors a person can act on. */
export function buildServer(o: {
  options: ServerOptions;
  service: RerankService;
  batcher: Batcher;
  metrics: Metrics;
  modelName: string;
  info: Record<string, unknown>;
}): { app: FastifyInstance; state: { draining: boolean } } {
  const app = Fastify({
    bodyLimit: o.options.maxBodyBytes,
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  const state = { draining: false };
  // JSON only: a text body gets 415 rather than a confusing validation error
  app.removeContentTypeParser('text/plain');
  const authorized = bearerChecker(o.options.apiKeys);

  app.addHook('onRequest', async (req, reply) => {
    if (state.draining && !PUBLIC.has(req.url)) {
      return reply
        .code(503)
        .header('Retry-After', '5')
        .header('Connection', 'close')
        .send({ message: 'the server is shutting down; retry on another instance', type: 'unavailable' });
    }
    if (
      o.options.apiKeys.length &&
      !PUBLIC.has(req.routeOptions.url ?? req.url) &&
      !authorized(req.headers.authorization)
    ) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer').send({
        message: 'missing or wrong API key: send the header "Authorization: Bearer <key>"',
        type: 'unauthorized',
      });
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    o.metrics.requests.inc({ route, status: String(reply.statusCode) });
    o.metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError | Error, _req, reply) => {
    if (err instanceof ApiError) return reply.code(err.status).headers(err.headers).send(err.body());
    if (err instanceof QueueFullError)
      return reply
        .code(429)
        .header('Retry-After', String(err.retryAfterSeconds))
        .send({ message: err.message, type: 'overloaded' });
    if (err instanceof TimeoutError)
      return reply.code(503).header('Retry-After', '5').send({ message: err.message, type: 'timeout' });
    if (err instanceof ClosedError)
      return reply.code(503).header('Retry-After', '5').send({ message: err.message, type: 'unavailable' });
    if (err instanceof PairError) return reply.code(400).send({ message: err.message, type: 'invalid_request' });
    const fe = err as FastifyError;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({
        message:
          `the request body is larger than this server's limit of ${o.options.maxBodyBytes} bytes; ` +
          'send fewer or shorter documents',
        type: 'too_large',
      });
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return reply
        .code(415)
        .send({ message: 'send the body as JSON (Content-Type: application/json)', type: 'invalid_request' });
    if (fe.statusCode === 400 && (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError)) {
      return reply
        .code(400)
        .send({ message: `the request body is not valid JSON (${fe.message})`, type: 'invalid_request' });
    }
    if (fe.statusCode && fe.statusCode < 500)
      return reply.code(fe.statusCode).send({ message: fe.message, type: 'invalid_request' });
    app.log.error(err);
    console.error(err);
    return reply.code(500).send({ message: `internal error: ${err.message}`, type: 'internal' });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      message:
        `no route ${req.method} ${req.url}; ` +
        'this server has POST /v2/rerank, POST /v1/rerank, POST /rerank, GET /health, /ready, /v1/models, /metrics',
      type: 'not_found',
    }),
  );

  cohereRoutes(app, o.service, o.modelName);
  teiRoutes(app, o.service);
  statusRoutes(app, {
    metrics: o.metrics,
    batcher: o.batcher,
    modelName: o.modelName,
    started: Date.now(),
    info: o.info,
    ready: () => !state.draining,
  });
  return { app, state };
}
