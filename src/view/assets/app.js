// guild view: runs, a run, compare, sweeps. Plain JS, no build step; every
// answer comes from the /api endpoints of `guild view` (the CLI's JSON).
"use strict";
const $ = (sel, el = document) => el.querySelector(sel);
const main = () => $("#main");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const api = async (path) => {
  const r = await fetch(path, { cache: "no-store" });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
};
// A change (label, tag, delete, restore) carries the view's CSRF token,
// which only a page of the view's own origin can read from /api/config.
let config = null;
const getConfig = async () => (config ??= await api("/api/config"));
const post = async (path) => {
  const cfg = await getConfig();
  const r = await fetch(path, { method: "POST", headers: { "X-Guild-Csrf": cfg.csrf } });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
};
const view = { timer: null, page: null };
window.__view = { charts: {}, runs: [] };

function stopTimers() {
  if (view.timer) clearInterval(view.timer);
  view.timer = null;
}

function fmtTime(us) {
  if (!us) return "";
  const d = new Date(us / 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function duration(r) {
  if (!r.started) return "";
  const end = r.stopped || (statusWord(r.status) === "running" ? Date.now() * 1000 : null);
  if (!end) return "";
  let t = Math.max(0, Math.round((end - r.started) / 1e6));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
}

function statusWord(s) {
  return String(s || "").split(" ")[0];
}

// ---- Runs: a virtualised table (only the visible rows are in the DOM).
const ROW = 28;
const state = { runs: [], filtered: [], selected: new Set(), text: "", status: "", server: { op: "", label: "", tag: "", started: "" }, cols: "", extra: {} };

// Chosen flag and scalar columns (`lr, loss`, `max acc`): the compare
// rows of every run, by short id.
async function loadColumns() {
  state.extra = {};
  const names = state.cols.split(",").map((c) => c.trim()).filter(Boolean);
  if (names.length) {
    const c = await api("/api/compare?cols=" + encodeURIComponent(names.join(",")));
    for (const r of c.rows) state.extra[String(r.run)] = r;
  }
  state.colNames = names;
}

function gridColumns() {
  const n = (state.colNames || []).length;
  return "28px 60px 90px 180px 150px 70px 80px 1fr 160px 180px" + " 100px".repeat(n);
}

function applyFilter() {
  const t = state.text.toLowerCase();
  state.filtered = state.runs.filter((r) => {
    if (state.status && statusWord(r.status) !== state.status) return false;
    if (!t) return true;
    return [r.id, r.operation, r.label, r.name, (r.tags || []).join(" ")].some((v) => String(v || "").toLowerCase().includes(t));
  });
}

function renderRows() {
  const sc = $("#scroller");
  if (!sc) return;
  const inner = $("#inner");
  inner.style.height = state.filtered.length * ROW + "px";
  const first = Math.max(0, Math.floor(sc.scrollTop / ROW) - 10);
  const last = Math.min(state.filtered.length, first + Math.ceil(sc.clientHeight / ROW) + 20);
  let html = "";
  for (let i = first; i < last; i++) {
    const r = state.filtered[i];
    const st = statusWord(r.status);
    html += `<div class="row" data-id="${esc(r.id)}" style="top:${i * ROW}px;grid-template-columns:${gridColumns()}">
      <span><input type="checkbox" class="sel" data-id="${esc(r.id)}" ${state.selected.has(r.id) ? "checked" : ""}></span>
      <span class="muted">${i + 1}</span>
      <span><a href="#/run/${esc(r.id)}">${esc(r.id.slice(0, 8))}</a></span>
      <span>${esc(r.operation)}</span>
      <span>${esc(fmtTime(r.started))}</span>
      <span class="dur">${esc(duration(r))}</span>
      <span><span class="status ${esc(st)}">${esc(r.status)}</span></span>
      <span>${esc(r.label)}</span>
      <span>${esc((r.tags || []).join(", "))}</span>
      <span class="muted">${esc(r.name)}</span>${(state.colNames || []).map((c) => `<span class="col">${esc((state.extra[r.id.slice(0, 8)] || {})[c])}</span>`).join("")}</div>`;
  }
  $("#rows").innerHTML = html;
  $("#count").textContent = `${state.filtered.length} of ${state.runs.length} runs`;
}

async function loadRuns() {
  const q = new URLSearchParams(Object.entries(state.server).filter(([, v]) => v)).toString();
  state.runs = await api("/api/runs" + (q ? "?" + q : ""));
  window.__view.runs = state.runs;
  applyFilter();
  renderRows();
  $("#live").textContent = "updated " + new Date().toLocaleTimeString();
}

async function pageRuns() {
  main().innerHTML = `<h2>Runs</h2>
    <div class="bar"><input id="q" placeholder="search id, operation, label, tag, name" size="40" value="${esc(state.text)}">
    <select id="st"><option value="">any status</option>${["running", "completed", "error", "terminated", "pending", "staged"].map((s) => `<option ${state.status === s ? "selected" : ""}>${s}</option>`).join("")}</select>
    <button id="cmp">Compare selected</button><span id="count" class="muted"></span></div>
    <div class="bar"><input id="f-op" placeholder="operation" value="${esc(state.server.op)}"><input id="f-label" placeholder="label" value="${esc(state.server.label)}">
    <input id="f-tag" placeholder="tag" value="${esc(state.server.tag)}"><input id="f-started" placeholder="started (e.g. last 2 hours, today)" size="30" value="${esc(state.server.started)}">
    <input id="f-cols" placeholder="columns: lr, loss, max acc" size="28" value="${esc(state.cols)}"></div>
    <div class="table"><div class="thead" id="thead"></div>
    <div id="scroller" class="scroller"><div id="inner"><div id="rows"></div></div></div></div>`;
  $("#q").oninput = (e) => { state.text = e.target.value; applyFilter(); renderRows(); };
  $("#st").onchange = (e) => { state.status = e.target.value; applyFilter(); renderRows(); };
  $("#scroller").onscroll = renderRows;
  const head = () => {
    $("#thead").style.gridTemplateColumns = gridColumns();
    $("#thead").innerHTML = ["", "#", "id", "operation", "started", "time", "status", "label", "tags", "name", ...(state.colNames || [])].map((h) => `<span>${esc(h)}</span>`).join("");
  };
  head();
  $("#f-cols").onchange = async (e) => {
    state.cols = e.target.value;
    try { await loadColumns(); } catch (err) { $("#count").textContent = err.message; }
    head();
    renderRows();
  };
  for (const k of ["op", "label", "tag", "started"]) {
    $("#f-" + k).onchange = (e) => { state.server[k] = e.target.value; loadRuns().catch((err) => { $("#count").textContent = err.message; }); };
  }
  $("#rows").onchange = (e) => {
    if (!e.target.classList.contains("sel")) return;
    const id = e.target.dataset.id;
    e.target.checked ? state.selected.add(id) : state.selected.delete(id);
  };
  $("#cmp").onclick = () => {
    const ids = [...state.selected];
    if (ids.length) location.hash = "#/compare?ids=" + ids.join(",");
  };
  await loadRuns();
  view.timer = setInterval(() => loadRuns().catch(() => {}), 2000);
}

// ---- A run: flags, attributes, scalars, files, output (tailed live).
function kv(obj) {
  const rows = Object.entries(obj || {}).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</td></tr>`).join("");
  return `<table class="kv">${rows || '<tr><td class="muted">none</td></tr>'}</table>`;
}

async function pageRun(id) {
  const info = await api("/api/run?id=" + encodeURIComponent(id));
  const files = await api("/api/files?id=" + encodeURIComponent(id));
  const attrs = {};
  for (const k of ["id", "operation", "status", "started", "stopped", "label", "exit_status", "run_dir", "sourcecode_digest"]) if (k in info) attrs[k] = info[k];
  // Each scalar: {first, last, min, max: [value, step], ...}.
  const scalarRows = Object.entries(info.scalars || {}).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v.last?.[0])}</td><td>${esc(v.min?.[0])}</td><td>${esc(v.max?.[0])}</td><td>${esc(v.last?.[1])}</td></tr>`).join("");
  const fileItems = files.filter((f) => !f.dir).map((f) => {
    const href = `/api/file?id=${encodeURIComponent(id)}&path=${encodeURIComponent(f.path)}`;
    const img = /\.(png|jpe?g|gif|svg)$/i.test(f.path) ? `<img src="${href}" alt="${esc(f.path)}">` : "";
    return `<li><a href="${href}" target="_blank">${esc(f.path)}</a> <span class="muted">${f.size} bytes</span>${img}</li>`;
  }).join("");
  main().innerHTML = `<h2>Run ${esc(id.slice(0, 8))} <span id="runstatus" class="status ${esc(statusWord(info.status))}">${esc(info.status)}</span></h2>
    <div class="bar"><a href="#/compare?ids=${esc(id)}">Charts</a><span id="edit"></span></div>
    <h3>Flags</h3><div id="flags">${kv(info.flags)}</div>
    <h3>Attributes</h3>${kv(attrs)}
    ${(info.datastores || []).length ? `<h3>Datastores</h3><table class="kv" id="datastores"><tr><th>datastore</th><th>mount</th><th>manifest</th></tr>${info.datastores.map((d) => `<tr><td>${esc(d.name)}:${esc(d.version)}</td><td>${esc(d.mount)}</td><td>${esc(String(d.manifest).slice(0, 12))}</td></tr>`).join("")}</table>` : ""}
    <h3>Scalars</h3><table class="kv" id="scalars"><tr><th>key</th><th>last</th><th>min</th><th>max</th><th>step</th></tr>${scalarRows}</table>
    <h3>Files</h3><ul class="files">${fileItems || '<li class="muted">none</li>'}</ul>
    <h3>Output <span id="outcount" class="muted"></span> <button id="earlier">earlier lines</button></h3><pre class="output" id="output"></pre>`;
  const cfg = await getConfig();
  if (cfg.allow_edit) {
    $("#edit").innerHTML = ` <input id="e-label" placeholder="label" value="${esc(info.label)}"><button id="e-set">set label</button>
      <input id="e-tag" placeholder="tag" size="10"><button id="e-tag-add">add tag</button> <button id="e-del">delete</button>`;
    const q = (o) => "?" + new URLSearchParams({ id: info.id, ...o }).toString();
    $("#e-set").onclick = () => post("/api/label" + q({ label: $("#e-label").value })).then(route);
    $("#e-tag-add").onclick = () => post("/api/tag" + q({ add: $("#e-tag").value })).then(route);
    $("#e-del").onclick = () => post("/api/delete" + q({})).then(() => { location.hash = "#/"; });
  }
  const out = $("#output");
  let first = 0, next = 0;
  const line = (l) => `<div${l[1] === 1 ? ' class="err"' : ""}><span class="t">${esc(new Date(l[0]).toLocaleTimeString())}</span>${esc(l[2])}</div>`;
  const page = await api(`/api/output?id=${encodeURIComponent(id)}&start=-1000&count=1000`);
  first = page.start; next = page.start + page.lines.length;
  out.innerHTML = page.lines.map(line).join("");
  out.scrollTop = out.scrollHeight;
  $("#outcount").textContent = `(${page.total} lines)`;
  $("#earlier").onclick = async () => {
    if (first === 0) return;
    const start = Math.max(0, first - 1000);
    // keep=last: when these lines hold more than a page, the ones next to
    // what is shown come back, and p.start says where they begin.
    const p = await api(`/api/output?id=${encodeURIComponent(id)}&start=${start}&count=${first - start}&keep=last`);
    out.insertAdjacentHTML("afterbegin", p.lines.map(line).join(""));
    first = p.start;
  };
  // Tail while the run goes on; its status changes without a reload.
  view.timer = setInterval(async () => {
    try {
      const p = await api(`/api/output?id=${encodeURIComponent(id)}&start=${next}&count=5000`);
      if (p.lines.length) {
        const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
        out.insertAdjacentHTML("beforeend", p.lines.map(line).join(""));
        next += p.lines.length;
        if (atEnd) out.scrollTop = out.scrollHeight;
      }
      $("#outcount").textContent = `(${p.total} lines)`;
      const runs = await api("/api/runs");
      const r = runs.find((x) => x.id === info.id);
      if (r) {
        const el = $("#runstatus");
        el.textContent = r.status;
        el.className = "status " + statusWord(r.status);
      }
    } catch (e) { /* the next tick tries again */ }
  }, 300);
}

// ---- Compare: each scalar as a chart, one series per run.
function ema(values, alpha) {
  if (!alpha) return values;
  let last = null;
  return values.map((v) => {
    if (v == null || !isFinite(v)) return v;
    last = last == null ? v : alpha * last + (1 - alpha) * v;
    return last;
  });
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

async function pageCompare(params) {
  const ids = (params.get("ids") || "").split(",").filter(Boolean);
  main().innerHTML = `<h2>Compare ${ids.length} run${ids.length === 1 ? "" : "s"}</h2>
    <div class="bar"><label>smoothing <input id="smooth" type="range" min="0" max="0.99" step="0.01" value="0"></label>
    <label><input id="logy" type="checkbox"> log scale</label>
    <label>x <select id="xaxis"><option value="step">step</option><option value="time">time (s)</option></select></label>
    <label>group by <select id="group"><option value="">(each run)</option></select></label>
    <a id="csv" href="/api/compare.csv?${ids.map((i) => "run=" + encodeURIComponent(i)).join("&")}">download CSV</a></div>
    <div class="charts" id="charts"></div>
    <h3>Flags to a metric <select id="pc-metric"></select></h3><div id="parcoords"></div>
    <h3>Table</h3><div id="cmptable"></div>`;
  const width = Math.max(300, Math.floor(($("#charts").clientWidth || 1000) / 2) - 30);
  const q = ids.map((i) => "run=" + encodeURIComponent(i)).join("&");
  let series = await api(`/api/series?${q}&points=${width * 2}`);
  let timed = null; // fetched the first time x = time is chosen
  const table = await api("/api/compare?" + ids.map((i) => "run=" + encodeURIComponent(i)).join("&"));
  compareTable(table);
  // Flag columns: those between the fixed ones and the scalars.
  const fixed = new Set(["run", "operation", "started", "time", "status", "label", "step"]);
  const flagCols = table.header.filter((h) => !fixed.has(h) && !series.some((s) => s.tag === h));
  const scalarCols = table.header.filter((h) => series.some((s) => s.tag === h));
  const flagsOf = (runId) => table.rows.find((r) => runId.startsWith(String(r.run))) || {};
  $("#group").innerHTML += flagCols.map((f) => `<option>${esc(f)}</option>`).join("");
  $("#pc-metric").innerHTML = scalarCols.map((m) => `<option>${esc(m)}</option>`).join("");
  const drawPc = () => parallelCoords(table.rows, flagCols, $("#pc-metric").value);
  $("#pc-metric").onchange = drawPc;
  const byTag = {};
  for (const s of series) (byTag[s.tag] = byTag[s.tag] || []).push(s);
  const draw = async () => {
    if ($("#xaxis").value === "time" && !timed) {
      timed = await api(`/api/series?${q}&points=${width * 2}&times=1`);
      const byKey = new Map(timed.map((s) => [s.run + "\u0000" + s.tag, s]));
      for (const s of series) s.times = (byKey.get(s.run + "\u0000" + s.tag) || {}).times || [];
    }
    const alpha = parseFloat($("#smooth").value);
    const logy = $("#logy").checked;
    const groupBy = $("#group").value;
    const xKey = $("#xaxis").value === "time" ? "times" : "steps";
    $("#charts").innerHTML = "";
    window.__view.charts = {};
    for (const [tag, list] of Object.entries(byTag).sort()) {
      // One x axis: the union of the steps; each run's values at its steps.
      // Series logged without steps (all at one step) are drawn by index.
      for (const s of list) if (s.steps.length > 1 && s.steps.every((x) => x === s.steps[0])) s.steps = s.steps.map((_, i) => i);
      const xs = [...new Set(list.flatMap((s) => s[xKey]))].sort((a, b) => a - b);
      const data = [xs];
      const ysOf = (s) => {
        const at = new Map(s[xKey].map((x, i) => [x, s.values[i]]));
        return ema(xs.map((x) => (at.has(x) ? at.get(x) : null)), alpha);
      };
      const clean = (ys) => ys.map((v) => (logy && v != null && v <= 0 ? null : v));
      let seriesOpts = [];
      let bands = [];
      let groups = null;
      if (groupBy) {
        // One line per value of the flag: the mean of its runs, with a
        // band from their min to their max.
        groups = {};
        for (const s of list) (groups[String(flagsOf(s.run)[groupBy])] = groups[String(flagsOf(s.run)[groupBy])] || []).push(ysOf(s));
        Object.entries(groups).forEach(([val, members], g) => {
          const at = (i) => members.map((ys) => ys[i]).filter((v) => v != null);
          const mean = xs.map((_, i) => { const v = at(i); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; });
          const lo = xs.map((_, i) => { const v = at(i); return v.length ? Math.min(...v) : null; });
          const hi = xs.map((_, i) => { const v = at(i); return v.length ? Math.max(...v) : null; });
          const color = COLORS[g % COLORS.length];
          const base = data.length;
          data.push(clean(mean), clean(hi), clean(lo));
          seriesOpts.push({ label: `${groupBy}=${val} (${members.length})`, stroke: color, spanGaps: true },
            { label: "max", stroke: "transparent", spanGaps: true, points: { show: false } },
            { label: "min", stroke: "transparent", spanGaps: true, points: { show: false } });
          bands.push({ series: [base + 1, base + 2], fill: color + "33" });
        });
      } else {
        for (const s of list) data.push(clean(ysOf(s)));
        seriesOpts = list.map((s, i) => ({ label: s.run.slice(0, 8), stroke: COLORS[i % COLORS.length], spanGaps: true }));
      }
      const el = document.createElement("div");
      el.className = "chart";
      el.dataset.tag = tag;
      $("#charts").appendChild(el);
      const opts = {
        title: tag, width, height: 260,
        scales: { x: { time: false }, y: { distr: logy ? 3 : 1 } },
        series: [{ label: xKey === "times" ? "time (s)" : "step" }, ...seriesOpts],
        bands,
      };
      const chart = new uPlot(opts, data, el);
      window.__view.charts[tag] = { runs: list.map((s) => s.run), points: list.map((s) => s.values.length), chart, groups: groups ? Object.keys(groups).length : 0 };
    }
    if (!Object.keys(byTag).length) $("#charts").innerHTML = '<p class="muted">No scalars in these runs.</p>';
  };
  $("#smooth").oninput = draw;
  $("#logy").onchange = draw;
  $("#group").onchange = draw;
  $("#xaxis").onchange = draw;
  draw();
  drawPc();
}

// Parallel coordinates (SVG): an axis per flag and one for the metric;
// a line per run, coloured by the metric.
function parallelCoords(rows, flags, metric) {
  const el = $("#parcoords");
  const axes = [...flags, metric].filter(Boolean);
  if (!metric || !rows.length) { el.innerHTML = '<p class="muted">No metric.</p>'; window.__view.parcoords = { axes, lines: 0 }; return; }
  const W = Math.max(500, el.clientWidth || 900), H = 260, pad = 40;
  const x = (i) => pad + (i * (W - 2 * pad)) / Math.max(1, axes.length - 1);
  const scale = axes.map((a) => {
    const vals = rows.map((r) => r[a]).filter((v) => v != null && v !== "");
    if (vals.every((v) => typeof v === "number")) {
      const lo = Math.min(...vals), hi = Math.max(...vals);
      return (v) => (v == null || v === "" ? null : H - pad - ((hi === lo ? 0.5 : (v - lo) / (hi - lo)) * (H - 2 * pad)));
    }
    const cats = [...new Set(vals.map(String))].sort();
    return (v) => (v == null ? null : H - pad - ((cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1)) * (H - 2 * pad)));
  });
  const m = rows.map((r) => r[metric]).filter((v) => typeof v === "number");
  const mlo = Math.min(...m), mhi = Math.max(...m);
  const color = (v) => { const t = typeof v === "number" && mhi > mlo ? (v - mlo) / (mhi - mlo) : 0.5; return `hsl(${240 - 240 * t},70%,45%)`; };
  let lines = 0, svg = "";
  for (const r of rows) {
    const pts = axes.map((a, i) => [x(i), scale[i](r[a])]).filter((p) => p[1] != null);
    if (pts.length < 2) continue;
    lines++;
    svg += `<polyline fill="none" stroke="${color(r[metric])}" stroke-width="1.5" points="${pts.map((p) => p.join(",")).join(" ")}"><title>${esc(r.run)}: ${esc(r[metric])}</title></polyline>`;
  }
  svg += axes.map((a, i) => `<line x1="${x(i)}" x2="${x(i)}" y1="${pad}" y2="${H - pad}" stroke="#888"/><text x="${x(i)}" y="${pad - 12}" text-anchor="middle" font-size="12">${esc(a)}</text>`).join("");
  el.innerHTML = `<svg id="pc-svg" width="${W}" height="${H}" class="chart">${svg}</svg>`;
  window.__view.parcoords = { axes, lines };
}

// The compare table, as `guild compare`: click a header to sort.
function compareTable(c) {
  let key = null, desc = false;
  const draw = () => {
    const rows = [...c.rows];
    if (key) rows.sort((a, b) => {
      const x = a[key], y = b[key];
      const r = typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""));
      return desc ? -r : r;
    });
    $("#cmptable").innerHTML = `<table class="kv" id="cmp-table"><tr>${c.header.map((h) => `<th data-h="${esc(h)}" style="cursor:pointer">${esc(h)}${h === key ? (desc ? " ▼" : " ▲") : ""}</th>`).join("")}</tr>${rows.map((r) => `<tr>${c.header.map((h) => `<td>${esc(r[h])}</td>`).join("")}</tr>`).join("")}</table>`;
    for (const th of document.querySelectorAll("#cmp-table th")) th.onclick = () => { desc = key === th.dataset.h ? !desc : false; key = th.dataset.h; draw(); };
  };
  draw();
}

