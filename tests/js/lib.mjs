// Shared helpers for the TicketClub contract scenarios.
//
// Covers: HTTP calls through global fetch, sign-up/sign-in, Socket.IO
// connections made with the real frontend client (socket.io-client 4.5.1),
// an event recorder per socket (socket.onAny) so a scenario can both wait for
// an event and prove a socket received nothing else, the "enter the buying
// page" flow (validation -> connect -> `check limit`), seat-grid checks, and a
// tiny HS256 JWT maker for forged/expired tokens.
//
// The contract these helpers encode is /work/shared/contract.md; the event
// shapes come from the recordings in /work/shared/golden/*.json.

import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { io } from "socket.io-client";
import { sourceOptions } from "./sources.mjs";

export { assert };

// ---------------------------------------------------------------- constants

/** The session every recording used; on sale and in the future in the seed. */
export const SESSION_ID = 2;

/** Exact strings from the contract (error bodies and socket error payloads). */
export const MSG = Object.freeze({
  ALREADY_IN: "此帳號已在購票頁面 / 隊伍中！",
  LOGIN_FIRST: "請先登入！",
  LOGIN_ERROR: "登入錯誤！",
  SEAT_TAKEN: "座位已經被搶走了～請重新選位!",
  NO_SESSION: "Please provide session ID.",
  NO_AREA: "Please provide an area ID.",
  BAD_SESSION: "Please provide a valid session ID.",
  BAD_AREA: "Please provide a valid area ID.",
  NO_TICKETS: "No tickets received.",
  notFound: (row, column, area) => `Can not find row ${row}, column ${column} in area ${area}`,
  notSelectedBy: (seatId, userId) => `Seat ID(${seatId}) is not selected by User ID ${userId}`,
  notLockedBy: (seatId, userId) => `Seat ID(${seatId}) is not locked by User ID ${userId}`,
  boughtWarning: (n) =>
    `一個帳號每個場次限購4張門票（包含歷史訂單）。此帳號已購買${n}張，確定要用此帳號繼續購買嗎？`,
});

/** Seat status ids (contract section 0.5). 4 exists only on the client. */
export const SEAT = Object.freeze({ EMPTY: 1, LOCKED: 2, SOLD: 3, OTHER_SELECTED: 5 });

/** Default wait for one expected server event. Generous: CI machines are slow. */
export const EVENT_TIMEOUT_MS = 5000;

/** How long "nothing else arrived" is observed before asserting silence. */
export const QUIET_MS = 300;

// ------------------------------------------------------------------- basics

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Retry `fn` until it stops throwing or `timeoutMs` passes. Used where the
 * server frees state asynchronously (e.g. after a disconnect) and the contract
 * gives no event to wait for. Rethrows the last failure.
 */
export async function eventually(fn, { timeoutMs = 3000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await sleep(intervalMs);
    }
  }
}

/** `<scenario>-<time>-<rand>-<i>@test.com`: unique across runs and processes. */
export function uniqueEmail(scenario, i) {
  return `${scenario}-${Date.now()}-${randomBytes(3).toString("hex")}-${i}@test.com`;
}

/** Run `fn` over `items` with at most `size` in flight (sign-up batches). */
export async function inBatches(items, size, fn) {
  const out = [];
  for (let start = 0; start < items.length; start += size) {
    const batch = items.slice(start, start + size);
    out.push(...(await Promise.all(batch.map((item, j) => fn(item, start + j)))));
  }
  return out;
}

// --------------------------------------------------------------------- HTTP

/**
 * One HTTP call. `token` becomes `Authorization: Bearer <token>` (pass the
 * string "null" to mimic the logged-out frontend); `auth` sets the header
 * verbatim. Returns `{status, body}` with body parsed as JSON when possible
 * (JSON.parse keeps key order, which the lock-response check relies on).
 */
export async function http(base, method, path, { token, auth, body } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth !== undefined) headers.Authorization = auth;
  else if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15000),
    });
  } catch (err) {
    throw new Error(`${method} ${path}: request failed (${err.cause?.code ?? err.message})`);
  }
  const text = await res.text();
  let parsed;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

/** Assert `payload` is `{error: <non-empty string>}` (wording not fixed by the contract). */
export function assertErrorPayload(payload, what) {
  assert.equal(typeof payload?.error, "string", `${what}: expected {error}, got ${JSON.stringify(payload)}`);
  assert.ok(payload.error.length > 0, `${what}: empty error`);
}

