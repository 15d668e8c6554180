#!/usr/bin/env node
// Latency probe with the real frontend client: what one browser user sees while a load runs.
//
// It drives a TicketClub server with socket.io-client 4.5.1, the version the original frontend
// uses. The client is loaded from tests/js/node_modules (`npm ci --prefix tests/js`), so there is
// no second copy. It measures the same flows the frontend runs, over and over, until
// --duration-s passes or it gets SIGTERM/SIGINT. Then it prints ONE JSON line on stdout.
//
//   node benches/probe/probe.mjs --addr 127.0.0.1:3000 --kind join --token JWT [--token JWT …]
//
// Kinds (the event names and payloads are those in shared/contract.md):
//   join      The "buy" click: POST /session/validation, then a new socket, then `check limit`
//             until its reply, then disconnect. A sample starts every --interval-ms (open loop)
//             on the next token that is free. A token is busy while its sample runs and for
//             --reuse-ms after it, so the server has processed the disconnect before the token
//             validates again. A tick with no free token counts as `skipped`.
//   seat      Seat clicks on the buying page. Every token validates, connects, passes
//             `check limit` (the session must have room) and does `join room` {session, area}.
//             With two or more tokens, the first one only watches the room. Each other token is a
//             lane with its own seat, taken from --seat ROW:COLUMN onwards in row-major order.
//             A lane repeats this cycle: `select seat`, then its `self select seat` echo, then
//             `unselect seat` (which gets no reply to the sender; the watcher sees its
//             broadcast), then a pause of --interval-ms. The sample is the select round trip.
//             parts.other_seen is when the watcher saw `other select seat`, parts.unselect_seen
//             when it saw `unselect seat`, and parts.cycle the whole cycle.
//   position  Every token joins like `join` and stays queued (the session must be full). It
//             timestamps each `minus waiting people` and `ready to go` (`events`, epoch ms),
//             for a caller that knows when the departures happened. The percentiles are the
//             gaps between consecutive notices on one socket.
//
// Output (one line): {kind, metric, samples, p50, p90, p99, max, errors, error_examples, …}.
// It also carries `parts` (per-phase percentiles), `series` (each sample's start as epoch ms,
// its latency, or its error), `events` (position), `skipped`, `unfinished`, `cpu_s`,
// `event_loop_delay_ms` (the probe's own scheduling lag: it shares the machine with the load),
// and the client versions. Percentiles are nearest-rank, as in benches/loadgen.
//
// On stderr: `probe: ready` once the setup is done and measuring starts, plus diagnostics.
// When it is told to stop (or the duration ends), it starts no new samples. It waits up to
// --grace-ms for the samples in flight and counts the rest as `unfinished` errors. A second
// signal prints at once. The exit code is 0 when it measured, 1 when the setup failed (the JSON
// is printed either way), and 2 on bad arguments.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const KINDS = ["join", "seat", "position"];
const METRICS = {
  join: "POST /session/validation + connect + check limit reply (ms)",
  seat: "select seat -> self select seat echo (ms)",
  position: "gap between consecutive queue notices on one socket (ms)",
};
const MAX_SERIES = 100_000;
const MAX_EXAMPLES = 10;
/** Sampling period of the event-loop delay monitor; its figures include it, so it is subtracted. */
const LOOP_RESOLUTION_MS = 10;

const USAGE = `usage: node probe.mjs --addr 127.0.0.1:PORT --kind join|seat|position --token JWT [--token JWT …]
  --tokens-file PATH     more tokens, one per line
  --interval-ms N        pause between samples (join: start interval) [100]
  --duration-s N         stop measuring after this long [60]
  --session N            session id [1]
  --area N               seat: area id [1]
  --seat ROW:COLUMN      seat: the first lane's seat [1:1]
  --transports MODE      default (polling, then upgrade, as the frontend) | websocket | polling [default]
  --timeout-ms N         one reply may take this long before it is an error [10000]
  --grace-ms N           time for samples in flight after the stop [5000]
  --reuse-ms N           join: pause before a token joins again [500]
  --client-dir DIR       where socket.io-client is installed [<repo>/tests/js]`;

// ------------------------------------------------------------------ arguments