// ---- Sweeps: status and history with counts by state.
async function pageSweeps() {
  const s = await api("/api/sweeps");
  const table = (rows) => `<table class="kv"><tr><th>name</th><th>id</th><th>operation</th><th>status</th><th>queued</th><th>running</th><th>completed</th><th>failed</th><th>stopped</th><th>cost</th><th></th></tr>${rows.map((e) => `<tr><td>${esc(e.name)}</td><td><a href="#/run/${esc(e.id)}">${esc(e.id.slice(0, 8))}</a></td><td>${esc(e.operation)}</td><td><span class="status ${esc(statusWord(e.status))}">${esc(e.status)}</span></td><td>${e.queued}</td><td>${e.running}</td><td>${e.completed}</td><td>${e.failed}</td><td>${e.stopped}</td><td>${e.cost == null ? "" : e.cost.toFixed(2)}</td><td>${(e.trials || []).length ? `<a href="#/compare?ids=${e.trials.join(",")}">compare trials</a>` : ""}</td></tr>`).join("")}</table>`;
  main().innerHTML = `<h2>Sweeps</h2><h3>Active</h3>${s.active.length ? table(s.active) : '<p class="muted">none</p>'}<h3>History</h3>${s.history.length ? table(s.history) : '<p class="muted">none</p>'}`;
  view.timer = setInterval(async () => {
    try {
      const n = await api("/api/sweeps");
      if (JSON.stringify(n) !== JSON.stringify(s)) route();
    } catch (e) { /* next tick */ }
  }, 2000);
}

