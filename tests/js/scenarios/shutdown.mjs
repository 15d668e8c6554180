// Scenario `shutdown`. Server: TWO instances sharing one MySQL/MariaDB
// database and one Redis, queue limit 1, instance lease TTL 3 s
// (TICKETCLUB_QUEUE_LIMIT=1 TICKETCLUB_LEASE_TTL=3). Needs `--url2` and
// TC_INSTANCE1_PID (this scenario SIGTERMs instance 1); run by
// tests/api/multi_instance.rs, not by run-all.mjs.
//
// Covers graceful shutdown keeping every place: A (on the page) and B
// (queued, waitPeople 1) are connected through instance 1, C through
// instance 2 (queued, waitPeople 2); W watches room 2-1 on instance 2.
// Instance 1 gets SIGTERM and disconnects A and B, but keeps their places:
// nobody is promoted and C's position does not change. A and B come back
// through instance 2 on new sockets (as a load balancer re-routes them; no
// `check limit`): A is still on the page (validation says so, it can select a
// seat), B still queued. Past the lease TTL nothing is reaped: the resumed
// places belong to instance 2 now. When A then leaves, B gets `ready to go`,
// C one `minus waiting people`, and W and B see A's seat freed.

import {
  MSG, SEAT, SLOW_EVENT_TIMEOUT_MS as WAIT_MS, assert, assertOnly, assertQuiet, assertSeconds, enter, enterPage,
  eventually, expectHttp, http, instancePid, join, joinRoom, newUser, onInstance, seatStatuses, selectOkWithin, validate,
} from "../lib.mjs";

const LEASE_TTL_MS = 3000;

/** Needs two instances (`--url2`); run-all.mjs, which starts one server, can skip scenarios that say so. */
export const instances = 2;

export async function run(ctx) {
  const one = onInstance(ctx, 1);
  const two = onInstance(ctx, 2);
  const pid1 = instancePid(1);

  const [ua, ub, uc, uw] = await ctx.check("A and B sign up on instance 1, C and W on instance 2", () =>
    Promise.all([newUser(one, "A@1", 1), newUser(one, "B@1", 2), newUser(two, "C@2", 3), newUser(two, "W@2", 4)]));

  const a = await ctx.check("A enters through instance 1: pass", () => enterPage(one, ua));
  const b = await ctx.check("B enters through instance 1: queued (waitPeople 1)", () => enterQueued(one, ub, 1));
  const c = await ctx.check("C enters through instance 2: queued (waitPeople 2)", () => enterQueued(two, uc, 2));
  const w = await ctx.check("W connects to instance 2 and joins room 2-1", async () => {
    const p = await join(two, uw);
    await joinRoom([p]);
    return p;
  });
  await ctx.check("nobody received anything unexpected so far", () => assertQuiet([a, b, c, w]));

  process.kill(pid1, "SIGTERM");
  ctx.log(`sent SIGTERM to instance 1 (pid ${pid1})`);
  await ctx.check("instance 1 disconnects A's and B's sockets", async () => {
    const [da, db] = await Promise.all([a.rec.waitDisconnect(WAIT_MS), b.rec.waitDisconnect(WAIT_MS)]);
    ctx.log(`A disconnected: ${da.reason}; B disconnected: ${db.reason}`);
  });
  await ctx.check("for 1 s after that, C and W receive nothing (places kept: no promotion, no position change)", () =>
    assertQuiet([c, w], 1000));
  await ctx.check("A and B got nothing but the disconnect", () => assertQuiet([a, b], 0));

  const returnedAt = Date.now();
  const [a2, b2] = await ctx.check("A and B connect again through instance 2 (new sockets, no `check limit`)", () =>
    Promise.all([join(two, { ...ua, label: "A@2" }), join(two, { ...ub, label: "B@2" })]));
  await ctx.check("A's validation via instance 2 says already on the page", async () =>
    expectHttp(await validate(two, ua), 400, { error: MSG.ALREADY_IN }, "A validation"));
  await ctx.check("B's validation via instance 2 says already in the queue", async () =>
    expectHttp(await validate(two, ub), 400, { error: MSG.ALREADY_IN }, "B validation"));
  await ctx.check("A (resumed on instance 2) joins room 2-1 and selects 1-1: W gets `other select seat`", async () => {
    await joinRoom([a2]);
    await selectOkWithin(a2, 1, 1, [w]);
  });
  await ctx.check("B (resumed, queued) watches room 2-1 too", () => joinRoom([b2]));

  await ctx.check(`past the lease TTL (${LEASE_TTL_MS / 1000} s) nothing is reaped: nobody promoted, nothing to anyone`, async () => {
    const waitUntil = returnedAt + LEASE_TTL_MS + 1000; // at least 4 s after the return, as the TTL runs from the last renewal
    await assertQuiet([a2, b2, c, w], Math.max(waitUntil - Date.now(), 4000));
  });
  await ctx.check("still: A on the page, B queued; POST /seat shows 1-1 selected (5)", async () => {
    expectHttp(await validate(two, ua), 400, { error: MSG.ALREADY_IN }, "A validation");
    expectHttp(await validate(two, ub), 400, { error: MSG.ALREADY_IN }, "B validation");
    assertOnly(await seatStatuses(two, uw), [[1, 1, SEAT.OTHER_SELECTED]], "while A holds 1-1");
  });

  a2.socket.disconnect();
  await ctx.check("A leaves: B (resumed socket) gets `ready to go`", () => b2.rec.next("ready to go", WAIT_MS));
  await ctx.check("C gets one `minus waiting people` {seconds 600..610}", async () => {
    const payload = await c.rec.next("minus waiting people", WAIT_MS);
    assert.deepEqual(Object.keys(payload ?? {}), ["seconds"], `C minus waiting people payload ${JSON.stringify(payload)}`);
    assertSeconds(payload.seconds, 600, 610, "C minus waiting people");
  });
  await ctx.check("W and B see A's seat freed: `unselect seat` {tickets:[{row:1,column:1}]}", async () => {
    assert.deepEqual(await w.rec.next("unselect seat", WAIT_MS), { tickets: [{ row: 1, column: 1 }] }, "W unselect seat");
    assert.deepEqual(await b2.rec.next("unselect seat", WAIT_MS), { tickets: [{ row: 1, column: 1 }] }, "B unselect seat");
  });
  await ctx.check("POST /seat via instance 2 shows every seat empty", async () =>
    assertOnly(await seatStatuses(two, uw), [], "after A left"));
  await ctx.check("B is on the page now: it selects 1-1 through instance 2, W gets `other select seat`", () =>
    selectOkWithin(b2, 1, 1, [w]));
  await ctx.check("C is still queued: validation says already in the queue", async () =>
    expectHttp(await validate(two, uc), 400, { error: MSG.ALREADY_IN }, "C validation"));
  await ctx.check("B, C and W received nothing else", () => assertQuiet([b2, c, w], 500));
  await ctx.check("instance 1 has stopped accepting connections", () =>
    eventually(async () => {
      const alive = await http(one.base, "GET", "/event").then(() => true, () => false);
      assert.equal(alive, false, "instance 1 still answers GET /event after SIGTERM");
    }, { timeoutMs: WAIT_MS, intervalMs: 200 }));
}

/** `enter` through `ctx`'s instance and assert the queued reply at `position`. */
async function enterQueued(ctx, user, position) {
  const p = await enter(ctx, user);
  assert.deepEqual({ pass: p.reply?.pass, waitPeople: p.reply?.waitPeople }, { pass: false, waitPeople: position },
    `${user.label}'s check limit reply ${JSON.stringify(p.reply)}`);
  return p;
}
