// The ops dashboard: reads /internal/ops/* with the session cookie and
// posts actions with the x-ops-csrf header. No framework, no CDN.
"use strict";

const $ = (sel) => document.querySelector(sel);
let cursor = null;
let nextCursor = null;
let selected = null;

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers: { accept: "application/json", ...(options.method === "POST" ? { "x-ops-csrf": "1" } : {}) },
  });
  if (response.status === 401) {
    window.location.assign("/ops");
    throw new Error("signed out");
  }
  if (response.status === 204) return null;
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || body.title || response.statusText);
  return body;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

const ago = (seconds) =>
  seconds == null ? "" : seconds < 90 ? `${Math.round(seconds)} s` : seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
// Every time in UTC, as the schedules are.
const when = (t) => (t ? `${new Date(t).toISOString().slice(0, 19).replace("T", " ")} UTC` : "");
const ms = (v) => (v == null ? "" : `${v.toFixed(1)} ms`);

async function loadQueues() {
  const queues = await api("/internal/ops/queues");
  const body = $("#queues tbody");
  body.replaceChildren();
  const select = $("#f-queue");
  for (const q of queues) {
    const row = body.insertRow();
    row.dataset.queue = q.queue;
    cell(row, q.queue);
    for (const k of ["pending", "scheduled", "running", "done_last_hour", "failed", "dead", "killed"]) {
      cell(row, q[k], "num").dataset.count = k;
    }
    cell(row, ago(q.oldest_pending_seconds), "num");
    cell(row, q.p50_run_ms == null ? "" : `${ms(q.p50_run_ms)} / ${ms(q.p95_run_ms)}`, "num");
    cell(row, q.failures_last_hour, "num");
    const actions = row.insertCell();
    if (q.dead > 0) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `Retry ${q.dead} dead`;
      button.dataset.retryDead = q.queue;
      button.addEventListener("click", () => retryDead(q.queue));
      actions.append(button);
    }
    if (![...select.options].some((o) => o.value === q.queue)) select.add(new Option(q.queue, q.queue));
  }
}

async function retryDead(queue) {
  try {
    const outcome = await api(`/internal/ops/queues/${encodeURIComponent(queue)}/retry-dead`, { method: "POST" });
    $("#bulk-result").textContent = `${outcome.queue}: ${outcome.retried} dead job${outcome.retried === 1 ? "" : "s"} retried`;
  } catch (e) {
    $("#bulk-result").textContent = `retry refused: ${e.message}`;
  }
  await refresh();
}

const SVG = "http://www.w3.org/2000/svg";
function svg(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text != null) el.textContent = text;
  return el;
}

// One small bar chart per queue that did anything in the hour: 60 bars,
// done stacked with failed attempts.
async function loadThroughput() {
  const series = await api("/internal/ops/throughput");
  const box = $("#throughput");
  box.replaceChildren();
  const active = series.filter((s) => s.done_per_minute.some((n) => n > 0) || s.failed_per_minute.some((n) => n > 0));
  if (active.length === 0) {
    box.textContent = "No jobs ran in the last hour.";
    return;
  }
  const w = 360, h = 60, bar = w / 60;
  for (const s of active) {
    const total = s.done_per_minute.map((n, i) => n + s.failed_per_minute[i]);
    const max = Math.max(1, ...total);
    const done = s.done_per_minute.reduce((a, b) => a + b, 0);
    const chart = svg("svg", { width: w, height: h + 14, viewBox: `0 0 ${w} ${h + 14}`, role: "img", "data-queue": s.queue, "data-done": done });
    chart.append(svg("title", {}, `${s.queue}: ${done} done in the last hour, at most ${max} a minute`));
    s.done_per_minute.forEach((n, i) => {
      const fh = (s.failed_per_minute[i] / max) * h;
      const dh = (n / max) * h;
      if (dh > 0) chart.append(svg("rect", { x: i * bar, y: h - dh - fh, width: bar - 1, height: dh, fill: "#3b6fd8" }));
      if (fh > 0) chart.append(svg("rect", { x: i * bar, y: h - fh, width: bar - 1, height: fh, fill: "#b00020" }));
    });
    chart.append(svg("line", { x1: 0, y1: h, x2: w, y2: h, stroke: "#999" }));
    chart.append(svg("text", { x: 0, y: h + 12, "font-size": 10 }, "60 min ago"));
    chart.append(svg("text", { x: w, y: h + 12, "font-size": 10, "text-anchor": "end" }, `now · max ${max}/min`));
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = `${s.queue}: ${done} done`;
    figure.append(caption, chart);
    box.append(figure);
  }
}

async function loadWorkers() {
  const workers = await api("/internal/ops/workers");
  const body = $("#workers tbody");
  body.replaceChildren();
  for (const w of workers) {
    const row = body.insertRow();
    row.dataset.instance = w.instance;
    cell(row, w.instance);
    cell(row, w.host);
    cell(row, w.status, w.status === "live" ? "state-done" : "state-dead");
    cell(row, when(w.last_heartbeat));
    cell(row, when(w.started_at));
    cell(row, w.queues.length, "num").title = w.queues.join(", ");
    cell(row, w.running.map((j) => `${j.queue} ${j.id}`).join(", ")).dataset.running = w.running.length;
  }
  if (workers.length === 0) cell(body.insertRow(), "No worker has a heartbeat in the last hour.").colSpan = 7;
}

