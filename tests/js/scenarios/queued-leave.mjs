// Scenario `queued-leave` (golden 03-queue-queued-leave). Server: queue limit 3.
//
// Covers: after the 7 arrivals, U4 (queued, first in line) disconnects: every
// user behind it (U5, U6, U7) gets one `minus waiting people` and nobody is
// promoted. Then U6 (queued, second now) disconnects: only U7 (behind it) is
// notified; U5 (ahead of it) and the page users get nothing.

import { arriveInOrder, assertArrivalReplies, assertQuiet, expectMinusWaiting } from "../lib.mjs";

export async function run(ctx) {
  const players = await ctx.check("7 users arrive (3 pass, 4 queued)", async () => {
    const ps = await arriveInOrder(ctx, 7);
    assertArrivalReplies(ps);
    return ps;
  });
  const [u1, u2, u3, u4, u5, u6, u7] = players;

  u4.socket.disconnect();
  await ctx.check("U4 leaves: U5, U6, U7 each get one `minus waiting people` (605..610)", () =>
    expectMinusWaiting([u5, u6, u7]));
  await ctx.check("nobody gets `ready to go` or anything else", () => assertQuiet([u1, u2, u3, u5, u6, u7]));

  u6.socket.disconnect();
  await ctx.check("U6 leaves: only U7 gets one `minus waiting people` (605..610)", () => expectMinusWaiting([u7]));
  await ctx.check("U5 and the page users get nothing", () => assertQuiet([u1, u2, u3, u5, u7]));
}