function fail(message) {
  process.stderr.write(`probe: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function number(values, name, { min = 0, integer = true } = {}) {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) fail(`--${name} ${values[name]}: not a number >= ${min}`);
  return v;
}

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        addr: { type: "string" },
        token: { type: "string", multiple: true },
        "tokens-file": { type: "string" },
        kind: { type: "string" },
        "interval-ms": { type: "string", default: "100" },
        "duration-s": { type: "string", default: "60" },
        session: { type: "string", default: "1" },
        area: { type: "string", default: "1" },
        seat: { type: "string", default: "1:1" },
        transports: { type: "string", default: "default" },
        "timeout-ms": { type: "string", default: "10000" },
        "grace-ms": { type: "string", default: "5000" },
        "reuse-ms": { type: "string", default: "500" },
        "client-dir": { type: "string", default: join(HERE, "..", "..", "tests", "js") },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    fail(e.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (!KINDS.includes(values.kind)) fail(`--kind must be one of ${KINDS.join(", ")}`);
  const addr = values.addr ?? fail("--addr is required");
  const host = addr.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  if (!/:\d+$/.test(addr)) fail(`--addr ${addr}: expected HOST:PORT`);
  if (!(host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    fail(`--addr ${addr} is not a loopback address: refusing`);
  }
  const tokens = [...(values.token ?? [])];
  if (values["tokens-file"]) {
    tokens.push(...readFileSync(values["tokens-file"], "utf8").split("\n").map((l) => l.trim()).filter(Boolean));
  }
  if (tokens.length === 0) fail("at least one --token (or --tokens-file) is required");
  const [row, column] = values.seat.split(":").map(Number);
  if (![row, column].every((v) => Number.isInteger(v) && v >= 1 && v <= 9)) fail(`--seat ${values.seat}: expected ROW:COLUMN in 1..9`);
  const transports = { default: {}, websocket: { transports: ["websocket"] }, polling: { transports: ["polling"] } }[values.transports];
  if (!transports) fail(`--transports ${values.transports}: expected default, websocket or polling`);
  return {
    kind: values.kind,
    base: `http://${addr}`,
    tokens,
    intervalMs: number(values, "interval-ms"),
    durationS: number(values, "duration-s", { min: 0, integer: false }),
    session: number(values, "session", { min: 1 }),
    area: number(values, "area", { min: 1 }),
    seat: { row, column },
    transportMode: values.transports,
    transports,
    timeoutMs: number(values, "timeout-ms", { min: 1 }),
    graceMs: number(values, "grace-ms"),
    reuseMs: number(values, "reuse-ms"),
    clientDir: resolve(values["client-dir"]),
  };
}

// ------------------------------------------------------------------- client

/** socket.io-client from `dir`'s node_modules, the same ESM build the JS harness imports. */
async function loadClient(dir) {
  const require = createRequire(join(dir, "package.json"));
  let pkgPath;
  try {
    pkgPath = require.resolve("socket.io-client/package.json");
  } catch {
    throw new Error(`socket.io-client is not installed under ${dir}/node_modules: run \`npm ci --prefix tests/js\``);
  }
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
  const entry = pkg.exports?.["."]?.import?.node ?? pkg.module ?? pkg.main;
  const mod = await import(pathToFileURL(join(dirname(pkgPath), entry)).href);
  // Some packages do not export their package.json: read it where npm put it.
  const version = (name) => {
    for (const where of [join(dirname(pkgPath), "node_modules"), join(dir, "node_modules")]) {
      try {
        return JSON.parse(readFileSync(join(where, name, "package.json"), "utf8")).version;
      } catch {
        // not here: try the next place
      }
    }
    return null;
  };
  return {
    io: mod.io,
    versions: { "socket.io-client": pkg.version, "engine.io-client": version("engine.io-client"), "socket.io-parser": version("socket.io-parser") },
  };
}

// ------------------------------------------------------------------ helpers

const epochNow = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentiles of `values` (ms), rounded to µs. */
function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  const pick = (p) => (s.length === 0 ? null : s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1]);
  const r = (v) => (v === null ? null : Math.round(v * 1000) / 1000);
  return { samples: s.length, p50: r(pick(50)), p90: r(pick(90)), p99: r(pick(99)), max: r(s.length ? s[s.length - 1] : null) };
}

/**
 * Waits for the event `name` on `socket` whose payload passes `accept`. The promise never
 * rejects: it resolves to `{payload, at}` or to `{failure}` (timeout, connect_error,
 * disconnect, cancel), so a wait that nobody awaits any more cannot crash the process.
 */
