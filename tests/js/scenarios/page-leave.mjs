// Scenario `page-leave` (golden 02-queue-page-leave). Server: queue limit 3.
//
// Covers: after the 7 arrivals, U1 (on the buying page) disconnects. The
// first queued user U4 gets `ready to go` (no payload, as recorded) and is on
// the page now; U5..U7 each get exactly one `minus waiting people` {seconds};
// U2 and U3 (on the page) get nothing. U4 then counts as on the page:
// validation says so, and it can select a seat.

import {
  MSG, arriveInOrder, assert, assertArrivalReplies, assertQuiet, expectHttp, expectMinusWaiting, joinRoom, selectOk,
  validate,
} from "../lib.mjs";

export async function run(ctx) {
  const players = await ctx.check("7 users arrive (3 pass, 4 queued)", async () => {
    const ps = await arriveInOrder(ctx, 7);
    assertArrivalReplies(ps);
    return ps;
  });
  const [u1, u2, u3, u4, u5, u6, u7] = players;

  u1.socket.disconnect();
  const ready = await ctx.check("U4 (first in queue) gets `ready to go`", () => u4.rec.nextRecord("ready to go"));
  await ctx.check("U5, U6, U7 each get one `minus waiting people` {seconds 605..610}", () =>
    expectMinusWaiting([u5, u6, u7]));
  await ctx.check("U2, U3 get nothing; nobody gets anything twice", () => assertQuiet([u2, u3, u4, u5, u6, u7]));

  await ctx.check("U4's validation now says already on the page", async () =>
    expectHttp(await validate(ctx, u4), 400, { error: MSG.ALREADY_IN }, "U4 validation"));
  await ctx.check("U4 can select a seat (it is on the page)", async () => {
    await joinRoom([u4]);
    await selectOk(u4, 1, 1);
  });
  await ctx.check("nothing else arrived", () => assertQuiet(players.slice(1)));
  // Last, so that a wire-format nit does not hide the behaviour checks above.
  await ctx.check("`ready to go` carried no payload (as recorded)", () =>
    assert.deepEqual(ready.args, [], `ready to go carried ${JSON.stringify(ready.args)}`));
}
