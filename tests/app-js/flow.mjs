#!/usr/bin/env node
// The app buyer flow of shared/protocol-v2.md, driven by the latest socket.io-client 4.x.
//
//   node tests/app-js/flow.mjs --url http://127.0.0.1:P1 [--url2 http://127.0.0.1:P2] \
//        --transport polling|websocket
//
// The server must run with a queue limit of 2 on session 2 (tests/api/app_clients.rs starts
// it so). A and C buy on the first instance; B and D wait on the second (or the first when no
// --url2 is given), so admissions, positions and seat pushes cross instances. Prints one line per
// check and exits 1 on the first failure. The same steps are written for python-socketio
// (tests/app-py/flow.py) and rust_socketio (tests/api/app_rust.rs).

import { parseArgs } from "node:util";
import { io } from "socket.io-client";

const SESSION = 2;
const AREA = 1;
const WAIT_MS = 5000;
const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    url2: { type: "string" },
    transport: { type: "string", default: "websocket" },
  },
});
const url1 = args.url;
const url2 = args.url2 ?? args.url;
const sockets = [];
let checks = 0;

function check(ok, what, detail) {
  if (!ok) throw new Error(`FAILED ${what}: ${JSON.stringify(detail)}`);
  checks += 1;
  console.log(`ok ${checks} ${what}`);
}

async function signUp(base, label) {
  const email = `app-js-${label}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const res = await fetch(`${base}/user/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: label, email, password: "secret123" }),
  });
  const body = await res.json();
  const token = body?.data?.access_token;
  if (!token) throw new Error(`signup ${label}: ${JSON.stringify(body)}`);
  return token;
}

/** A socket on one namespace that remembers every push, so none is missed between awaits. */
function open(base, ns, token, label) {
  const socket = io(`${base}${ns}`, {
    auth: { token },
    transports: [args.transport],
    forceNew: true,
    reconnection: false,
  });
  socket.label = label;
  socket.inbox = [];
  socket.waiters = [];
  socket.onAny((event, payload) => {
    socket.inbox.push({ event, payload });
    socket.waiters.forEach((w) => w());
  });
  sockets.push(socket);
  return socket;
}

function connected(socket) {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve({ ok: true }));
    socket.once("connect_error", (err) => resolve({ ok: false, err }));
  });
}

async function connect(base, ns, token, label) {
  const socket = open(base, ns, token, label);
  const res = await connected(socket);
  if (!res.ok) throw new Error(`${label}: connect to ${ns} refused: ${res.err.message}`);
  return socket;
}

