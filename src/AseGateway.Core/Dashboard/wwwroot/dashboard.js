// AseGateway status dashboard: plain JavaScript over the management API. Every value from the server is put in the
// page as text (textContent), never as HTML. The API key lives in sessionStorage and travels in a header only.
"use strict";

const KEY_STORAGE = "aseGateway.apiKey";
const REFRESH_MS = 3000;
const HISTORY_POINTS = 40;

let previousStats = null;
const history = new Map(); // app -> [{ rate, errors }]
let timer = null;
let refreshing = false;

const $ = (selector) => document.querySelector(selector);

function apiKey() { return sessionStorage.getItem(KEY_STORAGE); }

async function api(path, options = {}) {
  const headers = { "Authorization": "Bearer " + apiKey(), "Accept": "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method: options.method || "GET", headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), cache: "no-store" });
  if (response.status === 401) {
    signOut("The key was refused: enter a valid management API key.");
    throw new Error("unauthorised");
  }
  const text = await response.text();
  const data = text.length > 0 && (response.headers.get("Content-Type") || "").includes("json") ? JSON.parse(text) : text;
  if (!response.ok) {
    const detail = data && data.detail ? data.detail : (data && data.title ? data.title : response.statusText);
    const errors = data && Array.isArray(data.errors) ? "\n" + data.errors.map((e) => `${e.path}: ${e.message}`).join("\n") : "";
    throw new Error(`${response.status}: ${detail}${errors}`);
  }
  return data;
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

const td = (text, className) => el("td", { text: text === undefined || text === null ? "" : String(text), className: className || "" });
const num = (value) => td(value, "num");
const time = (iso) => iso ? new Date(iso).toLocaleTimeString() : "";

function fill(tableId, rows) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...rows);
}

function say(text, isError) {
  const box = $("#message");
  box.textContent = text;
  box.className = isError ? "error" : "";
  box.hidden = !text;
}

function signOut(reason) {
  sessionStorage.removeItem(KEY_STORAGE);
  if (timer) clearInterval(timer);
  timer = null;
  $("#content").hidden = true;
  $("#key-panel").hidden = false;
  $("#sign-out").hidden = true;
  say(reason || "", Boolean(reason));
}

function start() {
  $("#key-panel").hidden = true;
  $("#content").hidden = false;
  $("#sign-out").hidden = false;
  refresh();
  if (!timer) timer = setInterval(refresh, REFRESH_MS);
}

async function refresh() {
  if (refreshing || !apiKey()) return;
  refreshing = true;
  try {
    const [environment, pools, plans, apps, status, stats] = await Promise.all([
      api("/api/environment"), api("/api/workerPools"), api("/api/plans"), api("/api/apps"), api("/api/config/status"), api("/api/stats"),
    ]);
    const instances = (await Promise.all(apps.map((app) => api(`/api/apps/${encodeURIComponent(app.name)}/instances`)))).flat();
    renderEnvironment(environment, status);
    renderTraffic(stats);
    renderPools(pools);
    renderPlans(plans);
    renderInstances(instances);
    renderEvents(stats);
    document.body.dataset.generation = String(environment.generation);
    document.body.dataset.loaded = "true";
  } catch (error) {
    if (error.message !== "unauthorised") say("Could not refresh: " + error.message, true);
  } finally {
    refreshing = false;
  }
}

function renderEnvironment(environment, status) {
  $("#environment").textContent = environment.name;
  $("#summary").textContent = `generation ${environment.generation} · workers ${environment.workersUsed}/${environment.workersTotal} used (max ${environment.maxTotalWorkers})`;
  const facts = [
    ["Generation", status.generation], ["Source", status.source], ["Loaded", new Date(status.loadedAt).toLocaleString()],
    ["SHA-256", status.sha256.slice(0, 16) + "…"], ["Pending restart", (status.pendingRestart || []).join("; ") || "none"],
  ];
  $("#config").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: String(value) })]));
  const error = $("#config-error");
  if (status.lastError) {
    error.hidden = false;
    error.textContent = `Last refused change (${status.lastError.trigger}, ${new Date(status.lastError.at).toLocaleString()}):\n` +
      status.lastError.errors.map((e) => `${e.path}: ${e.message}`).join("\n");
  } else {
    error.hidden = true;
    error.textContent = "";
  }
}

function renderTraffic(stats) {
  const seconds = previousStats ? (Date.parse(stats.at) - Date.parse(previousStats.at)) / 1000 : 0;
  const before = new Map((previousStats ? previousStats.apps : []).map((a) => [a.app, a]));
  const rows = [];
  for (const app of [...stats.apps, stats.unrouted]) {
    const last = before.get(app.app) || (previousStats && app.app === previousStats.unrouted.app ? previousStats.unrouted : null);
    const rate = (field) => last && seconds > 0 ? Math.max(0, app[field] - last[field]) / seconds : 0;
    const requests = rate("requests");
    const clientErrors = rate("clientErrors");
    const serverErrors = rate("serverErrors");
    const points = history.get(app.app) || [];
    if (previousStats) {
      points.push({ rate: requests, errors: clientErrors + serverErrors });
      if (points.length > HISTORY_POINTS) points.shift();
    }
    history.set(app.app, points);
    const canvas = el("canvas", { className: "spark", width: 160, height: 28 });
    drawSpark(canvas, points);
    rows.push(el("tr", { "data-app": app.app }, [
      td(app.app), num(requests.toFixed(1)), num(clientErrors.toFixed(1)), num(serverErrors.toFixed(1)),
      num(requests > 0 ? ((clientErrors + serverErrors) / requests * 100).toFixed(1) + " %" : "–"),
      el("td", { className: "num total", text: String(app.requests) }), el("td", {}, [canvas]),
    ]));
  }
  fill("traffic", rows);
  previousStats = stats;
}