function listen(socket, name, timeoutMs, accept = () => true) {
  let finish = () => {};
  const promise = new Promise((resolvePromise) => {
    const onEvent = (payload) => {
      if (accept(payload)) finish({ payload, at: performance.now() });
    };
    const onConnectError = (e) => finish({ failure: `connect_error: ${e?.message ?? e}` });
    const onDisconnect = (reason) => finish({ failure: `disconnected (${reason}) while waiting for "${name}"` });
    const timer = setTimeout(() => finish({ failure: `no "${name}" within ${timeoutMs} ms` }), timeoutMs);
    finish = (outcome) => {
      finish = () => {};
      clearTimeout(timer);
      socket.off(name, onEvent);
      socket.off("connect_error", onConnectError);
      socket.off("disconnect", onDisconnect);
      resolvePromise(outcome);
    };
    socket.on(name, onEvent);
    socket.on("connect_error", onConnectError);
    socket.on("disconnect", onDisconnect);
  });
  return { promise, cancel: () => finish({ failure: "cancelled" }) };
}

/** `await`s a listen() and throws its failure with `what` in front. */
async function expectEvent(waiter, what) {
  const outcome = await waiter.promise;
  if (outcome.failure) throw new Error(`${what}: ${outcome.failure}`);
  return outcome;
}

// -------------------------------------------------------------------- probe

class Probe {
  constructor(opts, client) {
    this.opts = opts;
    this.client = client;
    this.series = [];
    this.errorCount = 0;
    this.examples = new Map(); // message -> count
    this.inflight = new Map(); // id -> start (performance.now)
    this.nextId = 0;
    this.skipped = 0;
    this.stopping = false;
    this.stoppedBy = null;
    this.sockets = new Set();
    this.stopSignal = new Promise((r) => (this.wake = r));
    this.loops = []; // long-running loops (seat lanes, the join loop)
    this.pending = new Set(); // join samples in flight
    this.events = [];
    this.positionSockets = [];
    this.setupError = null;
    this.cpuStart = process.cpuUsage();
    this.eventLoop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.eventLoop.enable();
  }

  // ---- sockets and HTTP, as the frontend does them

  open(token) {
    const socket = this.client.io(this.opts.base, {
      auth: { token: `Bearer ${token}` },
      ...this.opts.transports,
      forceNew: true, // one engine connection per user, as separate browsers
      reconnection: false, // a dropped connection must show up as an error
      timeout: this.opts.timeoutMs,
    });
    this.sockets.add(socket);
    return socket;
  }

  close(socket) {
    this.sockets.delete(socket);
    socket.disconnect();
  }

  async validate(token) {
    let res;
    try {
      res = await fetch(`${this.opts.base}/session/validation`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ sessionId: this.opts.session }),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (e) {
      throw new Error(`validation: request failed (${e.cause?.code ?? e.message})`);
    }
    const body = await res.json().catch(() => null);
    if (res.status !== 200 || body?.ok !== true) throw new Error(`validation: ${res.status} ${body?.error ?? JSON.stringify(body)}`);
  }

  /**
   * The buy click: validation, a new socket, `check limit` (emitted at once and buffered
   * until the connection is up, as in EventDetail.js). Returns the open socket, the reply
   * and the phase times.
   */
  async enter(token) {
    const t0 = performance.now();
    await this.validate(token);
    const t1 = performance.now();
    const socket = this.open(token);
    let connectedAt = null;
    socket.once("connect", () => (connectedAt = performance.now()));
    const reply = listen(socket, "check limit", this.opts.timeoutMs);
    socket.emit("check limit", this.opts.session);
    let outcome;
    try {
      outcome = await expectEvent(reply, "check limit");
      if (outcome.payload?.error) throw new Error(`check limit: ${outcome.payload.error}`);
    } catch (e) {
      this.close(socket);
      throw e;
    }
    const connect = (connectedAt ?? outcome.at) - t1;
    const parts = { validation: t1 - t0, connect, check_limit: outcome.at - t1 - connect };
    return { socket, reply: outcome.payload, parts, ms: outcome.at - t0 };
  }

  // ---- bookkeeping

  begin() {
    const id = this.nextId++;
    this.inflight.set(id, { start: performance.now(), t: epochNow() });
    return id;
  }

  end(id, result) {
    const started = this.inflight.get(id);
    if (!started) return; // already counted as unfinished
    this.inflight.delete(id);
    this.record(started.t, result);
  }

