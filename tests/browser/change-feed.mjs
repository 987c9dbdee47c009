// The change-feed stream in a real browser (Debian's Chromium, headless,
// driven by playwright-core): a page served from an origin in CORS_ORIGIN
// opens an EventSource on /api/v1/events/stream as the agency (token and
// org in the query, as docs/http-api.md says a browser does), sees the
// promoter's counter-offer arrive, and, each time the server ends the
// stream (`max_wait`), reconnects with Last-Event-ID; the events it
// received must be exactly the agency's feed, without gap or duplicate.
//
// Run by tests/tests/api/ops_browser.rs, which starts the API and makes the
// offer first. Environment:
//   BASE_URL        the API, e.g. http://127.0.0.1:41234
//   PAGE_PORT       the port to serve the page on (its origin is allowed)
//   AGENCY_TOKEN, AGENCY_ORG, PROMOTER_TOKEN, PROMOTER_ORG
//   OFFER_ID        a sent offer between them
//   CHROMIUM        the browser (default /usr/bin/chromium)
// Exits 0 when every step passed, 1 with a message otherwise.

import { createServer } from "node:http";
import { chromium } from "playwright-core";

const STEP_TIMEOUT = 30_000;
const OVERALL_TIMEOUT = 150_000;

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (!value) fail(`${name} is not set`);
  return value;
}

function fail(message) {
  console.error(`change-feed: FAILED: ${message}`);
  process.exit(1);
}

const base = env("BASE_URL").replace(/\/+$/, "");
const pagePort = Number(env("PAGE_PORT"));
const agency = { token: env("AGENCY_TOKEN"), org: env("AGENCY_ORG") };
const promoter = { token: env("PROMOTER_TOKEN"), org: env("PROMOTER_ORG") };
const offer = env("OFFER_ID");
const executablePath = env("CHROMIUM", "/usr/bin/chromium");
const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);

async function until(what, read, accept, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await read();
    if (accept(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function api(who, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${who.token}`, "x-org": who.org, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

const counter = (who, amount) =>
  api(who, "POST", `/api/v1/offers/${offer}/counter`, {
    deal: { type: "flat", currency: "EUR", guarantee_amount: amount },
  });

async function run(page) {
  await page.goto(`http://127.0.0.1:${pagePort}/`);
  // The stream ends every 3 s on the server's side; the browser reconnects
  // with Last-Event-ID on its own.
  const url = `${base}/api/v1/events/stream?max_wait=3&access_token=${encodeURIComponent(agency.token)}&org=${agency.org}`;
  await page.evaluate((url) => {
    window.received = [];
    window.opens = 0;
    window.drops = 0;
    const source = new EventSource(url);
    source.onopen = () => window.opens++;
    source.onerror = () => window.drops++;
    for (const type of ["offer.countered", "offer.accepted"]) {
      source.addEventListener(type, (e) => window.received.push({ id: e.lastEventId, type: e.type, data: JSON.parse(e.data) }));
    }
  }, url);
  await until("the stream to open", () => page.evaluate(() => window.opens), (n) => n >= 1);
  log("EventSource open");
  const state = () => page.evaluate(() => ({ received: window.received, opens: window.opens, drops: window.drops }));

  await counter(promoter, 650_000);
  const first = await until("the promoter's counter-offer", state, (s) => s.received.length >= 1);
  const got = first.received[0];
  if (got.type !== "offer.countered" || got.data.subject_id !== offer) throw new Error(`unexpected first event ${JSON.stringify(got)}`);
  log(`received ${got.type} ${got.id}`);

  // Writes while the stream is down: the reconnect's Last-Event-ID gets them.
  const drops = first.drops;
  await until("the server to end the stream", state, (s) => s.drops > drops);
  await counter(agency, 700_000);
  await counter(promoter, 680_000);
  await api(agency, "POST", `/api/v1/offers/${offer}/accept`);
  log("countered twice and accepted while disconnected");
  const final = await until("the missed events after reconnecting", state, (s) => s.received.length >= 4 && s.opens >= 2);

  const feed = await api(agency, "GET", `/api/v1/events?after=${encodeURIComponent(got.id)}`);
  const expected = [got.id, ...feed.filter((e) => ["offer.countered", "offer.accepted"].includes(e.type)).map((e) => e.id)];
  const ids = final.received.map((e) => e.id);
  if (JSON.stringify(ids) !== JSON.stringify(expected)) {
    throw new Error(`the browser received ${JSON.stringify(ids)}, the feed holds ${JSON.stringify(expected)}`);
  }
  if (new Set(ids).size !== ids.length) throw new Error(`duplicates: ${JSON.stringify(ids)}`);
  log(`received ${ids.length} events over ${final.opens} connections, none missed or repeated`);
}

async function main() {
  const overall = setTimeout(() => fail(`no result after ${OVERALL_TIMEOUT / 1000} s`), OVERALL_TIMEOUT);
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>feed</title><p>change feed</p>");
  });
  await new Promise((resolve) => server.listen(pagePort, "127.0.0.1", resolve));
  let browser;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30_000,
      args: [
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  } catch (e) {
    fail(`could not start ${executablePath}: ${e.message}`);
  }
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  let failure = null;
  try {
    await run(page);
  } catch (e) {
    failure = e;
  }
  await browser.close().catch(() => {});
  server.close();
  clearTimeout(overall);
  if (errors.length) console.error(`page errors:\n  ${errors.join("\n  ")}`);
  if (failure) fail(failure.message);
  log("passed");
}

main().catch((e) => fail(e.stack || e.message));
