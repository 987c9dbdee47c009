import { ifMatchOperations } from "./generated/conditional.js";

/**
 * The last `ETag` this client saw for each record, keyed by the record's
 * path (`/api/v1/offers/{id}`, `/api/v1/bookings/{id}/logistics`), so that
 * a write on the record sends `If-Match` with the version the user was
 * shown. A 412 `stale_version` then means someone changed the record since
 * this client last read it: read it again and show the user what changed.
 *
 * What fills it: any `GET`, `PUT` or `PATCH` answer with an `ETag` (under
 * its own path); a `POST` answer with an `ETag` whose record is the one in
 * the path (`/offers/{id}/counter` answers the offer) or a new one
 * (`/bookings/{id}/contracts` answers the contract, kept under
 * `/api/v1/contracts/{id}`). What empties it: any other successful write
 * to the record, a `DELETE`, a 412. A record this client never read gets
 * no `If-Match`, and the write goes through unconditionally.
 */
export class EtagCache {
  readonly #tags = new Map<string, string>();

  get(path: string): string | undefined {
    return this.#tags.get(path);
  }

  set(path: string, etag: string): void {
    this.#tags.set(path, etag);
  }

  forget(path: string): void {
    this.#tags.delete(path);
  }

  clear(): void {
    this.#tags.clear();
  }
}

/** Whether `method` on the path template honours `If-Match`. */
export function honoursIfMatch(method: string, schemaPath: string): boolean {
  return ifMatchOperations.has(`${method.toUpperCase()} ${schemaPath}`);
}

/**
 * The record a request is about: for `POST` the record named by the path's
 * first id (`/api/v1/offers/{id}` of `/api/v1/offers/{id}/accept`); for the
 * other methods the path itself.
 */
export function recordPath(method: string, path: string): string {
  if (method.toUpperCase() !== "POST") {
    return path;
  }
  return path.split("/").slice(0, 5).join("/");
}

/**
 * Where a write's answer is kept: the record in the path when the answer
 * is that record, else the new record's own path (the path's last named
 * collection and the answer's id).
 */
export function answerPath(method: string, path: string, answerId: unknown): string | undefined {
  if (method.toUpperCase() !== "POST") {
    return path;
  }
  if (typeof answerId !== "string") {
    return undefined;
  }
  const segments = path.split("/");
  if (segments[4] === answerId) {
    return segments.slice(0, 5).join("/");
  }
  const collection = segments[segments.length - 1];
  return `/api/v1/${collection}/${answerId}`;
}
