// Scenario `two-tabs`. Server: queue limit 3.
//
// Covers issue 15, item 5: one account in two tabs. The page is full; T's first tab queues,
// then a second tab of the same account arrives too (one place, the newest tab holds it) and
// is closed. The first tab is still on the waiting page: it must keep the place and be let in
// (`ready to go`) when a page user leaves, instead of waiting for ever with no message.
// Closing the older tab while the newer one holds the place leaves the newer one served too.

import { assert, checkLimit, enterPage, join, newUser, newUsers } from "../lib.mjs";

export async function run(ctx) {
  const page = await ctx.check("P1..P3 fill the buying page", async () => {
    const users = await newUsers(ctx, "P", 3);
    const ps = [];
    for (const u of users) ps.push(await enterPage(ctx, u));
    return ps;
  });
  const t = await newUser(ctx, "T", 9);
  const first = await join(ctx, { ...t, label: "T/tab1" });
  const second = await join(ctx, { ...t, label: "T/tab2" });
  await ctx.check("T's first tab queues first in line", async () => {
    const reply = await checkLimit(first);
    assert.equal(reply?.pass, false, JSON.stringify(reply));
    assert.equal(reply.waitPeople, 1, JSON.stringify(reply));
  });
  await ctx.check("T's second tab arrives at the same place", async () => {
    const reply = await checkLimit(second);
    assert.equal(reply?.pass, false, JSON.stringify(reply));
    assert.equal(reply.waitPeople, 1, JSON.stringify(reply));
  });
  second.socket.disconnect();
  await new Promise((r) => setTimeout(r, 300));
  await ctx.check("a page user leaves: T's first tab (still open) gets `ready to go`", async () => {
    page[0].socket.disconnect();
    await first.rec.nextRecord("ready to go");
  });

  // The other way round: the older tab closes while the newer holds the place.
  const u = await newUser(ctx, "U", 10);
  const older = await join(ctx, { ...u, label: "U/tab1" });
  const newer = await join(ctx, { ...u, label: "U/tab2" });
  await ctx.check("U's two tabs queue at one place", async () => {
    assert.equal((await checkLimit(older))?.waitPeople, 1);
    assert.equal((await checkLimit(newer))?.waitPeople, 1);
  });
  older.socket.disconnect();
  await new Promise((r) => setTimeout(r, 300));
  await ctx.check("a page user leaves: U's newer tab gets `ready to go`", async () => {
    page[1].socket.disconnect();
    await newer.rec.nextRecord("ready to go");
  });
}
