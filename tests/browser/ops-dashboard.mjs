// The ops dashboard in a real browser (Debian's Chromium, headless, driven
// by playwright-core): sign in with the key through the form, find the dead
// canary job, open it, retry it, and watch it finish; then enable the
// Finance endpoint, which the test disabled as a 410 from Finance would;
// last, open the API docs (Swagger UI) and see its operations listed. Both
// pages run under their Content-Security-Policy (checked present), and any
// violation it reports fails the run.
//
// Run by tests/tests/api/ops_browser.rs, which starts the API and the worker
// and makes the dead job first. Environment:
//   BASE_URL    the API, e.g. http://127.0.0.1:41234
//   OPS_KEY     an internal API key (typed into the form, never in a URL)
//   SCREENSHOT  where to save a PNG of the page at the end (also on failure)
//   QUEUE       the dead job's queue (default queue_canary)
//   CHROMIUM    the browser (default /usr/bin/chromium)
// Exits 0 when every step passed, 1 with a message otherwise.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { chromium } from "playwright-core";

const STEP_TIMEOUT = 20_000;
const DONE_TIMEOUT = 60_000;
const OVERALL_TIMEOUT = 150_000;

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (!value) fail(`${name} is not set`);
  return value;
}

function fail(message) {
  console.error(`ops-dashboard: FAILED: ${message}`);
  process.exit(1);
}

const base = env("BASE_URL").replace(/\/+$/, "");
const key = env("OPS_KEY");
const screenshot = env("SCREENSHOT");
const queue = env("QUEUE", "queue_canary");
const executablePath = env("CHROMIUM", "/usr/bin/chromium");

const consoleErrors = [];
const pageErrors = [];
const cspViolations = [];
const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);

// Polls `read` until `accept` takes its value; the error names what was last seen.
async function until(what, read, accept, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch (e) {
      last = `(error: ${e.message.split("\n")[0]})`;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const text = (locator) => locator.textContent({ timeout: 1_000 }).then((t) => (t ?? "").trim());

async function run(page, context) {
  // Sign in: the key goes into the form's body, never into a URL.
  page.on("request", (request) => {
    if (request.url().includes(key)) pageErrors.push(`the key appeared in a URL: ${request.method()} ${request.url()}`);
  });
  const response = await page.goto(`${base}/ops`);
  if (!response || response.status() !== 200) throw new Error(`GET /ops answered ${response && response.status()}`);
  requirePolicy("/ops", response);
  log("sign-in form loaded");
  await page.locator('input[name="key"]').fill(key);
  const [login] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}/ops/login` && r.request().method() === "POST"),
    page.locator('form[action="/ops/login"] button[type="submit"]').click(),
  ]);
  if (login.status() !== 303) {
    const body = await login.text().catch(() => "");
    throw new Error(`sign-in answered ${login.status()} (expected 303 to /ops): ${body.slice(0, 300)}`);
  }
  await page.locator("#queues").waitFor();
  const session = (await context.cookies()).find((c) => c.name === "kisum_ops");
  if (!session) throw new Error("no kisum_ops session cookie after signing in");
  if (!session.httpOnly || session.sameSite !== "Strict") {
    throw new Error(`the session cookie is not HttpOnly and SameSite=Strict: ${JSON.stringify(session)}`);
  }
  log("signed in");

  // The queue table counts the dead job.
  const queueRow = page.locator(`#queues tbody tr[data-queue="${queue}"]`);
  const count = (state) => text(queueRow.locator(`td[data-count="${state}"]`));
  await until(`${queue} to show 1 dead job in #queues`, () => count("dead"), (v) => v === "1");
  log(`#queues: ${queue} has 1 dead job`);

  // Narrow the job list to the queue (cron jobs fill the first page too).
  await until(`${queue} in the queue filter`, () => page.locator(`#f-queue option[value="${queue}"]`).count(), (n) => n === 1);
  await page.locator("#f-queue").selectOption(queue);
  await page.locator('#filters button[type="submit"]').click();
  const deadRow = page.locator("#jobs tbody tr[data-job]").filter({ has: page.locator("td.state-dead") });
  const id = await until("a dead job in #jobs", () => deadRow.first().getAttribute("data-job", { timeout: 1_000 }), (v) => !!v);
  log(`#jobs: dead job ${id}`);

  // Open it. The table is redrawn every 3 s, so the click goes to the row
  // by its id, and is repeated until the detail shows that job.
  const detailId = page.locator("#d-id");
  await until(
    `the detail of job ${id}`,
    async () => {
      if ((await text(detailId).catch(() => "")) !== id) {
        await page.locator(`#jobs tbody tr[data-job="${id}"]`).click({ timeout: 2_000 });
      }
      return (await page.locator("#detail").isVisible()) ? text(detailId) : "(hidden)";
    },
    (v) => v === id,
  );
  await until("#d-state to be dead", () => text(page.locator("#d-state")), (v) => v === "dead");
  log("#detail: dead");

  // Retry, and wait until the worker has run it.
  await page.locator("#retry").click({ timeout: STEP_TIMEOUT });
  const result = await until("#action-result after Retry", () => text(page.locator("#action-result")), (v) => v !== "");
  if (!result.startsWith("retry: now")) throw new Error(`Retry was refused: ${result}`);
  log(`#action-result: ${result}`);
  await until("#d-state to be done", () => text(page.locator("#d-state")), (v) => v === "done", DONE_TIMEOUT);
  log("#detail: done");

  // The operator action is in the job's audit, and the queue has no dead job.
  await until(
    "the retry in the operator actions",
    () => text(page.locator("#d-audit")),
    (v) => v.includes("retry by ops-session"),
  );
  await until(`${queue} to show 0 dead jobs in #queues`, () => count("dead"), (v) => v === "0");
  await until(`${queue} to show 1 done job in #queues`, () => count("done_last_hour"), (v) => v === "1");
  if (await page.locator("#retry").isVisible()) throw new Error("Retry is still offered for a done job");
  log("#queues: no dead job, 1 done");

  // The worker process is listed live, and the queue's throughput chart
  // (inline SVG) counts the job it finished.
  await until(
    "a live worker process in #workers",
    () => page.locator("#workers tbody tr[data-instance] td.state-done").count(),
    (n) => n >= 1,
  );
  log("#workers: a live process");
  await until(
    `${queue} in the throughput chart`,
    () => page.locator(`#throughput svg[data-queue="${queue}"]`).getAttribute("data-done", { timeout: 1_000 }),
    (v) => Number(v) >= 1,
  );
  log("#throughput: drawn");

  // The Finance endpoint is shown disabled, with its reason, and enabled
  // with one click.
  await until("#fe-state to be disabled", () => text(page.locator("#fe-state")), (v) => v === "disabled");
  const detail = await text(page.locator("#fe-detail"));
  if (!detail.includes("410")) throw new Error(`the disabled endpoint's reason is not shown: ${detail}`);
  log(`#finance: disabled, ${detail}`);
  await page.locator("#fe-enable").click({ timeout: STEP_TIMEOUT });
  const enabled = await until("#fe-result after Enable", () => text(page.locator("#fe-result")), (v) => v !== "");
  if (!enabled.startsWith("enabled")) throw new Error(`Enable was refused: ${enabled}`);
  await until("#fe-state to be enabled", () => text(page.locator("#fe-state")), (v) => v === "enabled");
  log(`#finance: ${enabled}`);

  // Swagger UI, in a second tab, renders the operations under its policy.
  const docsPage = watch(await context.newPage());
  const docs = await docsPage.goto(`${base}/api/v1/docs/`);
  if (!docs || docs.status() !== 200) throw new Error(`GET /api/v1/docs/ answered ${docs && docs.status()}`);
  requirePolicy("/api/v1/docs/", docs);
  const operations = await until("operations listed in Swagger UI", () => docsPage.locator(".opblock").count(), (n) => n >= 10);
  await docsPage.locator(".opblock-summary-path").first().waitFor();
  log(`/api/v1/docs: ${operations} operations listed`);

  if (cspViolations.length) throw new Error(`Content-Security-Policy violations:\n  ${cspViolations.join("\n  ")}`);
  if (pageErrors.length) throw new Error(`errors in the page:\n  ${pageErrors.join("\n  ")}`);
}

// Collects the page's console errors, uncaught errors and policy violations.
function watch(page) {
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`${message.text()} (${message.location().url || "page"})`);
    if (message.text().includes("Content Security Policy")) cspViolations.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => pageErrors.push(`uncaught: ${error.message}`));
  return page;
}

