// The operator dashboard (issue 13): talks only to the admin API with the operator token as a
// bearer token (kept in sessionStorage, never in a URL), polls the session's figures every
// second, draws the last five minutes, and sends the operator's actions.

const $ = (id) => document.getElementById(id);
const EVERY_MS = 1000;
const KEEP_MS = 5 * 60 * 1000;
/** The chart spans at least this much, growing to KEEP_MS as samples build up. */
const SPAN_MIN_MS = 60 * 1000;

let token = sessionStorage.getItem("adminToken") ?? "";
let session = Number(sessionStorage.getItem("adminSession") ?? 2);
let samples = [];
let timer = null;

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  return data;
}

function seconds(s) {
  return s == null ? "–" : `${Math.round(s)} s`;
}

function show(report) {
  $("session-id").textContent = report.sessionId;
  $("page").textContent = report.page;
  $("limit").textContent = report.limit;
  $("queue").textContent = report.queue;
  $("rate").textContent = report.admissionsLastMinute;
  $("wait").textContent = report.wait ? `${seconds(report.wait.medianSeconds)} / ${seconds(report.wait.p90Seconds)}` : "–";
  $("holds").textContent = report.holds;
  $("sales").textContent = report.sales;
  $("window").textContent = seconds(report.windowSeconds);
  $("tickets").textContent = report.ticketLimit;
  const state = report.closed ? "closed" : report.paused ? "paused" : "admitting";
  $("state").textContent = state;
  $("state").className = `badge ${state}`;
  samples.push({ at: report.serverNow, queue: report.queue, page: report.page });
  samples = samples.filter((s) => s.at > report.serverNow - KEEP_MS);
  draw(report.serverNow);
}

function draw(now) {
  const top = Math.max(1, ...samples.map((s) => Math.max(s.queue, s.page)));
  const span = Math.min(KEEP_MS, Math.max(SPAN_MIN_MS, now - (samples[0]?.at ?? now)));
  const points = (key) => samples
    .map((s) => `${(300 * (1 - (now - s.at) / span)).toFixed(1)},${(78 - (74 * s[key]) / top).toFixed(1)}`)
    .join(" ");
  $("chart-queue").setAttribute("points", points("queue"));
  $("chart-page").setAttribute("points", points("page"));
}

async function refresh() {
  try {
    show(await call("GET", `/admin/sessions/${session}`));
  } catch (e) {
    $("result").textContent = e.message;
  }
}

async function refreshAudit() {
  try {
    const { entries } = await call("GET", "/admin/audit?limit=10");
    $("audit").replaceChildren(...entries.map((e) => {
      const li = document.createElement("li");
      const when = new Date(e.at).toLocaleTimeString();
      li.textContent = `${when} ${e.who}: ${e.action} session ${e.sessionId ?? "–"}${e.target ? ` account ${e.target}` : ""}`;
      return li;
    }));
  } catch (e) {
    $("result").textContent = e.message;
  }
}

async function act(what, method, path, body) {
  try {
    await call(method, path, body);
    $("result").textContent = `${what}: done`;
  } catch (e) {
    $("result").textContent = `${what}: ${e.message}`;
  }
  await refresh();
  await refreshAudit();
}

function start() {
  $("sign-in").hidden = true;
  $("board").hidden = false;
  $("sign-out").hidden = false;
  samples = [];
  refresh();
  refreshAudit();
  clearInterval(timer);
  timer = setInterval(refresh, EVERY_MS);
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  session = Number($("session").value);
  try {
    await call("GET", `/admin/sessions/${session}`);
  } catch (e) {
    $("sign-in-error").textContent = e.message;
    return;
  }
  sessionStorage.setItem("adminToken", token);
  sessionStorage.setItem("adminSession", String(session));
  start();
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("adminToken");
  clearInterval(timer);
  location.reload();
});

const base = () => `/admin/sessions/${session}`;
$("limit-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("page size", "PUT", `${base()}/limit`, { limit: Number($("limit-input").value) });
});
$("pause").addEventListener("click", () => act("pause", "POST", `${base()}/pause`));
$("resume").addEventListener("click", () => act("resume", "POST", `${base()}/resume`));
$("extend-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("extend", "POST", `${base()}/extend`, { seconds: Number($("extend-input").value) });
});
$("remove-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const block = $("block-input").checked ? "?block=true" : "";
  act("remove", "DELETE", `${base()}/visitors/${Number($("remove-input").value)}${block}`);
});
$("close").addEventListener("click", () => {
  if (confirm(`End the sale of session ${session}? Everyone queued is told.`)) {
    act("close", "POST", `${base()}/close`);
  }
});

$("session").value = String(session);
if (token) start();
