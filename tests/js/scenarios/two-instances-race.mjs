// Scenario `two-instances-race`. Server: TWO instances sharing one
// MySQL/MariaDB database and one Redis, queue limit >= --clients (default
// 500; e.g. TICKETCLUB_QUEUE_LIMIT=600), ticket limit 4 (the default).
// Needs `--url2`; run by tests/api/multi_instance.rs, not by run-all.mjs.
//
// Covers seat races spread over two instances: N users (half signed up and
// connected through each instance) enter the page and join room 2-1, then
// all emit `select seat` at once, user i for seat s = i % 50 of area 1
// (row floor(s/9)+1, column s%9+1). User i connects through instance
// floor(i/50) % 2 + 1, so each seat's racers are split over both instances.
// Exactly one user wins each of the 50 seats, every other reply is the
// taken-seat error, and every client sees every other winner's
// `other select seat`, whichever instance it came through. The winners lock
// and order their seats (half through each instance): all 50 sold once, 50
// tickets over the winners' profiles, no seat twice. Finally the ticket
// limit holds across instances: a loser with a second socket on the other
// instance fires 8 selects (area 3) over both sockets at once and exactly 4
// succeed.

import {
  MSG, SEAT, TICKET_LIMIT_ERROR, assert, assertOnly, assertQuiet, enterPage, expectHttp, http, inBatches, joinAgain,
  joinRoom, lockSeats, newUser, onInstance, placeOrder, profile, seatId, seatPayload, seatStatuses,
} from "../lib.mjs";

const DEFAULT_CLIENTS = 500;
const SEATS = 50;
const SIGNUP_BATCH = 25;
const ENTER_BATCH = 20; // validation + connect + `check limit`: two instances and MariaDB share 2 cores
const ORDER_BATCH = 10;
const REPLY_TIMEOUT_MS = 60000;
const AREA = 1;
const LIMIT_AREA = 3; // untouched by the race
const TICKET_LIMIT = 4;

/** Needs two instances (`--url2`); run-all.mjs, which starts one server, can skip scenarios that say so. */
export const instances = 2;

/** run.mjs reads this: N=500 needs well over the 60 s default (multi_instance.rs allows 240 s). */
export const timeoutSeconds = (ctx) => Math.min(230, Math.max(90, 60 + (ctx.clients ?? DEFAULT_CLIENTS) * 0.3));

/** The seat column a `self select seat` reply is about (echo: column; error: columnIndex + 1). */
const columnOf = (reply) => reply?.column ?? (Number.isInteger(reply?.columnIndex) ? reply.columnIndex + 1 : undefined);

/** Seat s (0-based) of the race: row floor(s/9)+1, column s%9+1. */
const seatOf = (s) => [Math.floor(s / 9) + 1, (s % 9) + 1];

