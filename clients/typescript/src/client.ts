import createClient, { type Client, type Middleware } from "openapi-fetch";

import { EtagCache, answerPath, honoursIfMatch, recordPath } from "./etags.js";
import type { paths } from "./generated/kisum-api.js";
import { ProblemError, problemOf } from "./problem.js";

/** A value, or a function giving it (called on every request). */
export type Provided<T> = T | (() => T | Promise<T>);

export interface KisumClientOptions {
  /** Where the API is, without `/api/v1`: `https://artists.kisum.example`. */
  baseUrl: string;
  /** The caller's JWT from Auth; a function to pick up a refreshed one. */
  token: Provided<string>;
  /** The caller's active org (`x-org`). */
  org: Provided<string>;
  /** How many times a request is sent again after a network error, a 503 or a 429 (default 2). */
  retries?: number;
  /** Longest wait between tries, in milliseconds (default 5000). */
  maxRetryDelayMs?: number;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Makes idempotency keys (default: `crypto.randomUUID`). */
  idempotencyKey?: () => string;
}

/**
 * The openapi-fetch client of the API (`GET`, `POST`, ... typed by path,
 * from the generated `paths`), with what every caller would otherwise
 * repeat:
 *
 * - `Authorization: Bearer` and `x-org` on every request;
 * - an `Idempotency-Key` (a random UUID) on every `POST`, kept across the
 *   client's own retries, so a retried create or action happens once;
 * - `If-Match` with the last `ETag` seen for the record, on the operations
 *   that honour it ({@link EtagCache}); an explicit `If-Match` header wins;
 * - the `Consistency-Token` of the last write sent on every later read, so
 *   a read served by a replica still sees the caller's own writes;
 * - an error answer thrown as a {@link ProblemError}, so `data` of a
 *   returned result is the success body (use {@link ok} to narrow it).
 */
export interface KisumClient extends Client<paths> {
  readonly etags: EtagCache;
  /** The newest `Consistency-Token` a write answered, sent on reads. */
  consistencyToken: string | undefined;
  /** The auth headers of a request, for calls outside openapi-fetch (a change-feed stream). */
  authHeaders(): Promise<Record<string, string>>;
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

export function createKisumClient(options: KisumClientOptions): KisumClient {
  const base = new URL(options.baseUrl);
  const basePath = base.pathname.replace(/\/+$/, "");
  const etags = new EtagCache();
  const newKey = options.idempotencyKey ?? (() => globalThis.crypto.randomUUID());
  const client = createClient<paths>({
    baseUrl: base.toString().replace(/\/+$/, ""),
    fetch: retrying(options.fetch ?? globalThis.fetch, options.retries ?? 2, options.maxRetryDelayMs ?? 5000),
  }) as KisumClient;

  const authHeaders = async (): Promise<Record<string, string>> => ({
    authorization: `Bearer ${await provided(options.token)}`,
    "x-org": await provided(options.org),
  });

  const apiPath = (request: Request): string => new URL(request.url).pathname.slice(basePath.length);

  const middleware: Middleware = {
    async onRequest({ request, schemaPath }) {
      for (const [name, value] of Object.entries(await authHeaders())) {
        request.headers.set(name, value);
      }
      const method = request.method.toUpperCase();
      if (READS.has(method)) {
        if (client.consistencyToken !== undefined && !request.headers.has("consistency-token")) {
          request.headers.set("consistency-token", client.consistencyToken);
        }
        return request;
      }
      if (method === "POST" && !request.headers.has("idempotency-key")) {
        request.headers.set("idempotency-key", newKey());
      }
      if (honoursIfMatch(method, schemaPath) && !request.headers.has("if-match")) {
        const etag = etags.get(recordPath(method, apiPath(request)));
        if (etag !== undefined) {
          request.headers.set("if-match", etag);
        }
      }
      return request;
    },

    async onResponse({ request, response }) {
      const method = request.method.toUpperCase();
      const path = apiPath(request);
      if (!response.ok) {
        if (response.status === 412) {
          etags.forget(recordPath(method, path));
        }
        throw await problemOf(response);
      }
      const etag = response.headers.get("etag");
      if (READS.has(method)) {
        if (etag !== null) {
          etags.set(path, etag);
        }
        return response;
      }
      const token = response.headers.get("consistency-token");
      if (token !== null) {
        client.consistencyToken = token;
      }
      etags.forget(recordPath(method, path));
      etags.forget(path);
      if (etag !== null && method !== "DELETE") {
        const body: unknown = await response
          .clone()
          .json()
          .catch(() => undefined);
        const id = typeof body === "object" && body !== null ? (body as { id?: unknown }).id : undefined;
        const key = answerPath(method, path, id);
        if (key !== undefined) {
          etags.set(key, etag);
        }
      }
      return response;
    },
  };

  client.use(middleware);
  Object.defineProperties(client, {
    etags: { value: etags, enumerable: true },
    consistencyToken: { value: undefined, writable: true, enumerable: true },
    authHeaders: { value: authHeaders, enumerable: true },
  });
  return client;
}

/**
 * The success body of a call. The client throws error answers, so a
 * result without `data` is an answer without a body (a 204): this
 * narrows the type for calls that always answer one.
 */
export async function ok<T>(call: Promise<{ data?: T; response: Response }>): Promise<T> {
  const { data, response } = await call;
  if (data === undefined) {
    throw new Error(`${response.status} ${response.url}: the answer has no body`);
  }
  return data;
}

async function provided<T>(value: Provided<T>): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : value;
}

/**
 * `fetch` that sends a request again (the same request, so the same
 * `Idempotency-Key`) after a network error, a 503 or a 429, waiting
 * `Retry-After` when the answer names it, else a growing delay.
 */
function retrying(
  fetch: typeof globalThis.fetch,
  retries: number,
  maxDelayMs: number,
): (request: Request) => Promise<Response> {
  return async (request) => {
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt >= retries;
      let response: Response;
      try {
        response = await fetch(last ? request : request.clone());
      } catch (error) {
        if (last) {
          throw error;
        }
        await sleep(Math.min(maxDelayMs, 200 * 2 ** attempt));
        continue;
      }
      if (last || (response.status !== 503 && response.status !== 429)) {
        return response;
      }
      const after = Number(response.headers.get("retry-after") ?? Number.NaN);
      await response.body?.cancel();
      await sleep(Math.min(maxDelayMs, Number.isFinite(after) ? after * 1000 : 200 * 2 ** attempt));
    }
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
