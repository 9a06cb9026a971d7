// The results browser: polls the views' /feed for tasks that changed, keeps one card per task, and draws
// throughput and latency from the tasks it has seen. Plain DOM, no framework; uPlot draws the charts.
// Data from the pipeline (prompts, answers, reasons) only ever reaches the page as textContent.
"use strict";

const POLL_MS = 1000;
// The views merge each topic's news of a task in no fixed order, so a change can carry an older time than
// the task's last one; asking again a little before the cursor picks such late changes up.
const OVERLAP_MS = 5000;
const PAGE = 500;
const FINAL = new Set(["answered", "rejected", "failed"]);
const PROBLEM = new Set(["rejected", "failed", "dead_lettered"]);

const tasks = new Map();   // task id -> the task as /feed gave it last
const cards = new Map();   // task id -> its card element
const filter = { kind: "all", status: "all" };
let cursor = 0;            // the latest updated_ms seen
let charts = null;

function statusGroup(state) {
  if (state === "answered" || state === "rejected" || state === "failed") return state;
  return "progress";
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function media(which, id) {
  return "media/" + which + "/" + encodeURIComponent(id);
}

function picture(which, t) {
  const img = el("img", which === "generated" ? "generated" : "input");
  img.loading = "lazy";
  img.alt = which === "generated" ? "generated image" : (t.image || "input image");
  img.src = media(which, t.task_id);
  img.onerror = () => img.replaceWith(el("div", "noimage",
      which === "generated" ? "generated image not shown" : (t.image || "image not shown")));
  return img;
}

/** The model's reply to a generate task is the generator's prompt between <h> and </h>: shown without the tags. */
function answerNode(t) {
  const p = el("div", "answer");
  const m = t.kind === "generate" && t.answer ? /<h>([\s\S]*?)<\/h>/.exec(t.answer) : null;
  if (m) {
    p.append(el("span", "tag", "prompt for the generator: "), document.createTextNode(m[1]));
  } else {
    p.textContent = t.answer;
  }
  return p;
}

function fillCard(card, t) {
  card.replaceChildren();
  card.dataset.kind = t.kind || "";
  card.dataset.state = t.state;
  const pictures = el("div", "pictures");
  pictures.append(picture("input", t));
  if (t.generated_image) pictures.append(picture("generated", t));
  card.append(pictures);

  const body = el("div", "body");
  const meta = el("div", "meta");
  meta.append(el("span", "badge kind", t.kind || "?"), el("span", "badge state-" + t.state, t.state.replace("_", " ")));
  body.append(meta, el("div", "id", t.task_id));
  if (t.prompt) body.append(el("div", "prompt", t.prompt));
  if (t.answer) body.append(answerNode(t));
  if (t.reason || t.dead_letter) body.append(el("div", "reason", t.reason || t.dead_letter));
  if (t.latency_ms !== undefined) {
    body.append(el("div", "timing", t.latency_ms + " ms" + (t.model_id ? " \u00b7 " + t.model_id : "")));
  }
  card.append(body);
  applyFilter(card);
}

function applyFilter(card) {
  const kindOk = filter.kind === "all" || card.dataset.kind === filter.kind;
  const statusOk = filter.status === "all" || statusGroup(card.dataset.state) === filter.status;
  card.classList.toggle("hidden", !(kindOk && statusOk));
}

function upsert(t) {
  const known = tasks.get(t.task_id);
  tasks.set(t.task_id, t);
  cursor = Math.max(cursor, t.updated_ms);
  if (known && known.updated_ms === t.updated_ms && known.state === t.state && known.answer === t.answer
      && known.generated_image === t.generated_image && known.prompt === t.prompt) {
    return false;
  }
  let card = cards.get(t.task_id);
  if (!card) {
    card = el("article", "card");
    card.dataset.task = t.task_id;
    cards.set(t.task_id, card);
    document.getElementById("gallery").prepend(card); // newest first
  }
  fillCard(card, t);
  return true;
}

function renderCounts() {
  const n = { answered: 0, rejected: 0, failed: 0, progress: 0 };
  for (const t of tasks.values()) n[statusGroup(t.state)]++;
  document.getElementById("count-total").textContent = tasks.size;
  for (const k of Object.keys(n)) document.getElementById("count-" + k).textContent = n[k];
  let shown = 0;
  for (const c of cards.values()) if (!c.classList.contains("hidden")) shown++;
  document.getElementById("shown").textContent = shown + " of " + tasks.size + " shown";
  document.getElementById("empty").hidden = tasks.size > 0;
}

function renderProblems() {
  const rows = [];
  for (const t of tasks.values()) {
    if (!PROBLEM.has(t.state)) continue;
    const tr = el("tr");
    tr.dataset.task = t.task_id;
    tr.append(el("td", null, t.task_id), el("td", null, t.kind || ""), el("td", null, t.image || ""),
        el("td", null, t.state.replace("_", " ")), el("td", "reason", t.reason || t.dead_letter || ""));
    rows.push(tr);
  }
  document.getElementById("problem-rows").replaceChildren(...rows);
  document.getElementById("problems").hidden = rows.length === 0;
}

/** Finished tasks per time bucket: throughput, and latency's median and 95th percentile. */
function series() {
  const done = [];
  for (const t of tasks.values()) if (FINAL.has(t.state) && t.answered_ms) done.push(t);
  if (done.length === 0) return null;
  let lo = Infinity, hi = -Infinity;
  for (const t of done) { lo = Math.min(lo, t.answered_ms); hi = Math.max(hi, t.answered_ms); }
  const spanS = Math.max(1, (hi - lo) / 1000);
  // about 60 points whatever the run's length: a quarter second in a demo, minutes in a long run
  const bucketS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 600, 1800, 3600].find(b => spanS / b <= 60) || 3600;
  const start = Math.floor(lo / 1000 / bucketS) * bucketS;
  const n = Math.floor((hi / 1000 - start) / bucketS) + 1;
  const lat = Array.from({ length: n }, () => []);
  for (const t of done) {
    const i = Math.floor((t.answered_ms / 1000 - start) / bucketS);
    lat[i].push(t.latency_ms === undefined ? null : t.latency_ms);
  }
  const xs = [], rate = [], p50 = [], p95 = [];
  for (let i = 0; i < n; i++) {
    xs.push(start + i * bucketS);
    rate.push(lat[i].length / bucketS);
    const l = lat[i].filter(v => v !== null).sort((a, b) => a - b);
    p50.push(l.length ? l[Math.floor((l.length - 1) * 0.5)] : null);
    p95.push(l.length ? l[Math.floor((l.length - 1) * 0.95)] : null);
  }
  return { xs, rate, p50, p95 };
}

