// The client's layer on its own, against a scripted fetch: what it adds
// to requests and what it makes of answers. No API needed.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ProblemError, all, createKisumClient, ok } from "../dist/index.js";

const OFFER = "0190a0a0-0000-7000-8000-000000000001";

/** A client whose fetch answers from `script` in order and records each request. */
function scripted(...script) {
  const seen = [];
  const fetch = async (request) => {
    seen.push({ method: request.method, url: new URL(request.url).pathname + new URL(request.url).search, headers: Object.fromEntries(request.headers) });
    const next = script.shift();
    assert.ok(next, `an answer is scripted for ${request.method} ${request.url}`);
    return next();
  };
  const client = createKisumClient({ baseUrl: "http://api.test/", token: () => "jwt", org: "org-1", fetch, maxRetryDelayMs: 1 });
  return { client, seen };
}

const json = (status, body, headers = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const problem = (status, body, headers = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/problem+json", ...headers } });

test("every request carries the token and the org", async () => {
  const { client, seen } = scripted(json(200, { items: [], next_cursor: null }));
  await ok(client.GET("/api/v1/offers"));
  assert.equal(seen[0].headers.authorization, "Bearer jwt");
  assert.equal(seen[0].headers["x-org"], "org-1");
});

test("a POST retried after a 503 keeps its idempotency key", async () => {
  const { client, seen } = scripted(
    problem(503, { code: "database_unavailable", status: 503, detail: "down" }, { "retry-after": "0" }),
    json(201, { id: OFFER, version: 1 }, { etag: '"1"' }),
  );
  const offer = await ok(client.POST("/api/v1/offers", { body: {} }));
  assert.equal(offer.id, OFFER);
  assert.equal(seen.length, 2);
  assert.match(seen[0].headers["idempotency-key"], /^[0-9a-f-]{36}$/);
  assert.equal(seen[1].headers["idempotency-key"], seen[0].headers["idempotency-key"]);
  assert.equal(client.etags.get(`/api/v1/offers/${OFFER}`), '"1"');
});

test("If-Match goes with the last ETag seen, only where it is honoured", async () => {
  const { client, seen } = scripted(
    json(200, { id: OFFER, version: 3 }, { etag: '"3"' }),
    json(200, { id: OFFER, version: 4 }, { etag: '"4"', "consistency-token": "0/16B3F28" }),
    json(200, { items: [{ id: OFFER }] }),
    json(201, { id: "r", overall: 5 }),
  );
  await ok(client.GET("/api/v1/offers/{id}", { params: { path: { id: OFFER } } }));
  await ok(client.POST("/api/v1/offers/{id}/accept", { params: { path: { id: OFFER } } }));
  assert.equal(seen[1].headers["if-match"], '"3"');
  assert.equal(client.etags.get(`/api/v1/offers/${OFFER}`), '"4"');
  // The write's consistency token goes with the next read.
  await all((cursor) => client.GET("/api/v1/offers", { params: { query: { cursor } } }));
  assert.equal(seen[2].headers["consistency-token"], "0/16B3F28");
  // Ratings do not honour If-Match: none is sent.
  await client.POST("/api/v1/bookings/{id}/ratings", { params: { path: { id: OFFER } }, body: { overall: 5 } });
  assert.equal(seen[3].headers["if-match"], undefined);
});

test("an error answer is thrown as a ProblemError; a 412 forgets the tag", async () => {
  const { client } = scripted(
    json(200, { id: OFFER, version: 3 }, { etag: '"3"' }),
    problem(412, { type: "about:blank", title: "Precondition Failed", status: 412, code: "stale_version", detail: "changed", request_id: "req-1" }),
    problem(422, { status: 422, code: "validation_failed", detail: "fields", errors: [{ field: "deal.percentage", message: "required" }] }),
  );
  await ok(client.GET("/api/v1/offers/{id}", { params: { path: { id: OFFER } } }));
  await assert.rejects(client.POST("/api/v1/offers/{id}/accept", { params: { path: { id: OFFER } } }), (error) => {
    assert.ok(error instanceof ProblemError);
    assert.equal(error.status, 412);
    assert.equal(error.code, "stale_version");
    assert.equal(error.requestId, "req-1");
    return true;
  });
  assert.equal(client.etags.get(`/api/v1/offers/${OFFER}`), undefined);
  await assert.rejects(client.POST("/api/v1/offers", { body: {} }), (error) => {
    assert.equal(error.code, "validation_failed");
    assert.equal(error.fieldError("deal.percentage"), "required");
    return true;
  });
});

test("paging follows next_cursor until it is null", async () => {
  const { client, seen } = scripted(
    json(200, { items: [{ id: "a" }, { id: "b" }], next_cursor: "c1" }),
    json(200, { items: [{ id: "c" }], next_cursor: null }),
  );
  const items = await all((cursor) => client.GET("/api/v1/bookings", { params: { query: { cursor, limit: 2 } } }));
  assert.deepEqual(items.map((i) => i.id), ["a", "b", "c"]);
  assert.equal(seen[0].url, "/api/v1/bookings?limit=2");
  assert.equal(seen[1].url, "/api/v1/bookings?cursor=c1&limit=2");
});
