// Scenario `multi-lock`. Server: queue limit 3.
//
// Covers: locking several seats at once (the original's single-placeholder
// UPDATE locked none of them), ordering them, and that users who are not on
// the buying page cannot grab seats: one validated and connected but never
// sent `check limit`, one who was on the page and disconnected. Their error
// wording is not fixed by the contract, so only a non-empty `error` is asserted.

import {
  SEAT, SESSION_ID, assert, assertErrorPayload, assertOnly, assertQuiet, clientSeat, enterPage, eventually, expectHttp, http, join,
  joinRoom, newUser, seatId, seatStatuses, selectOk, selectSeat, validate,
} from "../lib.mjs";

const ROW1 = [[1, 1], [1, 2], [1, 3]];

export async function run(ctx) {
  const a = await ctx.check("A enters the page and joins room 2-1", async () => {
    const p = await enterPage(ctx, await newUser(ctx, "A", 1));
    await joinRoom([p]);
    return p;
  });
  await ctx.check("A selects 1-1, 1-2, 1-3", async () => {
    for (const [r, c] of ROW1) await selectOk(a, r, c);
  });

  await ctx.check("POST /seat/lock with the 3 seats -> 200, total 9000, 3 tickets", async () => {
    const body = { sessionId: SESSION_ID, areaId: 1, tickets: ROW1.map(([r, c]) => clientSeat(r, c, 4)) };
    const res = await http(ctx.base, "POST", "/seat/lock", { token: a.token, body });
    expectHttp(res, 200, undefined, "POST /seat/lock");
    assert.equal(res.body.total, 9000, "total");
    assert.deepEqual(res.body.tickets.map((t) => t.seatId).sort((x, y) => x - y), [1, 2, 3], "seat ids");
  });
  await ctx.check("all three seats are locked (2) in POST /seat", async () =>
    assertOnly(await seatStatuses(ctx, a), ROW1.map(([r, c]) => [r, c, SEAT.LOCKED]), "after multi-lock"));

  await ctx.check("POST /order with the 3 seat ids -> {ok:true}", async () => {
    const seatIds = ROW1.map(([r, c]) => seatId(1, r, c));
    const res = await http(ctx.base, "POST", "/order", { token: a.token, body: { sessionId: SESSION_ID, seatIds } });
    expectHttp(res, 200, { ok: true }, "POST /order");
  });
  await ctx.check("all three seats are sold (3)", async () =>
    assertOnly(await seatStatuses(ctx, a), ROW1.map(([r, c]) => [r, c, SEAT.SOLD]), "after order"));

  await notOnPage(ctx, a);
  await leftPage(ctx, a);
  await ctx.check("A received nothing unexpected", () => assertQuiet([a]));
}

/** N validated and connected, but never sent `check limit`. */
async function notOnPage(ctx, a) {
  const n = await ctx.check("N validates and connects without `check limit`", async () => {
    const user = await newUser(ctx, "N", 2);
    expectHttp(await validate(ctx, user), 200, { ok: true }, "N validation");
    const p = await join(ctx, user);
    await joinRoom([p]);
    return p;
  });
  await ctx.check("N's `select seat` -> error", async () => assertErrorPayload(await selectSeat(n, 2, 1), "select seat"));
  await ctx.check("N's POST /seat/lock -> error", () => assertLockRefused(ctx, n, 2, 1));
  await ctx.check("seat 2-1 is still empty; A saw no broadcast from N", async () => {
    assertOnly(await seatStatuses(ctx, a), ROW1.map(([r, c]) => [r, c, SEAT.SOLD]), "after N");
    await assertQuiet([a, n]);
  });
}

/** D was on the page, selected a seat, then disconnected. */
async function leftPage(ctx, a) {
  const d = await ctx.check("D enters, selects 3-1, disconnects", async () => {
    const p = await enterPage(ctx, await newUser(ctx, "D", 3));
    await joinRoom([p]);
    await selectOk(p, 3, 1, [a]);
    p.socket.disconnect();
    // the disconnect frees D's selection and tells the room
    assert.deepEqual(await a.rec.next("unselect seat"), { tickets: [{ row: 3, column: 1 }] }, "A unselect seat");
    return p;
  });
  await ctx.check("D's POST /seat/lock after leaving -> error", () => assertLockRefused(ctx, d, 3, 1));
  await ctx.check("seat 3-1 stays empty", () =>
    eventually(async () => assertOnly(await seatStatuses(ctx, a), ROW1.map(([r, c]) => [r, c, SEAT.SOLD]), "after D")));
}

async function assertLockRefused(ctx, player, row, column) {
  const body = { sessionId: SESSION_ID, areaId: 1, tickets: [clientSeat(row, column, 4)] };
  const res = await http(ctx.base, "POST", "/seat/lock", { token: player.token, body });
  assert.ok(res.status >= 400 && res.status < 500, `POST /seat/lock by ${player.label}: status ${res.status} ${JSON.stringify(res.body)}`);
  assertErrorPayload(res.body, "POST /seat/lock");
}