function chartWidth(id) {
  return Math.max(300, document.getElementById(id).clientWidth);
}

function makeCharts() {
  const base = (id, series, data) => new uPlot({
    width: chartWidth(id), height: 200, series,
    scales: { x: { time: true } },
    axes: [{}, { size: 60 }],
    legend: { live: false },
  }, data, document.getElementById(id));
  return {
    throughput: base("chart-throughput", [{}, { label: "tasks/s", stroke: "#3b5bdb", fill: "rgba(59,91,219,.12)", width: 2 }],
        [[], []]),
    latency: base("chart-latency", [{}, { label: "median", stroke: "#1a7f37", width: 2, spanGaps: true },
        { label: "95th percentile", stroke: "#b35900", width: 2, spanGaps: true }], [[], [], []]),
  };
}

function renderCharts() {
  if (typeof uPlot === "undefined") return;
  if (!charts) charts = makeCharts();
  const s = series();
  if (!s) return;
  charts.throughput.setData([s.xs, s.rate]);
  charts.latency.setData([s.xs, s.p50, s.p95]);
}

function setConnection(text, down) {
  const c = document.getElementById("connection");
  c.textContent = text;
  c.classList.toggle("down", !!down);
}

async function poll() {
  let since = Math.max(0, cursor - OVERLAP_MS);
  let after = "";
  let changed = false;
  try {
    for (let page = 0; page < 40; page++) {
      const r = await fetch("feed?limit=" + PAGE + "&since=" + since + "&after=" + encodeURIComponent(after),
          { cache: "no-store" });
      if (!r.ok) {
        const why = await r.json().then(b => b.error).catch(() => "HTTP " + r.status);
        setConnection("views not ready (" + why + "), retrying", r.status !== 503);
        break;
      }
      const body = await r.json();
      for (const t of body.tasks) changed = upsert(t) || changed;
      since = body.since;
      after = body.after;
      setConnection("live \u00b7 updated " + new Date().toLocaleTimeString());
      if (!body.more) break;
    }
  } catch (e) {
    setConnection("cannot reach the views (" + e.message + "); the run may have ended. Retrying...", true);
  }
  if (changed || !charts) {
    renderCounts();
    renderProblems();
    renderCharts();
  }
  setTimeout(poll, POLL_MS);
}

function setUpFilters() {
  for (const [group, key] of [["filter-kind", "kind"], ["filter-status", "status"]]) {
    const buttons = document.querySelectorAll("#" + group + " button");
    for (const b of buttons) {
      b.addEventListener("click", () => {
        filter[key] = b.dataset[key];
        for (const o of buttons) o.classList.toggle("on", o === b);
        for (const c of cards.values()) applyFilter(c);
        renderCounts();
      });
    }
  }
  window.addEventListener("resize", () => {
    if (!charts) return;
    charts.throughput.setSize({ width: chartWidth("chart-throughput"), height: 200 });
    charts.latency.setSize({ width: chartWidth("chart-latency"), height: 200 });
  });
}

setUpFilters();
poll();
