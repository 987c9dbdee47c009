/** One invalid field of a 422 `validation_failed` answer. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * An error answer of the API (RFC 9457 `application/problem+json`), thrown
 * by every call of the client instead of being returned. `code` is the
 * stable machine string to branch on (docs/http-api.md lists them all);
 * `detail` is for people; `errors` names each invalid field of a 422.
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];
  readonly requestId: string | undefined;
  /** Seconds to wait before retrying (429, 503), from `Retry-After`. */
  readonly retryAfter: number | undefined;
  /** The answer as it came, for fields this class does not name. */
  readonly body: unknown;

  constructor(status: number, body: unknown, retryAfter?: number) {
    const problem = isRecord(body) ? body : {};
    const code = text(problem.code) ?? `http_${status}`;
    const detail = text(problem.detail) ?? text(problem.title) ?? `HTTP ${status}`;
    super(`${status} ${code}: ${detail}`);
    this.name = "ProblemError";
    this.status = status;
    this.code = code;
    this.title = text(problem.title) ?? "";
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors.filter(isFieldError) : [];
    this.requestId = text(problem.request_id);
    this.retryAfter = retryAfter;
    this.body = body;
  }

  /** The message of the first error on `field`, for a form. */
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

/** Reads a failed answer into a {@link ProblemError}. */
export async function problemOf(response: Response): Promise<ProblemError> {
  const raw = await response.text();
  let body: unknown = raw;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    // Not JSON (a proxy's page): kept as text in `body`.
  }
  const retryAfter = Number(response.headers.get("retry-after") ?? Number.NaN);
  return new ProblemError(response.status, body, Number.isFinite(retryAfter) ? retryAfter : undefined);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function isFieldError(value: unknown): value is FieldError {
  return isRecord(value) && typeof value.field === "string" && typeof value.message === "string";
}
