// Scenario `seat-room` (golden 04-seat-room). Server: queue limit 3.
//
// Covers, step by step with every broadcast checked: A and B on the buying
// page in room 2-1, C in room 2-2. select / other select echoes; the taken-seat
// error to the sender only; unselect broadcast to the room only; foreign and
// bare-array unselect errors; POST /seat statuses; POST /seat/lock body (field
// order too); `lock seat`, `unlock seat` and `sold seat` relays (forged ones
// dropped: only seats the sender holds locked / sold are relayed); the unlock
// non-owner error; POST /order; GET /user/profile; B's disconnect freeing its
// selected seat; validation while connected and after the purchase.
// C is in another area's room and must receive none of area 1's broadcasts
// (the original leaked them through a process-global room variable).

import {
  MSG, SEAT, SESSION_ID, assert, assertOnly, assertQuiet, clientSeat, enterPage, eventually, expectHttp,
  http, joinRoom, newUser, seatStatuses, selectOk, selectSeat, validate,
} from "../lib.mjs";

// Session 2 belongs to event 2 (TWICE). Title and time come from GET /event/2 rather than
// from the recording: the seed's wording and future dates are the server's choice.
const EVENT_ID = 2;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export async function run(ctx) {
  const [a, b, c] = await ctx.check("A, B, C sign up and enter the buying page", async () => {
    const users = await Promise.all(["A", "B", "C"].map((label, i) => newUser(ctx, label, i)));
    const ps = [];
    for (const u of users) ps.push(await enterPage(ctx, u));
    return ps;
  });
  await joinRoom([a, b], 1);
  await joinRoom([c], 2);
  const all = [a, b, c];
  const show = await ctx.check("GET /event/2 lists session 2", () => sessionShow(ctx));

  await ctx.check("POST /seat: dense 9x9 grid, all empty", async () => assertOnly(await seatStatuses(ctx, a), [], "initial"));
  await selectSteps(ctx, a, b, all);
  await ctx.check("POST /seat shows the two selected seats as 5", async () =>
    assertOnly(await seatStatuses(ctx, a), [[1, 1, SEAT.OTHER_SELECTED], [1, 2, SEAT.OTHER_SELECTED]], "after selects"));

  const lock = await lockSteps(ctx, a, b, all, show);
  await orderSteps(ctx, a, b, all, lock, show);
  await leaveSteps(ctx, a, b, c);
}

/** select, taken seat, unselect and its two error cases (golden t=3184..5452). */
async function selectSteps(ctx, a, b, all) {
  await ctx.check("A selects 1-1: A gets the echo, B `other select seat`", () => selectOk(a, 1, 1, [b]));
  await ctx.check("B selects the taken 1-1: error to B only", async () => {
    assert.deepEqual(await selectSeat(b, 1, 1), { error: MSG.SEAT_TAKEN, rowIndex: 0, columnIndex: 0 });
  });
  await ctx.check("B selects 1-2: B gets the echo, A `other select seat`", () => selectOk(b, 1, 2, [a]));
  await ctx.check("A selects 1-3: A gets the echo, B `other select seat`", () => selectOk(a, 1, 3, [b]));
  await ctx.check("A unselects 1-3: broadcast to B, no reply to A", async () => {
    const payload = { sessionId: SESSION_ID, areaId: 1, tickets: [{ row: 1, column: 3, rowIndex: 0, columnIndex: 2 }] };
    a.socket.emit("unselect seat", payload);
    assert.deepEqual(await b.rec.next("unselect seat"), payload);
  });
  await ctx.check("B unselects A's seat 1-1: error naming B's id", async () => {
    b.socket.emit("unselect seat", { sessionId: SESSION_ID, areaId: 1, tickets: [{ row: 1, column: 1, rowIndex: 0, columnIndex: 0 }] });
    assert.deepEqual(await b.rec.next("unselect seat"), { error: MSG.notSelectedBy(1, b.id) });
  });
  await ctx.check("bare-array unselect -> {error: 'Please provide session ID.'}", async () => {
    b.socket.emit("unselect seat", [clientSeat(1, 2, 4)]);
    assert.deepEqual(await b.rec.next("unselect seat"), { error: MSG.NO_SESSION });
  });
  await ctx.check("no other events (A got no unselect reply, C got nothing)", () => assertQuiet(all));
}