  record(t, { ms = null, parts, error, queued }) {
    if (error) this.error(error);
    if (this.series.length < MAX_SERIES) {
      const entry = { t: Math.round(t * 1000) / 1000, ms: ms === null ? null : Math.round(ms * 1000) / 1000 };
      if (queued !== undefined) entry.queued = queued;
      if (parts) entry.parts = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
      if (error) entry.error = error;
      this.series.push(entry);
    }
  }

  error(message) {
    this.errorCount += 1;
    this.examples.set(message, (this.examples.get(message) ?? 0) + 1);
  }

  /** Sleeps `ms`, or less if the probe is told to stop. */
  pause(ms) {
    return Promise.race([sleep(ms), this.stopSignal]);
  }

  // ---- kinds

  /** join: a warm-up join, then the open loop (in the background): one join per interval. */
  async runJoin() {
    const tokens = this.opts.tokens.map((token) => ({ token, freeAt: 0, busy: false }));
    // Warm-up (not recorded): the first socket of a process pays for loading and JIT.
    try {
      const w = await this.enter(tokens[0].token);
      this.close(w.socket);
      tokens[0].freeAt = performance.now() + this.opts.reuseMs;
    } catch (e) {
      throw new Error(`warm-up join: ${e.message}`);
    }
    this.ready(`join on session ${this.opts.session}, ${tokens.length} tokens, one join every ${this.opts.intervalMs} ms`);
    this.loops.push(this.joinLoop(tokens));
  }

  async joinLoop(tokens) {
    const start = performance.now();
    let next = 0;
    for (let n = 0; !this.stopping; n++) {
      const wait = start + n * this.opts.intervalMs - performance.now();
      if (wait > 0) await this.pause(wait);
      if (this.stopping) break;
      const now = performance.now();
      const k = tokens.findIndex((_, j) => {
        const tk = tokens[(next + j) % tokens.length];
        return !tk.busy && tk.freeAt <= now;
      });
      if (k < 0) {
        this.skipped += 1;
        continue;
      }
      const tk = tokens[(next + k) % tokens.length];
      next = (next + k + 1) % tokens.length;
      tk.busy = true;
      const id = this.begin();
      const sample = this.enter(tk.token)
        .then(({ socket, parts, ms, reply }) => {
          this.close(socket);
          this.end(id, { ms, parts, queued: reply?.pass !== true });
        })
        .catch((e) => this.end(id, { error: e.message }))
        .finally(() => {
          tk.busy = false;
          tk.freeAt = performance.now() + this.opts.reuseMs;
          this.pending.delete(sample);
        });
      this.pending.add(sample);
    }
  }

  /**
   * seat: tokens pair up as lanes (watcher, selector); a lone last token is a selector without a
   * watcher. Lane i works in area `--area + i`: one room per lane, so a lane's socket gets no
   * broadcasts from the other lanes (the probe measures the load, not its own cross-traffic).
   */
  async runSeat() {
    const { tokens, session, area, seat } = this.opts;
    const laneCount = Math.ceil(tokens.length / 2);
    if (area + laneCount - 1 > 9) throw new Error(`${laneCount} lanes from area ${area} do not fit areas 1..9`);
    const players = await Promise.all(
      tokens.map(async (token, i) => {
        const entered = await this.enter(token).catch((e) => {
          throw new Error(`setup of token ${i}: ${e.message}`);
        });
        if (entered.reply?.pass !== true) {
          this.close(entered.socket);
          throw new Error(`setup of token ${i}: queued (${JSON.stringify(entered.reply)}), the session's page is full`);
        }
        entered.socket.emit("join room", { sessionId: session, areaId: area + Math.floor(i / 2) });
        return entered.socket;
      }),
    );
    await sleep(200); // `join room` has no reply: let it land, as the frontend's user would
    const lanes = Array.from({ length: laneCount }, (_, i) => {
      const pair = players.slice(2 * i, 2 * i + 2);
      return { area: area + i, row: seat.row, column: seat.column, socket: pair.at(-1), watcher: pair.length === 2 ? pair[0] : null };
    });
    // Warm-up (not recorded).
    await this.seatCycle(lanes[0]).catch((e) => {
      throw new Error(`warm-up select: ${e.message}`);
    });
    const watched = lanes.filter((l) => l.watcher).length;
    this.ready(`seat on session ${session}, seat ${seat.row}:${seat.column} of areas ${area}..${area + laneCount - 1}: ${laneCount} lanes, ${watched} with a watcher`);
    this.loops = lanes.map(async (lane) => {
      while (!this.stopping) {
        const id = this.begin();
        try {
          const { ms, parts } = await this.seatCycle(lane);
          this.end(id, { ms, parts });
        } catch (e) {
          this.end(id, { error: e.message });
        }
        await this.pause(this.opts.intervalMs);
      }
    });
  }

