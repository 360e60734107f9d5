/** An error a client can act on: an HTTP status and a JSON body `{ message, type, field? }`. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body() {
    return { message: this.message, type: this.type, ...(this.field ? { field: this.field } : {}) };
  }
}

export const invalid = (field: string, message: string) =>
  new ApiError(400, `${field}: ${message}`, 'invalid_request', field);
