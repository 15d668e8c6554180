// Scenario `two-instances`. Server: TWO instances sharing one MySQL/MariaDB
// database and one Redis (waiting room + Socket.IO Redis adapter), queue
// limit 1 (TICKETCLUB_QUEUE_LIMIT=1). Needs `--url2` (instance 2); run by
// tests/api/multi_instance.rs, not by run-all.mjs.
//
// Covers: the waiting room and the broadcasts are shared between instances.
// A enters through instance 1 (pass); B through instance 2 is queued behind A
// (waitPeople 1); watcher W on instance 2 joins room 2-1 (no page place
// needed). A selects 1-1 on instance 1 -> W on instance 2 gets
// `other select seat`. A disconnects from instance 1 -> B on instance 2 gets
// `ready to go` and W gets `unselect seat` {tickets:[{row:1,column:1}]}.
// B then counts as on the page everywhere: its validation via instance 1
// says so, and it can select the freed seat through instance 2.

import {
  MSG, SEAT, SLOW_EVENT_TIMEOUT_MS as WAIT_MS, assert, assertOnly, assertQuiet, enter, enterPage, expectHttp, join,
  joinRoom, newUser, onInstance, seatStatuses, selectOkWithin, validate,
} from "../lib.mjs";

/** Needs two instances (`--url2`); run-all.mjs, which starts one server, can skip scenarios that say so. */
export const instances = 2;

export async function run(ctx) {
  const one = onInstance(ctx, 1);
  const two = onInstance(ctx, 2);

  const [ua, ub, uw] = await ctx.check("A signs up on instance 1, B and W on instance 2", () =>
    Promise.all([newUser(one, "A@1", 1), newUser(two, "B@2", 2), newUser(two, "W@2", 3)]));

  const a = await ctx.check("A enters through instance 1: pass", () => enterPage(one, ua));
  const b = await ctx.check("B enters through instance 2: queued behind A (waitPeople 1)", async () => {
    const p = await enter(two, ub);
    assert.deepEqual({ pass: p.reply?.pass, waitPeople: p.reply?.waitPeople }, { pass: false, waitPeople: 1 },
      `B's check limit reply ${JSON.stringify(p.reply)} (instance 2 must see A's place taken through instance 1)`);
    return p;
  });
  const w = await ctx.check("W connects to instance 2 and joins room 2-1 (no page place needed)", async () => {
    const p = await join(two, uw);
    await joinRoom([p]);
    return p;
  });

  await ctx.check("A joins room 2-1 on instance 1 and selects 1-1: W on instance 2 gets `other select seat`", async () => {
    await joinRoom([a]);
    await selectOkWithin(a, 1, 1, [w]);
  });
  await ctx.check("POST /seat via instance 2 shows 1-1 selected (5)", async () =>
    assertOnly(await seatStatuses(two, ub), [[1, 1, SEAT.OTHER_SELECTED]], "after A's select"));
  await ctx.check("nobody received anything else", () => assertQuiet([a, b, w]));

  a.socket.disconnect();
  await ctx.check("A leaves instance 1: B (queued on instance 2) gets `ready to go`", () => b.rec.next("ready to go", WAIT_MS));
  await ctx.check("W (instance 2) gets `unselect seat` {tickets:[{row:1,column:1}]}", async () =>
    assert.deepEqual(await w.rec.next("unselect seat", WAIT_MS), { tickets: [{ row: 1, column: 1 }] }, "W unselect seat"));

  await ctx.check("B's validation via instance 1 says already on the page", async () =>
    expectHttp(await validate(one, ub), 400, { error: MSG.ALREADY_IN }, "B validation via instance 1"));
  await ctx.check("B joins room 2-1 on instance 2 and selects the freed 1-1: echo to B, W gets `other select seat`", async () => {
    await joinRoom([b]);
    await selectOkWithin(b, 1, 1, [w]);
  });
  await ctx.check("POST /seat via instance 1 shows 1-1 selected (5) again", async () =>
    assertOnly(await seatStatuses(one, ub), [[1, 1, SEAT.OTHER_SELECTED]], "after B's select"));
  await ctx.check("B and W received nothing else", () => assertQuiet([b, w], 500));
}