/** POST /seat/lock, relays, unlock and the non-owner unlock error; then re-lock. */
async function lockSteps(ctx, a, b, all, show) {
  const first = await ctx.check("POST /seat/lock 1-1: exact body and field order", () => lockOne(ctx, a, show));
  await ctx.check("`lock seat` is relayed to B", () => relay(a, b, "lock seat", [clientSeat(1, 1, SEAT.LOCKED)]));
  await ctx.check("forged `lock seat` (B's 1-2, empty 1-5) is not relayed; a mixed one carries only 1-1", async () => {
    a.socket.emit("lock seat", [clientSeat(1, 2, SEAT.LOCKED), clientSeat(1, 5, SEAT.LOCKED)]);
    a.socket.emit("lock seat", [clientSeat(1, 5, SEAT.LOCKED), clientSeat(1, 1, SEAT.LOCKED)]);
    assert.deepEqual(await b.rec.next("lock seat"), [clientSeat(1, 1, SEAT.LOCKED)]);
  });
  await ctx.check("POST /seat shows 1-1 locked (2)", async () =>
    assertOnly(await seatStatuses(ctx, a), [[1, 1, SEAT.LOCKED], [1, 2, SEAT.OTHER_SELECTED]], "after lock"));
  await ctx.check("`unlock seat` with the lock response is relayed to B", () => relay(a, b, "unlock seat", first));
  await ctx.check("POST /seat shows 1-1 empty again", async () =>
    assertOnly(await seatStatuses(ctx, a), [[1, 2, SEAT.OTHER_SELECTED]], "after unlock"));
  await ctx.check("B unlocking A's seat -> error naming B's id", async () => {
    b.socket.emit("unlock seat", first);
    assert.deepEqual(await b.rec.next("unlock seat"), { error: MSG.notLockedBy(1, b.id) });
  });
  await ctx.check("A re-selects 1-1", () => selectOk(a, 1, 1, [b]));
  const second = await ctx.check("A re-locks 1-1", () => lockOne(ctx, a, show));
  await ctx.check("`lock seat` relayed again", () => relay(a, b, "lock seat", [clientSeat(1, 1, SEAT.LOCKED)]));
  await ctx.check("no other events", () => assertQuiet(all));
  return second;
}

/** POST /order, `sold seat` relay, GET /user/profile. */
async function orderSteps(ctx, a, b, all, lock, show) {
  await ctx.check("POST /order {sessionId:2, seatIds:[1]} -> {ok:true}", async () => {
    const res = await http(ctx.base, "POST", "/order", { token: a.token, body: { sessionId: SESSION_ID, seatIds: [lock.tickets[0].seatId] } });
    expectHttp(res, 200, { ok: true }, "POST /order");
  });
  await ctx.check("`sold seat` is relayed to B", () => relay(a, b, "sold seat", [{ columnIndex: 0, rowIndex: 0, status_id: SEAT.SOLD }]));
  await ctx.check("forged `sold seat` for B's selected 1-2 is not relayed", async () => {
    a.socket.emit("sold seat", [{ columnIndex: 1, rowIndex: 0, status_id: SEAT.SOLD }]);
    await assertQuiet([b]);
  });
  await ctx.check("POST /seat shows 1-1 sold (3)", async () =>
    assertOnly(await seatStatuses(ctx, a), [[1, 1, SEAT.SOLD], [1, 2, SEAT.OTHER_SELECTED]], "after order"));
  await ctx.check("GET /user/profile shows the order", async () => {
    const res = await http(ctx.base, "GET", "/user/profile", { token: a.token });
    expectHttp(res, 200, undefined, "GET /user/profile");
    assert.deepEqual(Object.keys(res.body), ["name", "email", "tickets"], "profile keys");
    assert.deepEqual([res.body.name, res.body.email], [a.name, a.email], "name, email");
    assert.equal(res.body.tickets.length, 1, "one order");
    const order = res.body.tickets[0];
    assert.deepEqual(Object.keys(order), ["orderId", "session_id", "title", "time", "venue", "total", "createdAt", "tickets"], "order keys");
    assert.equal(typeof order.orderId, "number", "orderId");
    assert.deepEqual({ session_id: order.session_id, title: order.title, time: order.time, venue: order.venue, total: order.total },
      { session_id: SESSION_ID, title: show.title, time: show.time, venue: "Zepp New Taipei", total: 3000 }, "order fields");
    assert.match(order.createdAt, ISO, "createdAt");
    assert.deepEqual(order.tickets, [{ area: "1樓特一區", price: 3000, row: 1, column: 1 }], "order tickets");
  });
  await ctx.check("no other events", () => assertQuiet(all));
}