async function loadSchedules() {
  const schedules = await api("/internal/ops/schedules");
  const body = $("#schedules tbody");
  body.replaceChildren();
  for (const s of schedules) {
    const row = body.insertRow();
    cell(row, s.name);
    cell(row, s.schedule);
    cell(row, when(s.next_run));
    cell(row, s.last_run ? when(s.last_run.run_at) : "never");
    cell(row, s.last_run ? s.last_run.state + (s.last_run.last_error ? `: ${s.last_run.last_error}` : "") : "", s.last_run ? `state-${s.last_run.state}` : "");
  }
}

// Finance answers 410 to disable its endpoint: handoffs then wait as
// paused until an operator enables it again.
async function loadFinance() {
  const endpoint = await api("/internal/ops/finance-endpoint");
  const disabled = endpoint.disabled_at != null;
  $("#fe-state").textContent = disabled ? "disabled" : "enabled";
  $("#fe-state").className = disabled ? "state-dead" : "state-done";
  const parts = [];
  if (disabled) parts.push(`since ${when(endpoint.disabled_at)}${endpoint.disabled_reason ? ` (${endpoint.disabled_reason})` : ""}`);
  parts.push(`${endpoint.paused} handoff${endpoint.paused === 1 ? "" : "s"} waiting`);
  $("#fe-detail").textContent = parts.join(", ");
  $("#fe-enable").hidden = !disabled && endpoint.paused === 0;
}

async function enableFinance() {
  try {
    const endpoint = await api("/internal/ops/finance-endpoint/enable", { method: "POST" });
    $("#fe-result").textContent = `enabled: ${endpoint.paused} still waiting`;
  } catch (e) {
    $("#fe-result").textContent = `enable refused: ${e.message}`;
  }
  await refresh();
}

async function loadJobs() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($("#filters"))) if (v) params.set(k, v);
  params.set("limit", "25");
  if (cursor) params.set("cursor", cursor);
  const page = await api(`/internal/ops/jobs?${params}`);
  nextCursor = page.next_cursor;
  $("#next-page").disabled = !nextCursor;
  const body = $("#jobs tbody");
  body.replaceChildren();
  for (const j of page.items) {
    const row = body.insertRow();
    row.dataset.job = j.id;
    cell(row, j.id);
    cell(row, j.queue);
    cell(row, j.state, `state-${j.state}`);
    cell(row, `${j.attempts} / ${j.max_attempts}`, "num");
    cell(row, when(j.run_at));
    cell(row, j.last_error);
    row.addEventListener("click", () => showJob(j.id));
  }
}

async function showJob(id) {
  if (id !== selected) $("#action-result").textContent = "";
  selected = id;
  const job = await api(`/internal/ops/jobs/${encodeURIComponent(id)}`);
  $("#detail").hidden = false;
  $("#d-id").textContent = job.id;
  $("#d-state").textContent = job.state;
  $("#d-state").className = `state-${job.state}`;
  $("#d-queue").textContent = job.queue;
  $("#d-attempts").textContent = `${job.attempts} of ${job.max_attempts}`;
  $("#retry").hidden = !["failed", "dead", "killed"].includes(job.state);
  $("#cancel").hidden = !["pending", "scheduled", "failed"].includes(job.state);
  $("#purge").hidden = !["failed", "dead", "killed"].includes(job.state);
  const times = $("#d-times");
  times.replaceChildren();
  for (const [label, value] of [["Run at", job.run_at], ["Locked at", job.locked_at], ["Locked by", job.locked_by], ["Done at", job.done_at]]) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = label === "Locked by" ? value || "" : when(value);
    times.append(dt, dd);
  }
  $("#d-payload").textContent = JSON.stringify(job.payload, null, 2);
  const errors = $("#d-errors");
  errors.replaceChildren();
  for (const e of job.errors) {
    const li = document.createElement("li");
    li.textContent = `attempt ${e.attempt} on ${e.worker} at ${when(e.failed_at)}: ${e.error}`;
    errors.append(li);
  }
  const audit = $("#d-audit");
  audit.replaceChildren();
  for (const a of job.audit) {
    const li = document.createElement("li");
    li.textContent = `${a.action} by ${a.actor} at ${when(a.at)}: ${a.from_state} to ${a.to_state}`;
    audit.append(li);
  }
}

async function act(action) {
  if (!selected) return;
  try {
    const job = await api(`/internal/ops/jobs/${encodeURIComponent(selected)}/${action}`, { method: "POST" });
    $("#action-result").textContent = `${action}: now ${job.state}`;
  } catch (e) {
    $("#action-result").textContent = `${action} refused: ${e.message}`;
  }
  await refresh();
}

async function purge() {
  if (!selected) return;
  try {
    await api(`/internal/ops/jobs/${encodeURIComponent(selected)}/purge`, { method: "POST" });
    $("#action-result").textContent = `purged ${selected}`;
    selected = null;
    $("#detail").hidden = true;
  } catch (e) {
    $("#action-result").textContent = `purge refused: ${e.message}`;
  }
  await refresh();
}

async function refresh() {
  try {
    await Promise.all([loadQueues(), loadSchedules(), loadFinance(), loadJobs(), loadWorkers(), loadThroughput()]);
    if (selected) await showJob(selected);
    $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $("#updated").textContent = `refresh failed: ${e.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    cursor = null;
    refresh();
  });
  $("#next-page").addEventListener("click", () => {
    cursor = nextCursor;
    refresh();
  });
  $("#first-page").addEventListener("click", () => {
    cursor = null;
    refresh();
  });
  $("#retry").addEventListener("click", () => act("retry"));
  $("#cancel").addEventListener("click", () => act("cancel"));
  $("#purge").addEventListener("click", purge);
  $("#fe-enable").addEventListener("click", enableFinance);
  refresh();
  setInterval(refresh, 3000);
});