/** Assert an HTTP result's status and body with a message naming the call. */
export function expectHttp(res, status, body, what) {
  assert.equal(res.status, status, `${what}: status ${res.status}, body ${JSON.stringify(res.body)}`);
  if (body !== undefined) assert.deepEqual(res.body, body, `${what}: body`);
}

function authResult(res, what) {
  assert.equal(res.status, 200, `${what}: status ${res.status}, body ${JSON.stringify(res.body)}`);
  const data = res.body?.data;
  assert.equal(typeof data?.access_token, "string", `${what}: data.access_token missing`);
  assert.equal(typeof data?.user?.id, "number", `${what}: data.user.id missing`);
  return { token: data.access_token, id: data.user.id, name: data.user.name, email: data.user.email, data };
}

/** POST /user/signup; returns `{token, id, name, email, data}`. */
export async function signUp(base, name, email, password) {
  const res = await http(base, "POST", "/user/signup", { body: { name, email, password } });
  return authResult(res, `signup ${email}`);
}

/** POST /user/signin; returns `{token, id, name, email, data}`. */
export async function signIn(base, email, password) {
  const res = await http(base, "POST", "/user/signin", { body: { email, password } });
  return authResult(res, `signin ${email}`);
}

export const PASSWORD = "secret123";

/** A fresh user for this scenario run; `label` doubles as the display name. */
export async function newUser(ctx, label, i = 0) {
  const user = await signUp(ctx.base, label, uniqueEmail(ctx.name, i), PASSWORD);
  return { ...user, label };
}

/** `n` fresh users labelled `${prefix}1..n`, signed up in parallel batches. */
export function newUsers(ctx, prefix, n, batch = 20) {
  const idx = Array.from({ length: n }, (_, i) => i + 1);
  return inBatches(idx, batch, (i) => newUser(ctx, `${prefix}${i}`, i));
}

/** POST /session/validation for `user`. */
export function validate(ctx, user, sessionId = SESSION_ID) {
  return http(ctx.base, "POST", "/session/validation", { token: user.token, body: { sessionId } });
}

// ------------------------------------------------------------------ sockets

const allSockets = new Set();
const recorders = new WeakMap();
let seq = 0; // global arrival order across all sockets

/**
 * Every server->client event a socket receives, in order. Events are
 * "consumed" by next(); whatever is left unconsumed is, by definition,
 * something the scenario did not expect, which assertQuiet() reports.
 */
export class Recorder {
  constructor(socket, label) {
    this.label = label;
    this.events = [];
    this.waiters = [];
    this.disconnect = null; // {reason, seq} once the socket disconnected
    this.disconnectWaiters = [];
    socket.onAny((name, ...args) => this.#push(name, args));
    socket.on("disconnect", (reason) => {
      this.disconnect = { reason, seq: ++seq, t: Date.now() };
      for (const w of this.disconnectWaiters.splice(0)) w(this.disconnect);
      // reconnection is off, so a pending wait can never be satisfied: fail it now
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`${this.label}: disconnected (${reason}) while waiting for "${w.name}"`));
      }
    });
  }

  #push(name, args) {
    const ev = { name, args, payload: args[0], seq: ++seq, t: Date.now(), consumed: false };
    this.events.push(ev);
    const i = this.waiters.findIndex((w) => w.name === name);
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      ev.consumed = true;
      w.resolve(ev);
    }
  }

  /** Next unconsumed event named `name` (full record: name, args, payload, seq). */
  nextRecord(name, timeoutMs = EVENT_TIMEOUT_MS) {
    const hit = this.events.find((e) => !e.consumed && e.name === name);
    if (hit) {
      hit.consumed = true;
      return Promise.resolve(hit);
    }
    if (this.disconnect) {
      return Promise.reject(new Error(`${this.label}: waiting for "${name}" on a socket disconnected (${this.disconnect.reason})`));
    }
    return new Promise((resolve, reject) => {
      const w = { name, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const seen = this.describe(this.unconsumed());
        reject(new Error(`${this.label}: no "${name}" within ${timeoutMs} ms; unconsumed events: ${seen}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Payload (first argument) of the next unconsumed event named `name`. */
  async next(name, timeoutMs = EVENT_TIMEOUT_MS) {
    return (await this.nextRecord(name, timeoutMs)).payload;
  }

  /** Resolves with `{reason, seq}` when the socket disconnects. */
  waitDisconnect(timeoutMs = EVENT_TIMEOUT_MS) {
    if (this.disconnect) return Promise.resolve(this.disconnect);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: not disconnected within ${timeoutMs} ms`)), timeoutMs);
      this.disconnectWaiters.push((d) => {
        clearTimeout(timer);
        resolve(d);
      });
    });
  }

  unconsumed() {
    return this.events.filter((e) => !e.consumed);
  }

  describe(events) {
    if (events.length === 0) return "none";
    return events.map((e) => `"${e.name}" ${JSON.stringify(e.args)}`).join(", ");
  }

  /** Fail if this socket received anything the scenario did not consume. */
  assertQuiet() {
    const extra = this.unconsumed();
    if (extra.length > 0) throw new Error(`${this.label} received unexpected events: ${this.describe(extra)}`);
  }
}

