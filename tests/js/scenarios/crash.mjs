// Scenario `crash`. Server: TWO instances sharing one MySQL/MariaDB database
// and one Redis, queue limit 1, instance lease TTL 2 s
// (TICKETCLUB_QUEUE_LIMIT=1 TICKETCLUB_LEASE_TTL=2). Needs `--url2` and
// TC_INSTANCE1_PID (this scenario SIGKILLs instance 1); run by
// tests/api/multi_instance.rs, not by run-all.mjs.
//
// Covers crash safety: A, on the page through instance 1, has bought 1-1
// (select, POST /seat/lock, POST /order) and holds 1-2 (selected). B is queued
// through instance 2 and W watches room 2-1 on instance 2. Instance 1 is
// killed with SIGKILL, so nothing runs A's disconnect. Once its lease lapses
// (2 s) and stays missing for another lease (2 s, so a Redis stall cannot pass
// for a death), plus a sweep of at most 1 s, a survivor ends A's visit: within ~8 s
// B gets `ready to go` and W gets `unselect seat` for 1-2. The sold seat and
// the order survive, exactly once: 1-1 stays 3, A's profile still has the one
// order. B can then select 1-2 through instance 2.

import {
  MSG, SEAT, SLOW_EVENT_TIMEOUT_MS as WAIT_MS, assert, assertOnly, assertQuiet, enter, enterPage, expectHttp, instancePid,
  join, joinRoom, lockSeats, newUser, onInstance, placeOrder, profile, seatId, seatStatuses, selectOkWithin, validate,
} from "../lib.mjs";

/** "Within ~8 s" of the kill: lease TTL 2 s, missing for 2 s more, sweep <= 1 s, with room for two busy cores. */
const FREED_WITHIN_MS = 8000;

/** Needs two instances (`--url2`); run-all.mjs, which starts one server, can skip scenarios that say so. */
export const instances = 2;

export async function run(ctx) {
  const one = onInstance(ctx, 1);
  const two = onInstance(ctx, 2);
  const pid1 = instancePid(1);

  const [ua, ub, uw] = await ctx.check("A signs up on instance 1, B and W on instance 2", () =>
    Promise.all([newUser(one, "A@1", 1), newUser(two, "B@2", 2), newUser(two, "W@2", 3)]));

  const a = await ctx.check("A enters through instance 1 (pass) and joins room 2-1", async () => {
    const p = await enterPage(one, ua);
    await joinRoom([p]);
    return p;
  });
  await ctx.check("A buys 1-1 through instance 1: select, POST /seat/lock, POST /order -> {ok:true}", async () => {
    await selectOkWithin(a, 1, 1);
    const lock = await lockSeats(one, ua, [[1, 1]]);
    expectHttp(lock, 200, undefined, "POST /seat/lock 1-1");
    assert.deepEqual(lock.body.tickets?.map((t) => t.seatId), [seatId(1, 1, 1)], "locked seat ids");
    expectHttp(await placeOrder(one, ua, [seatId(1, 1, 1)]), 200, { ok: true }, "POST /order 1-1");
  });
  await ctx.check("A selects 1-2 (held, not bought)", () => selectOkWithin(a, 1, 2));

  const b = await ctx.check("B enters through instance 2: queued (waitPeople 1)", async () => {
    const p = await enter(two, ub);
    assert.deepEqual({ pass: p.reply?.pass, waitPeople: p.reply?.waitPeople }, { pass: false, waitPeople: 1 },
      `B's check limit reply ${JSON.stringify(p.reply)}`);
    return p;
  });
  const w = await ctx.check("W connects to instance 2 and joins room 2-1", async () => {
    const p = await join(two, uw);
    await joinRoom([p]);
    return p;
  });
  await ctx.check("before the crash: POST /seat via instance 2 shows 1-1 sold (3), 1-2 selected (5)", async () =>
    assertOnly(await seatStatuses(two, ub), [[1, 1, SEAT.SOLD], [1, 2, SEAT.OTHER_SELECTED]], "before the crash"));
  await ctx.check("nobody received anything unexpected so far", () => assertQuiet([a, b, w]));

  const killedAt = Date.now();
  process.kill(pid1, "SIGKILL");
  ctx.log(`sent SIGKILL to instance 1 (pid ${pid1})`);

  await ctx.check(`B (queued on instance 2) gets \`ready to go\` within ${FREED_WITHIN_MS / 1000} s of the kill`, async () => {
    const ev = await b.rec.nextRecord("ready to go", WAIT_MS);
    const after = ev.t - killedAt;
    ctx.log(`B promoted ${after} ms after the kill`);
    assert.ok(after <= FREED_WITHIN_MS, `B promoted only ${after} ms after the kill`);
  });
  await ctx.check("W (instance 2) gets `unselect seat` {tickets:[{row:1,column:2}]} for A's held seat", async () => {
    const ev = await w.rec.nextRecord("unselect seat", WAIT_MS);
    assert.deepEqual(ev.payload, { tickets: [{ row: 1, column: 2 }] }, "W unselect seat");
    const after = ev.t - killedAt;
    ctx.log(`A's held seat freed ${after} ms after the kill`);
    assert.ok(after <= FREED_WITHIN_MS, `1-2 freed only ${after} ms after the kill`);
  });
  await ctx.check("POST /seat via instance 2: 1-2 empty (1), 1-1 still sold (3)", async () =>
    assertOnly(await seatStatuses(two, ub), [[1, 1, SEAT.SOLD]], "after the crash"));
  await ctx.check("A's profile via instance 2 still has exactly one order, for 1-1", async () => {
    const body = await profile(two, ua);
    assert.equal(body.tickets.length, 1, `orders: ${JSON.stringify(body.tickets)}`);
    assert.deepEqual(body.tickets[0].tickets, [{ area: "1樓特一區", price: 3000, row: 1, column: 1 }], "the order's tickets");
    assert.equal(body.tickets[0].total, 3000, "order total");
  });
  await ctx.check("A's place was ended too: A's validation via instance 2 -> bought-1 warning, not 'already in'", async () =>
    expectHttp(await validate(two, ua), 400, { warning: true, error: MSG.boughtWarning(1) }, "A validation after the crash"));
  await ctx.check("B's validation via instance 2 says already on the page", async () =>
    expectHttp(await validate(two, ub), 400, { error: MSG.ALREADY_IN }, "B validation"));

  await ctx.check("B joins room 2-1 and selects the freed 1-2 through instance 2: W gets `other select seat`", async () => {
    await joinRoom([b]);
    await selectOkWithin(b, 1, 2, [w]);
  });
  await ctx.check("POST /seat via instance 2: 1-1 sold (3), 1-2 selected (5)", async () =>
    assertOnly(await seatStatuses(two, ub), [[1, 1, SEAT.SOLD], [1, 2, SEAT.OTHER_SELECTED]], "after B's select"));
  await ctx.check("B and W received nothing else", () => assertQuiet([b, w], 500));
  // Last: A's socket died with its instance, so it can only have lost its connection.
  await ctx.check("A's socket was cut when instance 1 died, and got nothing else", async () => {
    const d = await a.rec.waitDisconnect(WAIT_MS);
    ctx.log(`A's socket disconnected: ${d.reason}`);
    assertQuiet([a], 0);
  });
}
