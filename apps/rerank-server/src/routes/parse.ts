import type { z } from 'zod';
import { ApiError, invalid } from '../errors';

/** `documents[2].text` from zod's path. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (name, key) => (typeof key === 'number' ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)),
    '',
  );
}

/** Validates a JSON body, naming the first bad field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(
      400,
      'the request body must be a JSON object (Content-Type: application/json)',
      'invalid_request',
    );
  }
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw invalid(fieldName(issue.path) || '(body)', issue.message);
  }
  return r.data;
}