// ---- Deleted runs (`runs --deleted`), restored one by one with --allow-edit.
async function pageDeleted() {
  const [runs, cfg] = await Promise.all([api("/api/runs?deleted=1"), getConfig()]);
  const rows = runs.map((r) => `<tr data-id="${esc(r.id)}"><td>${esc(r.id.slice(0, 8))}</td><td>${esc(r.operation)}</td><td>${esc(fmtTime(r.started))}</td><td><span class="status ${esc(statusWord(r.status))}">${esc(r.status)}</span></td><td>${esc(r.label)}</td><td>${cfg.allow_edit ? `<button class="restore" data-id="${esc(r.id)}">restore</button>` : ""}</td></tr>`).join("");
  main().innerHTML = `<h2>Deleted runs</h2>
    <p class="muted">${runs.length} deleted run${runs.length === 1 ? "" : "s"}${cfg.allow_edit ? "" : " (start guild view with --allow-edit to restore them)"}. <span id="restored"></span></p>
    ${runs.length ? `<table class="kv" id="deleted"><tr><th>id</th><th>operation</th><th>started</th><th>status</th><th>label</th><th></th></tr>${rows}</table>` : ""}`;
  for (const b of document.querySelectorAll("button.restore")) {
    b.onclick = async () => {
      try {
        await post("/api/restore?" + new URLSearchParams({ id: b.dataset.id }).toString());
        $("#restored").textContent = `restored ${b.dataset.id.slice(0, 8)}`;
        b.closest("tr").remove();
      } catch (e) {
        $("#restored").textContent = e.message;
      }
    };
  }
}

async function route() {
  stopTimers();
  const h = location.hash || "#/";
  const [path, query] = h.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  try {
    if (path.startsWith("/run/")) await pageRun(decodeURIComponent(path.slice(5)));
    else if (path === "/compare") await pageCompare(params);
    else if (path === "/sweeps") await pageSweeps();
    else if (path === "/deleted") await pageDeleted();
    else await pageRuns();
    document.body.dataset.page = path;
  } catch (e) {
    main().innerHTML = `<p class="status error">${esc(e.message)}</p>`;
  }
}

window.addEventListener("hashchange", route);
route();