/** Wait QUIET_MS, then assert none of `players` received anything unexpected. */
export async function assertQuiet(players, ms = QUIET_MS) {
  await sleep(ms);
  for (const p of players) recorderOf(p).assertQuiet();
}

/** Accepts a player `{rec}`, a socket or a Recorder. */
export function recorderOf(x) {
  if (x instanceof Recorder) return x;
  if (x?.rec instanceof Recorder) return x.rec;
  const rec = recorders.get(x);
  if (!rec) throw new Error("no recorder attached to this socket");
  return rec;
}

/** CLI transport mode -> socket.io-client options. */
export function transportOptions(mode) {
  switch (mode) {
    case "default":
      return {}; // socket.io defaults: polling first, then upgrade to websocket
    case "websocket":
      return { transports: ["websocket"] };
    case "polling":
      return { transports: ["polling"] };
    default:
      throw new Error(`unknown transports mode "${mode}" (default|websocket|polling)`);
  }
}

function makeSocket(base, auth, transports, label) {
  const socket = io(base, {
    auth,
    ...transportOptions(transports),
    ...sourceOptions(),
    forceNew: true, // one engine connection per user, as in separate browsers
    reconnection: false, // a dropped connection must surface as a failure, not be papered over
    timeout: 10000,
  });
  socket.label = label;
  allSockets.add(socket);
  recorders.set(socket, new Recorder(socket, label));
  return socket;
}

/**
 * A connect_error said in full: a transport failure ("xhr poll error", "websocket error")
 * carries its cause (an HTTP status, a socket error) and, for polling, the response: a flake
 * seen once in CI said only "xhr poll error".
 */
function describeConnectError(err) {
  const parts = [err.message];
  const cause = err.description;
  if (cause !== undefined && cause !== null) {
    parts.push(`cause ${cause instanceof Error ? cause.message : JSON.stringify(cause)}`);
  }
  const ctx = err.context;
  if (ctx && typeof ctx === "object" && "status" in ctx) {
    const body = String(ctx.responseText ?? "").slice(0, 200);
    parts.push(`HTTP ${ctx.status} ${JSON.stringify(body)}`);
  }
  return parts.join("; ");
}