  /** One select/unselect cycle on `lane`'s seat; its watcher (if any) times the broadcasts. */
  async seatCycle(lane) {
    const { session, timeoutMs, intervalMs } = this.opts;
    const { row, column, socket, watcher, area } = lane;
    const mine = (p) => p?.row === row && p?.column === column;
    const tickets = [{ row, column, rowIndex: row - 1, columnIndex: column - 1 }];
    const unselect = () => socket.emit("unselect seat", { sessionId: session, areaId: area, tickets });
    const t0 = performance.now();
    const other = watcher ? listen(watcher, "other select seat", timeoutMs, (p) => mine(p) && p?.sessionId === session) : null;
    const echo = listen(socket, "self select seat", timeoutMs);
    socket.emit("select seat", { sessionId: session, areaId: area, row, column, rowIndex: row - 1, columnIndex: column - 1 });
    const parts = {};
    try {
      const selected = await expectEvent(echo, "select seat");
      if (selected.payload?.error) throw new Error(`select seat: ${selected.payload.error}`);
      parts.select = selected.at - t0;
      if (other) parts.other_seen = (await expectEvent(other, "other select seat (watcher)")).at - t0;
    } catch (e) {
      other?.cancel();
      // The seat may be ours after all (a late echo): free it before the next cycle.
      unselect();
      await this.pause(Math.max(intervalMs, 100));
      throw e;
    }
    const t1 = performance.now();
    if (watcher) {
      const seen = listen(watcher, "unselect seat", timeoutMs, (p) => Array.isArray(p?.tickets) && p.tickets.some(mine));
      const refused = listen(socket, "unselect seat", timeoutMs, (p) => p?.error !== undefined);
      unselect();
      const outcome = await Promise.race([seen.promise, refused.promise.then((o) => ({ ...o, refused: true }))]);
      seen.cancel();
      refused.cancel();
      if (outcome.failure) throw new Error(`unselect seat (watcher): ${outcome.failure}`);
      if (outcome.refused) throw new Error(`unselect seat: ${outcome.payload.error}`);
      parts.unselect_seen = outcome.at - t1;
    } else {
      unselect();
      await this.pause(Math.max(intervalMs, 50)); // nothing confirms it: give the server time
    }
    parts.cycle = performance.now() - t0;
    return { ms: parts.select, parts };
  }

  /** position: every token queues and records its queue news until the stop. */
  async runPosition() {
    const entered = await Promise.all(
      this.opts.tokens.map(async (token, i) => {
        const state = { index: i, wait_people: null, pass: null, join_ms: null, notices: 0, ready: false, last: null };
        const e = await this.enter(token).catch((err) => {
          throw new Error(`setup of token ${i}: ${err.message}`);
        });
        state.pass = e.reply?.pass === true;
        state.wait_people = e.reply?.waitPeople ?? null;
        state.join_ms = Math.round(e.ms * 1000) / 1000;
        // Notices may follow the reply at once: the handlers go on before anything is awaited.
        e.socket.on("minus waiting people", (p) => {
          const at = performance.now();
          this.events.push({ socket: i, name: "minus waiting people", t: Math.round(epochNow() * 1000) / 1000, seconds: p?.seconds ?? null });
          if (state.last !== null) this.record(epochNow(), { ms: at - state.last });
          state.last = at;
          state.notices += 1;
        });
        e.socket.on("ready to go", () => {
          this.events.push({ socket: i, name: "ready to go", t: Math.round(epochNow() * 1000) / 1000 });
          state.ready = true;
        });
        e.socket.on("disconnect", (reason) => {
          if (!this.stopping) this.error(`socket ${i} disconnected (${reason})`);
        });
        return state;
      }),
    );
    this.positionSockets = entered;
    const queued = entered.filter((s) => !s.pass).map((s) => s.wait_people);
    this.ready(`position on session ${this.opts.session}: ${queued.length} of ${entered.length} queued, at ${queued.join(", ") || "-"}`);
  }