export async function run(ctx) {
  const n = ctx.clients ?? DEFAULT_CLIENTS;
  const instances = [onInstance(ctx, 1), onInstance(ctx, 2)];
  const via = (i) => instances[Math.floor(i / SEATS) % 2]; // user i's instance
  assert.ok(n >= SEATS, `--clients must be at least ${SEATS} (one racer per seat), got ${n}`);

  const started = Date.now();
  const users = await ctx.check(`${n} users sign up, half on each instance`, () =>
    inBatches(Array.from({ length: n }, (_, i) => i), SIGNUP_BATCH, (i) => newUser(via(i), `R${i}@${via(i).instance}`, i)));
  ctx.log(`signed up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const players = await ctx.check(`all ${n} enter the page (queue limit must be >= ${n}), half through each instance, and join room 2-1`, async () => {
    const ps = await inBatches(users, ENTER_BATCH, (u, i) => enterPage(via(i), u));
    ps.forEach((p, i) => {
      p.index = i;
      p.seat = i % SEATS;
      p.ctx = via(i);
    });
    await joinRoom(ps, AREA);
    return ps;
  });
  ctx.log(`${n} on the page after ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // ---- the race: everybody at once, no await in between
  const payloadOf = (p) => seatPayload(...seatOf(p.seat), AREA);
  for (const p of players) p.socket.emit("select seat", payloadOf(p));

  const replies = await ctx.check("every client gets a `self select seat` reply", () =>
    Promise.all(players.map((p) => p.rec.next("self select seat", REPLY_TIMEOUT_MS))));
  const winners = players.filter((_, i) => !("error" in (replies[i] ?? {})));
  await ctx.check(`exactly ${SEATS} clients win, exactly one per seat, each with the success echo`, () => {
    const bySeat = new Map();
    for (const w of winners) bySeat.set(w.seat, [...(bySeat.get(w.seat) ?? []), w.label]);
    const doubles = [...bySeat].filter(([, labels]) => labels.length > 1).map(([s, labels]) => `seat ${s}: ${labels.join(", ")}`);
    assert.deepEqual(doubles, [], `seats won more than once: ${doubles.join("; ")}`);
    const missing = Array.from({ length: SEATS }, (_, s) => s).filter((s) => !bySeat.has(s));
    assert.deepEqual(missing, [], `seats nobody won: ${missing.join(", ")}`);
    assert.equal(winners.length, SEATS, "winners");
    for (const w of winners) assert.deepEqual(replies[w.index], payloadOf(w), `${w.label}'s echo`);
  });
  await ctx.check(`the other ${n - SEATS} get {error: 座位已經被搶走了…, rowIndex, columnIndex}`, () => {
    const wrong = [];
    for (const p of players) {
      if (winners.includes(p)) continue;
      const { rowIndex, columnIndex } = payloadOf(p);
      try {
        assert.deepEqual(replies[p.index], { error: MSG.SEAT_TAKEN, rowIndex, columnIndex });
      } catch {
        wrong.push(`${p.label}: ${JSON.stringify(replies[p.index])}`);
      }
    }
    assert.deepEqual(wrong, [], `${wrong.length} unexpected replies: ${wrong.slice(0, 10).join("; ")}`);
  });
  await ctx.check(`every client sees each other winner's \`other select seat\` (${SEATS - 1} or ${SEATS}), across instances`, () =>
    Promise.all(players.map(async (p) => {
      const expected = winners.filter((w) => w !== p).map(payloadOf);
      const got = [];
      for (let k = 0; k < expected.length; k += 1) got.push(await p.rec.next("other select seat", REPLY_TIMEOUT_MS));
      const key = (x) => `${x.row}-${x.column}`;
      assert.deepEqual(got.map(key).sort(), expected.map(key).sort(), `${p.label} other select seat rows-columns`);
      for (const g of got) assert.deepEqual(g, payloadOf({ seat: (g.row - 1) * 9 + g.column - 1 }), `${p.label} other select seat payload`);
    })));
  await ctx.check("no client received anything else", () => assertQuiet(players, 500));

  const raceSeats = Array.from({ length: SEATS }, (_, s) => seatOf(s));
  await ctx.check(`POST /seat (instance 1) shows the ${SEATS} seats selected (5), the rest empty`, async () =>
    assertOnly(await seatStatuses(instances[0], users[0], AREA), raceSeats.map(([r, c]) => [r, c, SEAT.OTHER_SELECTED]), "after the race"));

  // ---- winners buy, half through each instance
  winners.sort((x, y) => x.seat - y.seat);
  await ctx.check(`every winner locks (POST /seat/lock) and orders (POST /order) its seat, half through each instance`, () =>
    inBatches(winners, ORDER_BATCH, async (w, j) => {
      const inst = instances[j % 2];
      const [row, column] = seatOf(w.seat);
      const lock = await lockSeats(inst, w, [[row, column]], AREA);
      expectHttp(lock, 200, undefined, `${w.label} POST /seat/lock ${row}-${column} via instance ${inst.instance}`);
      assert.deepEqual(lock.body.tickets?.map((t) => t.seatId), [seatId(AREA, row, column)], `${w.label} locked seat ids`);
      expectHttp(await placeOrder(inst, w, [seatId(AREA, row, column)]), 200, { ok: true },
        `${w.label} POST /order ${row}-${column} via instance ${inst.instance}`);
    }));
  await ctx.check(`POST /seat (instance 2) shows the ${SEATS} seats sold (3), the rest empty`, async () =>
    assertOnly(await seatStatuses(instances[1], users[0], AREA), raceSeats.map(([r, c]) => [r, c, SEAT.SOLD]), "after the orders"));
  await ctx.check(`the winners' profiles hold ${SEATS} tickets in all, each its own seat, none twice`, async () => {
    const profiles = await inBatches(winners, ORDER_BATCH, (w, j) => profile(instances[(j + 1) % 2], w));
    const seen = new Map();
    let total = 0;
    profiles.forEach((body, j) => {
      const w = winners[j];
      const tickets = body.tickets.flatMap((order) => order.tickets);
      total += tickets.length;
      for (const t of tickets) {
        const key = `${t.area} ${t.row}-${t.column}`;
        assert.ok(!seen.has(key), `seat ${key} is in the profiles of ${seen.get(key)} and ${w.label}`);
        seen.set(key, w.label);
      }
      const [row, column] = seatOf(w.seat);
      assert.deepEqual(tickets.map((t) => [t.row, t.column]), [[row, column]], `${w.label}'s tickets`);
    });
    assert.equal(total, SEATS, "tickets over all winners' profiles");
  });
  // Nothing the server does in lock/order is broadcast (the client relays `lock seat`/`sold seat`).
  await ctx.check("still nobody received anything", () => assertQuiet(players, 300));

  await ticketLimitAcrossInstances(ctx, players, winners, instances);
}

/**
 * A loser (on the page, no tickets) opens a second socket on the other
 * instance; 8 `select seat` for 8 free seats, split over both sockets, go out
 * at once. The per-account limit is 4 whichever instance a select lands on.
 */
async function ticketLimitAcrossInstances(ctx, players, winners, instances) {
  const first = players.find((p) => !winners.includes(p));
  const other = instances[first.ctx.instance === 1 ? 1 : 0];
  const second = await ctx.check(`loser ${first.label} opens a second socket on instance ${other.instance} (same account, already on the page)`, () =>
    joinAgain(other, first, `${first.label}+${other.instance}`));

  const columns = [1, 2, 3, 4, 5, 6, 7, 8]; // row 1 of area 3: nobody touched it
  const sockets = [first, second];
  columns.forEach((column, k) => sockets[k % 2].socket.emit("select seat", seatPayload(1, column, LIMIT_AREA)));
  const replies = await ctx.check("each of the 8 selects gets a `self select seat` reply on its socket", async () => {
    const out = [];
    for (const k of columns.keys()) {
      const s = sockets[k % 2];
      const reply = await s.rec.next("self select seat", REPLY_TIMEOUT_MS);
      out.push({ socket: s.label, reply, column: columnOf(reply) }); // replies may come back in any order
    }
    return out;
  });
  const ok = replies.filter((r) => !("error" in (r.reply ?? {})));
  await ctx.check(`exactly ${TICKET_LIMIT} succeed (ticket limit ${TICKET_LIMIT}), the other ${columns.length - TICKET_LIMIT} get the limit error`, () => {
    const shown = replies.map((r) => `${r.socket} 1-${r.column}: ${JSON.stringify(r.reply)}`).join("; ");
    assert.equal(ok.length, TICKET_LIMIT, `${ok.length} successes: ${shown}`);
    const answered = replies.map((r) => r.column).sort((x, y) => x - y);
    assert.deepEqual(answered, columns, `each seat answered once: ${shown}`);
    for (const r of replies) {
      if (ok.includes(r)) assert.deepEqual(r.reply, seatPayload(1, r.column, LIMIT_AREA), `echo for 1-${r.column}`);
      else assert.deepEqual(r.reply, { error: TICKET_LIMIT_ERROR, rowIndex: 0, columnIndex: r.column - 1 }, `limit error for 1-${r.column}: ${shown}`);
    }
  });
  await ctx.check(`POST /seat (area ${LIMIT_AREA}) shows exactly those ${TICKET_LIMIT} seats selected (5)`, async () =>
    assertOnly(await seatStatuses(other, first, LIMIT_AREA), ok.map((r) => [1, r.column, SEAT.OTHER_SELECTED]), "after the limit test"));
  await ctx.check("GET /event still answers on both instances", async () => {
    for (const inst of instances) expectHttp(await http(inst.base, "GET", "/event"), 200, undefined, `GET /event via instance ${inst.instance}`);
  });
  await ctx.check("nobody received anything else (area 3 broadcasts stay out of room 2-1)", () => assertQuiet([...players, second], 500));
}