/** The next push named `event` (earlier ones are taken first). */
function next(socket, event, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const look = () => {
      const i = socket.inbox.findIndex((m) => m.event === event);
      if (i < 0) return false;
      const [m] = socket.inbox.splice(i, 1);
      cleanup();
      resolve(m.payload);
      return true;
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${socket.label}: no ${event} within ${ms} ms (got ${JSON.stringify(socket.inbox)})`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      socket.waiters = socket.waiters.filter((w) => w !== look);
    };
    if (!look()) socket.waiters.push(look);
  });
}

const call = (socket, event, payload) => socket.timeout(WAIT_MS).emitWithAck(event, payload);
const code = (ack) => ack?.error?.code;

async function main() {
  const [ta, tb, tc, td] = await Promise.all(["A", "B", "C", "D"].map((l, i) => signUp(i % 2 ? url2 : url1, l)));
  const qa = await connect(url1, "/queue", ta, "A/queue");
  const qc = await connect(url1, "/queue", tc, "C/queue");
  const qb = await connect(url2, "/queue", tb, "B/queue");
  const qd = await connect(url2, "/queue", td, "D/queue");

  const a = await call(qa, "join", { sessionId: SESSION });
  check(a.ok && a.state === "admitted" && a.ahead === 0 && typeof a.windowEndsAt === "number", "A is admitted", a);
  check(typeof a.estimate?.seconds === "number" && a.opensAt !== undefined, "the join ack carries estimate and opensAt", a);
  const again = await call(qa, "join", { sessionId: SESSION });
  check(again.state === "admitted" && again.windowEndsAt === a.windowEndsAt, "a second join returns the same place", again);
  check((await call(qc, "join", { sessionId: SESSION })).state === "admitted", "C is admitted", null);
  const b = await call(qb, "join", { sessionId: SESSION });
  check(b.ok && b.state === "queued" && b.ahead === 0, "B queues first in line", b);
  const d = await call(qd, "join", { sessionId: SESSION });
  check(d.state === "queued" && d.ahead === 1 && d.estimate.seconds > 0, "D queues behind B with a wait", d);
  const ds = await call(qd, "status", { sessionId: SESSION });
  check(ds.state === "queued" && ds.ahead === 1, "status says where D stands", ds);
  check(code(await call(qd, "join", { sessionId: "two" })) === "bad_request", "a wrong type is a bad_request", null);
  check(code(await call(qd, "join", { sessionId: 99999 })) === "unknown_session", "an unknown session is named", null);

  const refused = open(url2, `/event-${SESSION}`, tb, "B/event-early");
  const r = await connected(refused);
  check(!r.ok && r.err.message === "not_admitted" && r.err.data?.code === "not_admitted" && r.err.data?.message,
    "the buying page refuses B before admission, with the code", { message: r.err?.message, data: r.err?.data });

  const ea = await connect(url1, `/event-${SESSION}`, ta, "A/event");
  const win = await next(ea, "window");
  check(win.endsAt === a.windowEndsAt && typeof win.serverNow === "number", "the page pushes the window on connect", win);
  const ec = await connect(url1, `/event-${SESSION}`, tc, "C/event");
  const seen = await call(ec, "watch", { areaId: AREA });
  const seat = seen.seats?.find((s) => s.row === 1 && s.column === 1);
  check(seen.ok && seen.areaId === AREA && seat?.status === "empty" && seat.mine === false, "watch gives the whole area", seen.seats?.length);
  const v0 = seen.version;
  check((await call(ea, "watch", { areaId: AREA })).ok, "A watches the area too", null);

  const sel = await call(ea, "select", { areaId: AREA, row: 1, column: 1 });
  check(sel.ok && sel.seat.row === 1 && sel.seat.column === 1, "A selects a seat", sel);
  let push = await next(ec, "seats");
  check(push.version === v0 + 1 && push.changes[0].status === "selected", "C sees the selection with the next version", push);
  check(code(await call(ec, "select", { areaId: AREA, row: 1, column: 1 })) === "seat_taken", "C cannot take A's seat", null);
  check(code(await call(ec, "unselect", { areaId: AREA, row: 1, column: 1 })) === "not_yours", "C cannot free A's seat", null);
  const lock = await call(ea, "lock", { areaId: AREA, seats: [{ row: 1, column: 1 }] });
  check(lock.ok && lock.seats.length === 1 && lock.total > 0, "A locks it with a total", lock);
  push = await next(ec, "seats");
  check(push.version === v0 + 2 && push.changes[0].status === "locked", "C sees the lock", push);
  const order = await call(ea, "order", { areaId: AREA, seats: [{ row: 1, column: 1 }] });
  check(order.ok && order.orderId && order.total === lock.total, "A orders it", order);
  push = await next(ec, "seats");
  check(push.version === v0 + 3 && push.changes[0].status === "sold", "C sees it sold", push);
  const many = Array.from({ length: 1000 }, (_, i) => ({ row: 1 + (i % 9), column: 1 }));
  check(code(await call(ec, "lock", { areaId: AREA, seats: many })) === "bad_request", "a huge array is a bad_request", null);
  check(code(await call(ec, "select", { areaId: AREA, row: 99, column: 1 })) === "unknown_seat", "an unknown seat is named", null);
  check(code(await call(ec, "watch", { areaId: 4242 })) === "unknown_area", "an unknown area is named", null);
  check(code(await call(ec, "select", { areaId: AREA, row: "1", column: 1 })) === "bad_request", "a string row is a bad_request", null);
  const binary = await call(ec, "select", { areaId: AREA, row: 2, column: 2, blob: Buffer.from([1, 2]) });
  check(code(binary) === "bad_request" && /binary/i.test(binary.error?.message), "a binary attachment is a bad_request naming it", binary);
  const five = Array.from({ length: 5 }, (_, i) => ({ row: 2, column: 1 + i }));
  check(code(await call(ec, "lock", { areaId: AREA, seats: five })) === "bad_request", "more seats than the ticket limit is a bad_request", null);

  check((await call(ea, "leave", {})).ok, "A leaves the page", null);
  const adm = await next(qb, "admitted");
  check(adm.sessionId === SESSION && typeof adm.windowEndsAt === "number", "B hears admitted", adm);
  const pos = await next(qd, "position");
  check(pos.sessionId === SESSION && pos.ahead === 0, "D hears its new position", pos);
  const eb = await connect(url2, `/event-${SESSION}`, tb, "B/event");
  check((await next(eb, "window")).endsAt === adm.windowEndsAt, "B's window matches the admission", null);
  const bview = await call(eb, "watch", { areaId: AREA });
  const sold = bview.seats.find((s) => s.row === 1 && s.column === 1);
  check(sold.status === "sold" && sold.mine === false, "B sees the seat sold", sold);
  check((await call(qb, "status", { sessionId: SESSION })).state === "admitted", "B's status is admitted", null);

  check((await call(qb, "leave", { sessionId: SESSION })).ok, "B leaves from the queue namespace", null);
  check((await next(qd, "admitted")).sessionId === SESSION, "D is admitted next", null);
  check((await call(qa, "status", { sessionId: SESSION })).state === "none", "A is no longer in line", null);

  // The per-socket event budget (default 50/s, burst 100): 115 requests at once from one socket
  // (fewer than the 128 packets a socket's outgoing queue holds, so no answer is dropped).
  const settled = await Promise.allSettled(Array.from({ length: 115 }, () => call(qa, "status", { sessionId: SESSION })));
  const burst = settled.map((r) => (r.status === "fulfilled" ? r.value : {}));
  const limited = burst.filter((ack) => code(ack) === "rate_limited");
  check(limited.length > 0 && burst.some((ack) => ack.ok), "a burst past the event budget gets rate_limited acks", limited.length);
  console.log(`PASSED ${checks} checks`);
}

const deadline = setTimeout(() => {
  console.error("FAILED: the flow took over 60 s");
  process.exit(1);
}, 60000);
try {
  await main();
  process.exitCode = 0;
} catch (err) {
  console.error(err.message ?? err);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  sockets.forEach((s) => s.disconnect());
}
