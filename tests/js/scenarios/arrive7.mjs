// Scenario `arrive7` (golden 01-queue-arrive7). Server: queue limit 3.
//
// Covers: seven users arriving one after another (validation, connect,
// `check limit` 2, wait for the reply). U1..U3 are let in; U4..U7 are queued
// with waitPeople 1..4 and the estimated wait from the contract's formula
// (~608 s for queue index 0..2, ~1208 s for index 3, one extra round). The
// reply goes to the sender only, and a queued user cannot validate again.

import { MSG, arriveInOrder, assertArrivalReplies, assertQuiet, expectHttp, validate } from "../lib.mjs";

export async function run(ctx) {
  const players = await ctx.check("7 users arrive in order, each gets a check limit reply", () => arriveInOrder(ctx, 7));
  await ctx.check("U1..U3 pass; U4..U7 queued 1..4 with seconds 605..610 / 1205..1210", () =>
    assertArrivalReplies(players));
  await ctx.check("each reply went to its sender only (nobody received anything else)", () => assertQuiet(players));
  await ctx.check("a queued user's re-validation -> 400 already in queue", async () =>
    expectHttp(await validate(ctx, players[6]), 400, { error: MSG.ALREADY_IN }, "U7 re-validation"));
}