/** Resolves "connect" or rejects "connect_error" with the server's message. */
function awaitConnect(socket, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${socket.label}: no connect within ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = () => {
      cleanup();
      resolve({ ok: true });
    };
    const onError = (err) => {
      cleanup();
      resolve({ ok: false, err });
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/**
 * A connected socket authenticated like the frontend (`auth: {token: "Bearer
 * <jwt>"}`). `opts.auth` overrides the auth object (raw JWT, bad token...).
 * The socket carries `.label` and a Recorder reachable via recorderOf().
 */
export async function connect(base, token, transports, { label = "socket", auth, timeoutMs = 10000 } = {}) {
  const socket = makeSocket(base, auth ?? { token: `Bearer ${token}` }, transports, label);
  const res = await awaitConnect(socket, timeoutMs);
  if (!res.ok) throw new Error(`${label}: connect_error "${describeConnectError(res.err)}"`);
  return socket;
}

/** Connect expecting the server to refuse; resolves with the connect_error. */
export async function connectRefused(base, auth, transports, { label = "refused", timeoutMs = 10000 } = {}) {
  const socket = makeSocket(base, auth, transports, label);
  const res = await awaitConnect(socket, timeoutMs);
  socket.disconnect();
  if (res.ok) throw new Error(`${label}: connected, but the server should have refused auth ${JSON.stringify(auth)}`);
  return res.err;
}

/**
 * Payload of the next `name` event on `socket` (buffered events count, so an
 * event that arrived before this call is not lost). Rejects with a message
 * naming the socket, the event and what did arrive meanwhile.
 */
export function nextEvent(socket, name, timeoutMs = EVENT_TIMEOUT_MS) {
  return recorderOf(socket).next(name, timeoutMs);
}

/** Disconnect every socket this process opened (run.mjs calls it always). */
export function closeAllSockets() {
  for (const socket of allSockets) {
    try {
      socket.disconnect();
    } catch {
      // closing is best effort; a broken socket must not mask the real failure
    }
  }
  allSockets.clear();
}

// ------------------------------------------------------- the buying-page flow

/**
 * A user as a scenario "player": the user, its socket and its recorder.
 * The socket is connected but has not sent `check limit`.
 */
export async function join(ctx, user) {
  const socket = await connect(ctx.base, user.token, ctx.transports, { label: user.label });
  return { ...user, user, socket, rec: recorderOf(socket) };
}

/**
 * Emit `check limit` and return the reply (always sent to the sender only).
 * Also notes when it arrived (`player.replyAt`, ms) for timing checks.
 */
export async function checkLimit(player, sessionId = SESSION_ID) {
  player.socket.emit("check limit", sessionId);
  const ev = await player.rec.nextRecord("check limit");
  player.replyAt = ev.t;
  return ev.payload;
}

/**
 * The frontend's buy click: POST /session/validation (must be 200 {ok:true}),
 * open the socket, emit `check limit`, wait for the reply.
 */
export async function enter(ctx, user, sessionId = SESSION_ID) {
  expectHttp(await validate(ctx, user, sessionId), 200, { ok: true }, `${user.label} validation`);
  const player = await join(ctx, user);
  player.reply = await checkLimit(player, sessionId);
  return player;
}

/** `enter` and assert the user is let onto the buying page. */
export async function enterPage(ctx, user, sessionId = SESSION_ID) {
  const player = await enter(ctx, user, sessionId);
  assert.equal(player.reply?.pass, true, `${user.label} should pass check limit, got ${JSON.stringify(player.reply)}`);
  return player;
}

/**
 * The recordings' 7-user arrival: each user validates, connects, sends
 * `check limit` and waits for the reply before the next one starts.
 */
export async function arriveInOrder(ctx, n = 7, prefix = "U") {
  const users = await newUsers(ctx, prefix, n);
  const players = [];
  for (const user of users) players.push(await enter(ctx, user));
  return players;
}

/**
 * Contract for 7 arrivals with queue limit 3: U1..U3 pass, U4..U7 wait with
 * waitPeople 1..4; seconds ~608 for queue index 0..2 and ~1208 for index 3.
 */
export function assertArrivalReplies(players, limit = 3) {
  players.forEach((p, i) => {
    const r = p.reply;
    if (i < limit) {
      assert.equal(r?.pass, true, `${p.label}: expected pass, got ${JSON.stringify(r)}`);
      assert.equal(r.waitPeople, 0, `${p.label}: waitPeople`);
      assert.equal(typeof r.seconds, "number", `${p.label}: seconds must be a number`);
      assert.deepEqual(Object.keys(r).sort(), ["pass", "seconds", "waitPeople"], `${p.label}: reply keys`);
    } else {
      const q = i - limit; // 0-based queue index
      assert.deepEqual(
        { pass: r?.pass, waitPeople: r?.waitPeople },
        { pass: false, waitPeople: q + 1 },
        `${p.label}: expected queued at position ${q + 1}, got ${JSON.stringify(r)}`,
      );
      const round = Math.floor(q / limit);
      assertSeconds(r.seconds, 605 + round * 600, 610 + round * 600, `${p.label} check limit`);
    }
  });
}

export function assertSeconds(seconds, lo, hi, what) {
  assert.ok(Number.isInteger(seconds), `${what}: seconds ${JSON.stringify(seconds)} is not an integer`);
  assert.ok(seconds >= lo && seconds <= hi, `${what}: seconds ${seconds} not in ${lo}..${hi}`);
}

/** Consume exactly one `minus waiting people` on each player, seconds in range. */
export async function expectMinusWaiting(players, lo = 605, hi = 610) {
  for (const p of players) {
    const payload = await p.rec.next("minus waiting people");
    assert.deepEqual(Object.keys(payload ?? {}), ["seconds"], `${p.label}: minus waiting people payload ${JSON.stringify(payload)}`);
    assertSeconds(payload.seconds, lo, hi, `${p.label} minus waiting people`);
  }
}

// -------------------------------------------------------------------- seats

/** The `select seat` payload the frontend sends (row/column 1-based). */
export function seatPayload(row, column, areaId = 1, sessionId = SESSION_ID) {
  return { sessionId, areaId, row, column, rowIndex: row - 1, columnIndex: column - 1 };
}

/** `seat_id = (area-1)*81 + (row-1)*9 + column` (seed layout). */
export const seatId = (areaId, row, column) => (areaId - 1) * 81 + (row - 1) * 9 + column;

/** The client-side seat object `Seat.js` puts in /seat/lock and `lock seat`. */
export function clientSeat(row, column, statusId) {
  return { column, row, status_id: statusId, disabled: true, rowIndex: row - 1, columnIndex: column - 1 };
}

/** The seat map must be a dense 9x9 grid, rows ascending: seats[row-1][column-1]. */
export function assertDenseGrid(grid, what = "POST /seat") {
  assert.ok(Array.isArray(grid), `${what}: not an array: ${JSON.stringify(grid)}`);
  assert.equal(grid.length, 9, `${what}: ${grid.length} rows`);
  grid.forEach((rowSeats, r) => {
    assert.equal(rowSeats.length, 9, `${what}: row ${r + 1} has ${rowSeats.length} seats`);
    rowSeats.forEach((seat, c) => {
      assert.deepEqual(Object.keys(seat), ["column", "row", "status_id"], `${what}: seat keys at [${r}][${c}]`);
      assert.equal(seat.row, r + 1, `${what}: seats[${r}][${c}].row`);
      assert.equal(seat.column, c + 1, `${what}: seats[${r}][${c}].column`);
    });
  });
}

/** POST /seat as `user`; returns the validated grid of status ids `[row-1][column-1]`. */
export async function seatStatuses(ctx, user, areaId = 1, sessionId = SESSION_ID) {
  const res = await http(ctx.base, "POST", "/seat", { token: user.token, body: { sessionId, areaId } });
  expectHttp(res, 200, undefined, "POST /seat");
  assertDenseGrid(res.body);
  return res.body.map((row) => row.map((s) => s.status_id));
}

/** Assert listed `[row, column, status]` seats have that status and every other seat is EMPTY. */
export function assertOnly(statuses, expected, what) {
  const want = Array.from({ length: 9 }, () => Array(9).fill(SEAT.EMPTY));
  for (const [row, column, status] of expected) want[row - 1][column - 1] = status;
  const wrong = [];
  want.forEach((cols, r) => cols.forEach((w, c) => {
    if (statuses[r][c] !== w) wrong.push(`row ${r + 1} column ${c + 1}: expected ${w}, got ${statuses[r][c]}`);
  }));
  if (wrong.length > 0) throw new Error(`${what}: seat statuses differ: ${wrong.join("; ")}`);
}

/** Emit `select seat` and wait for the sender's `self select seat`. */
export function selectSeat(player, row, column, areaId = 1) {
  player.socket.emit("select seat", seatPayload(row, column, areaId));
  return player.rec.next("self select seat");
}

/** Select and assert the success echo (and the `other select seat` to `others`). */
export async function selectOk(player, row, column, others = [], areaId = 1) {
  const payload = seatPayload(row, column, areaId);
  assert.deepEqual(await selectSeat(player, row, column, areaId), payload, `${player.label} self select seat echo`);
  for (const o of others) assert.deepEqual(await o.rec.next("other select seat"), payload, `${o.label} other select seat`);
}

/**
 * `join room` has no reply, so wait a moment, as the real UI does. The wait grows
 * with the number of sockets: with 200 polling clients the last joins take
 * over a second to reach the server.
 */
export async function joinRoom(players, areaId = 1, sessionId = SESSION_ID) {
  for (const p of players) p.socket.emit("join room", { sessionId, areaId });
  await sleep(200 + 10 * players.length);
}

// ---------------------------------------------------------------------- JWT

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/** An HS256 JWT like jsonwebtoken makes (header {alg,typ}). */
export function makeJwt(payload, secret) {
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify(payload));
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

// ------------------------------------------------------------ two instances
//
// The two-instance scenarios (tests/api/multi_instance.rs) get a second
// server, sharing the first one's database and Redis, as `ctx.base2`
// (`run.mjs --url2`), and the process ids of both in TC_INSTANCE1_PID and
// TC_INSTANCE2_PID so they can kill or stop one.

/** The per-account ticket limit error of `select seat` (contract section 2, step 2). */
export const TICKET_LIMIT_ERROR = "一個帳號每個場次限購4張門票（包含歷史訂單）！";

/** Generous wait for one event when two instances and MariaDB share two cores. */
export const SLOW_EVENT_TIMEOUT_MS = 10000;

/**
 * `ctx` pointed at instance `n` (1 = `--url`, 2 = `--url2`): every helper
 * that takes a ctx (newUser, newUsers, enter, enterPage, join, validate,
 * seatStatuses, profile, lockSeats, placeOrder) then talks to that instance.
 * Users are shared: the instances share one database.
 */
export function onInstance(ctx, n) {
  if (n === 1) return { ...ctx, instance: 1 };
  if (n !== 2) throw new Error(`no instance ${n}`);
  if (!ctx.base2) throw new Error(`scenario "${ctx.name}" needs a second instance: pass --url2 (tests/api/multi_instance.rs does)`);
  return { ...ctx, base: ctx.base2, instance: 2 };
}

/** The process id of instance `n` from TC_INSTANCE<n>_PID (set by tests/api/multi_instance.rs). */
export function instancePid(n) {
  const raw = process.env[`TC_INSTANCE${n}_PID`];
  const pid = Number(raw);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`TC_INSTANCE${n}_PID is not a process id: ${JSON.stringify(raw)}`);
  return pid;
}

/**
 * Another socket for a player's account on `ctx` (its instance), labelled
 * `label`; it does not send `check limit`. Returns a player like join().
 */
export async function joinAgain(ctx, player, label) {
  return join(ctx, { ...player.user, label });
}

/** Emit `select seat` and return the sender's `self select seat` (waiting up to `timeoutMs`). */
export function selectSeatWithin(player, row, column, areaId = 1, timeoutMs = SLOW_EVENT_TIMEOUT_MS) {
  player.socket.emit("select seat", seatPayload(row, column, areaId));
  return player.rec.next("self select seat", timeoutMs);
}

/** Like selectOk, with a longer wait: the echo to `player`, `other select seat` to each of `others`. */
export async function selectOkWithin(player, row, column, others = [], areaId = 1, timeoutMs = SLOW_EVENT_TIMEOUT_MS) {
  const payload = seatPayload(row, column, areaId);
  assert.deepEqual(await selectSeatWithin(player, row, column, areaId, timeoutMs), payload, `${player.label} self select seat echo`);
  for (const o of others) {
    assert.deepEqual(await o.rec.next("other select seat", timeoutMs), payload, `${o.label} other select seat`);
  }
}

/** POST /seat/lock of `[row, column]` seats in one area, as the frontend sends it; returns `{status, body}`. */
export function lockSeats(ctx, user, seats, areaId = 1, sessionId = SESSION_ID) {
  const body = { sessionId, areaId, tickets: seats.map(([row, column]) => clientSeat(row, column, 4)) };
  return http(ctx.base, "POST", "/seat/lock", { token: user.token, body });
}

/** POST /order `{sessionId, seatIds}`; returns `{status, body}`. */
export function placeOrder(ctx, user, seatIds, sessionId = SESSION_ID) {
  return http(ctx.base, "POST", "/order", { token: user.token, body: { sessionId, seatIds } });
}

/** GET /user/profile; asserts 200 and returns the body `{name, email, tickets:[order…]}`. */
export async function profile(ctx, user) {
  const res = await http(ctx.base, "GET", "/user/profile", { token: user.token });
  expectHttp(res, 200, undefined, `GET /user/profile of ${user.label}`);
  assert.ok(Array.isArray(res.body?.tickets), `profile of ${user.label}: no tickets array: ${JSON.stringify(res.body)}`);
  return res.body;
}
