// Scenario `frozen`. Server: TWO instances sharing one MySQL/MariaDB database
// and one Redis, queue limit 1, instance lease TTL 2 s
// (TICKETCLUB_QUEUE_LIMIT=1 TICKETCLUB_LEASE_TTL=2). Needs `--url2` and
// TC_INSTANCE1_PID (this scenario SIGSTOPs and SIGCONTs instance 1); run by
// tests/api/multi_instance.rs, not by run-all.mjs.
//
// Covers issue 15 item 3: a visit the server ends is always told to its socket,
// even when the instance holding it was only frozen. A is on the page through
// instance 1 and B is queued through instance 2. Instance 1 is frozen
// (SIGSTOP) until B is admitted (a few leases): instance 2 declares it dead, fences it and ends
// A's visit, so B gets `ready to go`. When instance 1 wakes (SIGCONT), A (whose
// socket is still open) gets `window expired` {sessionId} and is disconnected,
// instead of staying on a buying page whose place is gone.

import {
  MSG, SESSION_ID, SLOW_EVENT_TIMEOUT_MS as WAIT_MS, assert, enter, enterPage, expectHttp, instancePid, newUser,
  onInstance, validate,
} from "../lib.mjs";

/** Needs two instances (`--url2`); run-all.mjs, which starts one server, can skip scenarios that say so. */
export const instances = 2;

/** At most this long frozen: lease 2 s, missing 2 s more, sweeps, and two busy cores. */
const FROZEN_MS = 8000;

export async function run(ctx) {
  const one = onInstance(ctx, 1);
  const two = onInstance(ctx, 2);
  const pid1 = instancePid(1);

  const [ua, ub] = await ctx.check("A signs up on instance 1, B on instance 2", () =>
    Promise.all([newUser(one, "A@1", 1), newUser(two, "B@2", 2)]));
  const a = await ctx.check("A enters through instance 1: pass", () => enterPage(one, ua));
  const b = await ctx.check("B enters through instance 2: queued (waitPeople 1)", async () => {
    const p = await enter(two, ub);
    assert.deepEqual({ pass: p.reply?.pass, waitPeople: p.reply?.waitPeople }, { pass: false, waitPeople: 1 },
      `B's check limit reply ${JSON.stringify(p.reply)}`);
    return p;
  });

  process.kill(pid1, "SIGSTOP");
  ctx.log(`froze instance 1 (pid ${pid1})`);
  try {
    await ctx.check("while instance 1 is frozen, instance 2 ends A's visit: B gets `ready to go`", () =>
      b.rec.nextRecord("ready to go", FROZEN_MS));
  } finally {
    process.kill(pid1, "SIGCONT");
    ctx.log("woke instance 1");
  }

  await ctx.check("A, still connected to instance 1, gets `window expired` {sessionId}", async () =>
    assert.deepEqual(await a.rec.next("window expired", WAIT_MS), { sessionId: SESSION_ID }, "A window expired"));
  await ctx.check("then instance 1 disconnects A", () => a.rec.waitDisconnect(WAIT_MS));
  await ctx.check("B's validation via instance 1 says already on the page", async () =>
    expectHttp(await validate(one, ub), 400, { error: MSG.ALREADY_IN }, "B validation via instance 1"));
}