// The page came with a restrictive Content-Security-Policy.
function requirePolicy(path, response) {
  const csp = response.headers()["content-security-policy"] ?? "";
  for (const directive of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
    if (!csp.includes(directive)) throw new Error(`${path}: no ${directive} in its Content-Security-Policy: ${JSON.stringify(csp)}`);
  }
  if (csp.includes("unsafe-")) throw new Error(`${path}: the policy allows unsafe sources: ${csp}`);
}

async function main() {
  const overall = setTimeout(() => fail(`no result after ${OVERALL_TIMEOUT / 1000} s`), OVERALL_TIMEOUT);
  let browser;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30_000,
      // Without these Chromium keeps reaching for Google's hosts, which a
      // closed network refuses; /dev/shm is small in containers.
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
  log(`started ${executablePath} ${browser.version()}`);
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  // Every violation the policy reports, on every page the run opens.
  await context.exposeBinding("reportCspViolation", (_source, violation) => cspViolations.push(violation));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.reportCspViolation(
        `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} on ${e.documentURI} (${e.sourceFile || "?"}:${e.lineNumber})`,
      );
    });
  });
  const page = watch(await context.newPage());
  mkdirSync(dirname(screenshot), { recursive: true });

  let failure = null;
  try {
    await run(page, context);
  } catch (e) {
    failure = e;
  }
  try {
    await page.screenshot({ path: screenshot, fullPage: true });
    log(`screenshot: ${screenshot}`);
  } catch (e) {
    failure ??= new Error(`saving the screenshot: ${e.message}`);
  }
  if (consoleErrors.length) console.error(`browser console errors:\n  ${consoleErrors.join("\n  ")}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join("\n  ")}`);
  await browser.close().catch(() => {});
  clearTimeout(overall);
  if (failure) fail(`${failure.message}\n  (page at ${page.url()}; screenshot of that state: ${screenshot})`);
  log("passed");
}

main().catch((e) => fail(e.stack || e.message));