/** B leaves holding 1-2; A's validation while connected and after leaving. */
async function leaveSteps(ctx, a, b, c) {
  await ctx.check("B disconnects holding 1-2: A gets `unselect seat` {tickets:[{row:1,column:2}]}", async () => {
    b.socket.disconnect();
    assert.deepEqual(await a.rec.next("unselect seat"), { tickets: [{ row: 1, column: 2 }] });
  });
  await ctx.check("POST /seat shows 1-2 empty again", async () =>
    assertOnly(await seatStatuses(ctx, a), [[1, 1, SEAT.SOLD]], "after B left"));
  await ctx.check("A's validation while connected -> already on page", async () =>
    expectHttp(await validate(ctx, a), 400, { error: MSG.ALREADY_IN }, "A validation"));
  await ctx.check("A and C received nothing else", () => assertQuiet([a, c]));
  await ctx.check("after A disconnects: 400 {warning:true, ...已購買1張...}", async () => {
    a.socket.disconnect();
    await eventually(async () =>
      expectHttp(await validate(ctx, a), 400, { warning: true, error: MSG.boughtWarning(1) }, "A validation after purchase"));
  });
  await ctx.check("C (room 2-2) never received an area-1 broadcast", () => assertQuiet([c]));
}

/** Title and time of session 2, as GET /event/2 shows them. */
async function sessionShow(ctx) {
  const res = await http(ctx.base, "GET", `/event/${EVENT_ID}`);
  expectHttp(res, 200, undefined, `GET /event/${EVENT_ID}`);
  const session = res.body.sessions?.find((s) => s.session_id === SESSION_ID);
  assert.ok(session, `session ${SESSION_ID} missing from ${JSON.stringify(res.body.sessions)}`);
  assert.match(session.time, ISO, "session time is ISO-8601 with .000Z");
  assert.ok(Date.parse(session.time) > Date.now(), `session 2 should be in the future: ${session.time}`);
  return { title: res.body.title, time: session.time };
}

/** POST /seat/lock for seat 1-1 of area 1; asserts the exact body and key order. */
async function lockOne(ctx, a, show) {
  const body = { sessionId: SESSION_ID, areaId: 1, tickets: [clientSeat(1, 1, 4)] };
  const res = await http(ctx.base, "POST", "/seat/lock", { token: a.token, body });
  expectHttp(res, 200, undefined, "POST /seat/lock");
  assert.equal(JSON.stringify(Object.keys(res.body)), JSON.stringify(["total", "sessionId", "tickets"]), "lock body key order");
  assert.equal(res.body.tickets.length, 1, "one ticket");
  const t = res.body.tickets[0];
  assert.equal(JSON.stringify(Object.keys(t)),
    JSON.stringify(["title", "time", "venue", "area", "seatId", "row", "column", "price"]), "ticket key order");
  assert.deepEqual(res.body, {
    total: 3000,
    sessionId: SESSION_ID,
    tickets: [{ title: show.title, time: show.time, venue: "Zepp New Taipei", area: "1樓特一區", seatId: 1, row: 1, column: 1, price: 3000 }],
  });
  return res.body;
}

/** `from` emits `event` with `payload`; `to` must get the same payload. */
async function relay(from, to, event, payload) {
  from.socket.emit(event, payload);
  assert.deepEqual(await to.rec.next(event), payload, `${to.label} ${event}`);
}