  ready(what) {
    this.readyAt = epochNow();
    process.stderr.write(`probe: ready (${what})\n`);
  }

  // ---- run and stop

  async run() {
    const { kind, durationS } = this.opts;
    try {
      if (kind === "join") {
        await this.runJoin();
      } else if (kind === "seat") {
        await this.runSeat();
      } else {
        await this.runPosition();
      }
    } catch (e) {
      this.setupError = e.message;
      this.error(e.message);
      return this.stop("setup failed");
    }
    if (!this.stopping) this.durationTimer = setTimeout(() => this.stop("duration"), durationS * 1000);
  }

  async stop(reason) {
    if (this.stopping) {
      if (reason !== "duration") this.print(); // a second signal: print now
      return;
    }
    this.stopping = true;
    this.stoppedBy = reason;
    this.endedAt = epochNow();
    clearTimeout(this.durationTimer);
    this.wake();
    const graceful = (async () => {
      await Promise.allSettled(this.loops); // the join loop ends at once; lanes after their cycle
      await Promise.allSettled([...this.pending]);
    })();
    await Promise.race([graceful, sleep(this.opts.graceMs)]);
    const now = performance.now();
    for (const [id, { start, t }] of this.inflight) {
      this.inflight.delete(id);
      this.unfinished = (this.unfinished ?? 0) + 1;
      this.record(t, { error: `unfinished ${Math.round(now - start)} ms after it started (at the stop)` });
    }
    this.print();
  }

  print() {
    if (this.printed) return;
    this.printed = true;
    for (const s of this.sockets) s.disconnect();
    this.eventLoop.disable();
    const ok = this.series.filter((s) => s.ms !== null);
    const top = summary(ok.map((s) => s.ms));
    const partNames = [...new Set(ok.flatMap((s) => Object.keys(s.parts ?? {})))];
    const parts = Object.fromEntries(partNames.map((n) => [n, summary(ok.map((s) => s.parts?.[n]).filter((v) => v !== undefined))]));
    const cpu = process.cpuUsage(this.cpuStart);
    const el = this.eventLoop;
    const ns = (v) => Math.max(0, Math.round(v / 1e3 - LOOP_RESOLUTION_MS * 1e3) / 1e3);
    const out = {
      kind: this.opts.kind,
      metric: METRICS[this.opts.kind],
      samples: top.samples,
      p50: top.p50,
      p90: top.p90,
      p99: top.p99,
      max: top.max,
      errors: this.errorCount,
      error_examples: [...this.examples].slice(0, MAX_EXAMPLES).map(([m, n]) => (n > 1 ? `${m} (x${n})` : m)),
      unfinished: this.unfinished ?? 0,
      skipped: this.skipped,
      parts,
      setup_error: this.setupError,
      stopped_by: this.stoppedBy,
      ready_at: this.readyAt ?? null,
      ended_at: this.endedAt ?? epochNow(),
      session: this.opts.session,
      tokens: this.opts.tokens.length,
      interval_ms: this.opts.intervalMs,
      transports: this.opts.transportMode,
      client: this.client.versions,
      node: process.version,
      cpu_s: (cpu.user + cpu.system) / 1e6,
      event_loop_delay_ms: { p50: ns(el.percentile(50)), p99: ns(el.percentile(99)), max: ns(el.max) },
      series: this.series,
    };
    if (this.opts.kind === "join") out.queued = ok.filter((s) => s.queued).length;
    if (this.opts.kind === "position") {
      out.events = this.events;
      out.sockets = this.positionSockets.map(({ last: _last, ...s }) => s);
    }
    const code = this.setupError ? 1 : 0;
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(code));
  }
}

// --------------------------------------------------------------------- main

const opts = parse();
let client;
try {
  client = await loadClient(opts.clientDir);
} catch (e) {
  process.stderr.write(`probe: ${e.message}\n`);
  process.exit(2);
}
if (client.versions["socket.io-client"] !== "4.5.1") {
  process.stderr.write(`probe: warning: socket.io-client ${client.versions["socket.io-client"]}, not the frontend's 4.5.1\n`);
}
const probe = new Probe(opts, client);
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => probe.stop(signal));
// A hard bound, whatever happens: setup (a few replies) + duration + grace.
setTimeout(() => probe.stop("hard bound"), 4 * opts.timeoutMs + opts.durationS * 1000 + opts.graceMs + 5000).unref();
probe.run();
