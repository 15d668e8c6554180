// Scenario `lb-restart`. Server: TWO instances behind HAProxy (deploy/haproxy/ticketclub.cfg),
// queue limit 1, lease TTL 3 s; `--url` is the balancer; TC_INSTANCE1_PID names instance 1;
// TC_SOURCE_ADDRESSES spreads the sockets over both instances. Run by tests/api/balancer.rs.
//
// Covers issue 3's "one instance restarted mid-run loses no queue place": four users arrive
// through the balancer (U1 on the page, U2..U4 queued 1..3), spread over both instances.
// Instance 1 gets SIGTERM; the sockets it held drop ("transport close"), the balancer's health
// check takes it out, and those users connect again through the balancer, landing on
// instance 2. Every place is intact: U1 is still on the page, U2..U4 still queued in order, past
// the lease TTL too. When U1 leaves, U2 is admitted and U3, U4 move up by one.

import {
  MSG, SLOW_EVENT_TIMEOUT_MS as WAIT_MS, assert, assertSeconds, expectHttp, instancePid, join, newUsers, sleep,
  validate, enter,
} from "../lib.mjs";

/** Needs a balancer in front of two instances (tests/api/balancer.rs). */
export const instances = 2;

const LEASE_TTL_MS = 3000;

export async function run(ctx) {
  const users = await ctx.check("4 users sign up", () => newUsers(ctx, "L", 4));
  const players = await ctx.check("they arrive through the balancer: 1 on the page, 3 queued", async () => {
    const ps = [];
    for (const u of users) ps.push(await enter(ctx, u));
    assert.equal(ps[0].reply?.pass, true, "L1 passes");
    ps.slice(1).forEach((p, i) =>
      assert.deepEqual({ pass: p.reply?.pass, waitPeople: p.reply?.waitPeople }, { pass: false, waitPeople: i + 1 }, p.label));
    return ps;
  });

  const dropped = new Set();
  for (const p of players) p.socket.on("disconnect", () => dropped.add(p.label));
  process.kill(instancePid(1), "SIGTERM");
  await ctx.check("instance 1 stops: the sockets it held drop, the others stay", async () => {
    await sleep(3000); // the balancer needs two failed health checks (1 s apart) to drop it
    assert.ok(dropped.size > 0, "no socket was on instance 1: the sources did not spread the clients");
    assert.ok(dropped.size < players.length, "every socket was on instance 1: nothing checks the survivor");
    ctx.log(`dropped with instance 1: ${[...dropped].join(", ")}`);
  });

  const live = await ctx.check("the dropped users connect again through the balancer", async () =>
    Promise.all(players.map((p) => (dropped.has(p.label) ? join(ctx, { ...p.user, label: `${p.label}'` }) : p))));

  await ctx.check("past the lease TTL every place is intact: L1 on the page, L2..L4 queued", async () => {
    await sleep(LEASE_TTL_MS + 1500);
    for (const p of live) {
      expectHttp(await validate(ctx, p.user), 400, { error: MSG.ALREADY_IN }, `${p.label} validation`);
    }
    for (const p of live) {
      const promoted = p.rec.unconsumed().some((e) => e.name === "ready to go");
      assert.ok(!promoted, `${p.label}: nobody may be promoted while places are kept`);
    }
  });

  await ctx.check("L1 leaves: L2 is admitted, L3 and L4 move up by one", async () => {
    live[0].socket.disconnect();
    await live[1].rec.next("ready to go", WAIT_MS);
    for (const p of live.slice(2)) {
      const moved = await p.rec.next("minus waiting people", WAIT_MS);
      assertSeconds(moved?.seconds, 0, 2000, `${p.label} minus waiting people`);
    }
  });
}