function drawSpark(canvas, points) {
  const context = canvas.getContext("2d");
  if (!context || points.length < 2) return;
  const max = Math.max(1, ...points.map((p) => p.rate));
  // Newest point at the right edge; older ones to its left, one step per reading.
  const step = (canvas.width - 2) / (HISTORY_POINTS - 1);
  const x = (i) => canvas.width - 1 - (points.length - 1 - i) * step;
  const y = (v) => canvas.height - 2 - v / max * (canvas.height - 4);
  for (const [field, colour] of [["rate", "#0969da"], ["errors", "#cf222e"]]) {
    context.beginPath();
    points.forEach((p, i) => (i === 0 ? context.moveTo(x(i), y(p[field])) : context.lineTo(x(i), y(p[field]))));
    context.strokeStyle = colour;
    context.lineWidth = 1.5;
    context.stroke();
  }
}

function scaleCell(kind, name, current, minimum) {
  const id = `${kind}:${name}`;
  const input = el("input", { type: "number", min: String(minimum), value: String(current), "data-scale-input": id });
  input.setAttribute("aria-label", `new count for ${kind} ${name}`);
  input.addEventListener("input", () => { input.dataset.edited = "true"; });
  // The table is redrawn on every refresh: a number being typed must survive it (value and focus).
  const before = document.querySelector(`[data-scale-input="${CSS.escape(id)}"]`);
  if (before && before.dataset.edited === "true") {
    input.value = before.value;
    input.dataset.edited = "true";
    if (document.activeElement === before) queueMicrotask(() => input.focus());
  }
  const button = el("button", { type: "button", text: "Scale", "data-scale-button": id });
  button.addEventListener("click", () => { delete input.dataset.edited; scale(kind, name, Number(input.value)); });
  return el("td", {}, [input, " ", button]);
}

async function scale(kind, name, count) {
  const path = kind === "pool" ? `/api/workerPools/${encodeURIComponent(name)}/scale` : `/api/plans/${encodeURIComponent(name)}/scale`;
  const body = kind === "pool" ? { workerCount: count } : { instanceCount: count };
  try {
    const result = await api(path, { method: "POST", body });
    say(`Scaling ${kind} ${name} to ${count}: accepted (generation ${result.generation}).`, false);
  } catch (error) {
    if (error.message !== "unauthorised") say(`Scaling ${kind} ${name} failed: ${error.message}`, true);
  }
  refresh();
}

async function drain(app, index, key) {
  try {
    await api(`/api/apps/${encodeURIComponent(app)}/instances/${index}/drain`, { method: "POST" });
    say(`Draining ${key}.`, false);
  } catch (error) {
    if (error.message !== "unauthorised") say(`Draining ${key} failed: ${error.message}`, true);
  }
  refresh();
}

function renderPools(pools) {
  fill("pools", pools.map((pool) => el("tr", { "data-pool": pool.name }, [
    td(pool.name), td(pool.workerSize), td(pool.kind), el("td", { className: "num worker-count", text: String(pool.workerCount) }),
    num(pool.workersUsed), num(pool.workersAvailable), td(pool.plans.join(", ")),
    scaleCell("pool", pool.name, pool.workerCount, 0),
  ])));
}

function renderPlans(plans) {
  fill("plans", plans.map((plan) => el("tr", { "data-plan": plan.name }, [
    td(plan.name), td(plan.workerPool), el("td", { className: "num instance-count", text: String(plan.instanceCount) }),
    num(plan.instancesReady), td(plan.apps.join(", ")), scaleCell("plan", plan.name, plan.instanceCount, 1),
  ])));
}

function renderInstances(instances) {
  instances.sort((a, b) => a.key.localeCompare(b.key));
  fill("instances", instances.map((instance) => {
    const health = instance.lastHealth
      ? `${instance.lastHealth.healthy ? "healthy" : "failed"}${instance.lastHealth.statusCode ? " (" + instance.lastHealth.statusCode + ")" : ""} at ${time(instance.lastHealth.at)}`
      : "none yet";
    const button = el("button", { type: "button", text: "Drain", "data-drain": instance.key, disabled: instance.state === "draining" });
    button.addEventListener("click", () => drain(instance.app, instance.index, instance.key));
    return el("tr", { "data-instance": instance.key, "data-state": instance.state }, [
      td(instance.key), td(instance.app), el("td", {}, [el("span", { className: `state state-${instance.state}`, text: instance.state })]),
      td(instance.available ? "yes" : "no"), num(instance.inFlight), num(instance.restarts), td(health), el("td", {}, [button]),
    ]);
  }));
}

function renderEvents(stats) {
  fill("waf-blocks", stats.recentWafBlocks.map((block) => el("tr", {}, [
    td(time(block.at)), td(block.host), td(block.policy), td(block.ruleId), td(block.clientIp), td(block.message),
  ])));
  fill("nsg-denials", stats.recentNsgDenials.map((denial) => el("tr", {}, [
    td(time(denial.at)), td(denial.rule), td(denial.source), num(denial.port),
  ])));
}

document.addEventListener("DOMContentLoaded", () => {
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("#api-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    $("#api-key").value = "";
    say("", false);
    start();
  });
  $("#sign-out").addEventListener("click", () => signOut(""));
  if (apiKey()) start();
});
