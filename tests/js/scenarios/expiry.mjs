// Scenario `expiry`. Server: queue limit 1, purchase window 2 s, grace 1 s
// (TICKETCLUB_QUEUE_LIMIT=1 TICKETCLUB_PURCHASE_WINDOW=2 TICKETCLUB_WINDOW_GRACE=1).
//
// Covers the server-side purchase window (the original trusted the client's
// countdown): U1 is on the page holding a selected seat; U2 is queued behind
// it and already watching room 2-1 (`join room` does not need the page).
// Within ~5 s U1 gets `window expired` {sessionId:2} and is then disconnected
// by the server; U2 sees U1's seat freed (`unselect seat`) and then
// `ready to go`; POST /seat shows the seat empty again.

import {
  SESSION_ID, assert, assertOnly, assertQuiet, enter, enterPage, joinRoom, newUser, seatStatuses, selectOk,
} from "../lib.mjs";

/** run-all.mjs reads this: one place on the page, a 2 s window, 1 s grace. */
export const serverEnv = () => ({ TICKETCLUB_QUEUE_LIMIT: "1", TICKETCLUB_PURCHASE_WINDOW: "2", TICKETCLUB_WINDOW_GRACE: "1" });

const WINDOW_MS = 2000;
const LIMIT_MS = 5500; // window 2 s + grace 1 s, with slack: "within ~5 s" of admission
const DEADLINE_MS = 6000; // how long a single wait may last before it is a failure

export async function run(ctx) {
  const u1 = await ctx.check("U1 enters (pass) and selects 1-1", async () => {
    const p = await enterPage(ctx, await newUser(ctx, "U1", 1));
    await joinRoom([p]);
    await selectOk(p, 1, 1);
    return p;
  });
  const admittedAt = u1.replyAt; // the server starts U1's window when it lets U1 in
  const u2 = await ctx.check("U2 enters: queued with waitPeople 1, watching room 2-1", async () => {
    const p = await enter(ctx, await newUser(ctx, "U2", 2));
    assert.equal(p.reply?.pass, false, `U2 reply ${JSON.stringify(p.reply)}`);
    assert.equal(p.reply.waitPeople, 1, "waitPeople");
    await joinRoom([p]);
    return p;
  });

  const expired = await ctx.check("U1 gets `window expired` {sessionId:2} after the window", async () => {
    const ev = await u1.rec.nextRecord("window expired", DEADLINE_MS);
    assert.deepEqual(ev.payload, { sessionId: SESSION_ID });
    assert.ok(ev.t - admittedAt >= WINDOW_MS - 300, // slack: the reply and the expiry travel separately
      `expired after only ${ev.t - admittedAt} ms`);
    return ev;
  });
  await ctx.check("then the server disconnects U1 (io server disconnect)", async () => {
    const d = await u1.rec.waitDisconnect(DEADLINE_MS);
    assert.equal(d.reason, "io server disconnect");
    assert.ok(d.seq > expired.seq, "disconnect came before `window expired`");
    assert.ok(d.t - admittedAt <= LIMIT_MS, `disconnected only ${d.t - admittedAt} ms after admission`);
  });

  await ctx.check("U2 gets `unselect seat` for U1's seat, then `ready to go`", async () => {
    const freed = await u2.rec.nextRecord("unselect seat", DEADLINE_MS);
    assert.deepEqual(freed.payload, { tickets: [{ row: 1, column: 1 }] }, "unselect seat payload");
    const ready = await u2.rec.nextRecord("ready to go", DEADLINE_MS);
    assert.ok(ready.seq > freed.seq, "`ready to go` arrived before the seat was freed");
  });
  await ctx.check("POST /seat shows the seat empty again", async () => assertOnly(await seatStatuses(ctx, u2), [], "after expiry"));
  await ctx.check("U2 received nothing else", () => assertQuiet([u2], 100));
  // Last: U1 is being sent away; the room broadcast of its freed seat is for the others.
  await ctx.check("U1 received nothing but `window expired`", () => assertQuiet([u1], 0));
}
