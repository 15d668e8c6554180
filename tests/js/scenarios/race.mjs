// Scenario `race`. Server: queue limit >= --clients (default 200).
//
// Covers: N users on the buying page in room 2-1 all emit `select seat` for
// area 1, row 1, column 1 at the same moment. Exactly one wins (success echo)
// and every other gets the taken-seat error; every loser also sees the
// winner's `other select seat`. The seat is then 5 in POST /seat and the
// server still answers GET /event. (The original's select was not atomic.)

import {
  MSG, SEAT, assert, assertOnly, assertQuiet, enterPage, expectHttp, http, inBatches, joinRoom, newUsers,
  seatPayload, seatStatuses,
} from "../lib.mjs";

const DEFAULT_CLIENTS = 200;
const BATCH = 20;
const REPLY_TIMEOUT_MS = 20000;

/** run-all.mjs reads this: every client must fit on the page at once. */
export const serverEnv = ({ clients }) => ({ TICKETCLUB_QUEUE_LIMIT: String(Math.max(clients ?? DEFAULT_CLIENTS, 3)) });

/** run.mjs reads this: large N needs more than the 60 s default. */
export const timeoutSeconds = (ctx) => Math.max(60, 30 + (ctx.clients ?? DEFAULT_CLIENTS) * 0.3);

export async function run(ctx) {
  const n = ctx.clients ?? DEFAULT_CLIENTS;
  const players = await ctx.check(`${n} users sign up, enter the page (queue limit must be >= ${n}) and join room 2-1`, async () => {
    const users = await newUsers(ctx, "R", n, BATCH);
    const ps = await inBatches(users, BATCH, (u) => enterPage(ctx, u));
    await joinRoom(ps);
    return ps;
  });

  const target = seatPayload(1, 1);
  for (const p of players) p.socket.emit("select seat", target); // all at once, no await in between

  const replies = await ctx.check("every client gets a `self select seat` reply", () =>
    Promise.all(players.map((p) => p.rec.next("self select seat", REPLY_TIMEOUT_MS))));
  const winners = players.filter((_, i) => !("error" in (replies[i] ?? {})));
  await ctx.check("exactly one client wins the seat, with the success echo", () => {
    assert.equal(winners.length, 1, `${winners.length} winners: ${winners.map((w) => w.label).join(", ")}`);
    assert.deepEqual(replies[players.indexOf(winners[0])], target, "winner's echo");
  });
  await ctx.check(`the other ${n - 1} get {error: 座位已經被搶走了…, rowIndex:0, columnIndex:0}`, () => {
    players.forEach((p, i) => {
      if (p !== winners[0]) assert.deepEqual(replies[i], { error: MSG.SEAT_TAKEN, rowIndex: 0, columnIndex: 0 }, `${p.label} reply`);
    });
  });
  await ctx.check("every loser sees the winner's `other select seat`", () =>
    Promise.all(players.filter((p) => p !== winners[0]).map(async (p) =>
      assert.deepEqual(await p.rec.next("other select seat", REPLY_TIMEOUT_MS), target, `${p.label} other select seat`))));
  await ctx.check("no client received anything else", () => assertQuiet(players, 500));

  await ctx.check("POST /seat shows 1-1 as selected (5)", async () =>
    assertOnly(await seatStatuses(ctx, winners[0]), [[1, 1, SEAT.OTHER_SELECTED]], "after race"));
  await ctx.check("GET /event still answers", async () => expectHttp(await http(ctx.base, "GET", "/event"), 200, undefined, "GET /event"));
}
