// Scenario `flood`. Server: queue limit 3, socket event budget at its default (50/s, burst 100).
// Run with `--transports websocket` (the flood's batches would exceed a polling POST's cap).
//
// Covers issue 15, item 6: one signed-in socket sends `unselect seat` with a 3,000-seat array
// about 100 times a second, and 800 more with 5 seats each. The flooder gets errors (the ticket-limit refusal for the long
// list, then the rate refusal) and is disconnected; meanwhile another buyer's `select seat`
// keeps answering within a generous bound, and the server still answers afterwards.

import { SESSION_ID, assert, enterPage, expectHttp, http, joinRoom, newUser, selectOk, sleep } from "../lib.mjs";

/** The rate refusal (src/error.rs TOO_FAST). */
const TOO_FAST = "操作過於頻繁，請稍後再試！";
const TOO_MANY_SEATS = "You can only buy 4 tickets per session.";
/** A select answers in milliseconds when nobody floods; this is generous. */
const BOUND_MS = 3000; // generous: the whole suite may run beside it on two cores
const FLOOD_MS = 3000;
const PER_TICK = 8; // small events every 10 ms besides the big one: ~900 events a second

export const timeoutSeconds = () => 90;

export async function run(ctx) {
  if (ctx.transports !== "websocket") {
    // A polling client batches the flood into POSTs over the 100 KB cap: not this case.
    ctx.log("skipped: the flood scenario runs with --transports websocket only");
    return;
  }
  const [flooder, victim] = await ctx.check("F and V enter the buying page", async () => {
    const users = await Promise.all(["F", "V"].map((label, i) => newUser(ctx, label, i)));
    const ps = [];
    for (const u of users) ps.push(await enterPage(ctx, u));
    return ps;
  });
  await joinRoom([flooder, victim], 1);

  const tickets = Array.from({ length: 3000 }, (_, i) => ({ row: 1 + (i % 9), column: 1 + (Math.floor(i / 9) % 9) }));
  const payload = { sessionId: SESSION_ID, areaId: 1, tickets };
  // Small ones too: a debug build reads 66 KB events slower than a flood needs to be cut.
  const small = { sessionId: SESSION_ID, areaId: 1, tickets: tickets.slice(0, 5) };
  let sent = 0;
  const flood = setInterval(() => {
    if (!flooder.socket.connected) return;
    flooder.socket.emit("unselect seat", payload);
    for (let i = 0; i < PER_TICK; i++) flooder.socket.emit("unselect seat", small);
    sent += 1 + PER_TICK;
  }, 10);
  const latencies = [];
  try {
    await sleep(300); // the flood is on before the victim starts
    const started = Date.now();
    for (let round = 0; Date.now() - started < FLOOD_MS; round++) {
      const column = 1 + (round % 4);
      const t0 = Date.now();
      await selectOk(victim, 9, column);
      latencies.push(Date.now() - t0);
      victim.socket.emit("unselect seat", { sessionId: SESSION_ID, areaId: 1, tickets: [{ row: 9, column, rowIndex: 8, columnIndex: column - 1 }] });
      await sleep(100); // a person's pace, well inside the budget
    }
  } finally {
    clearInterval(flood);
  }
  ctx.log(`flooder sent ${sent} events; victim select latencies (ms): ${latencies.join(" ")}`);

  await ctx.check(`V's selects all answered within ${BOUND_MS} ms during the flood`, () => {
    assert.ok(latencies.length >= 5, `only ${latencies.length} selects finished`);
    const worst = Math.max(...latencies);
    assert.ok(worst <= BOUND_MS, `slowest select took ${worst} ms`);
  });
  await ctx.check("F is disconnected for flooding (once the server has read its backlog)", async () => {
    const { reason } = await flooder.rec.waitDisconnect(15000);
    // The DISCONNECT packet, or the transport closed under it when F's outgoing queue was full.
    assert.ok(["io server disconnect", "transport close"].includes(reason), `reason ${reason}`);
  });
  await ctx.check("F got the long-list refusal and the rate refusal", () => {
    const errors = flooder.rec.events.filter((e) => e.name === "unselect seat").map((e) => e.payload?.error).filter(Boolean);
    assert.ok(errors.includes(TOO_MANY_SEATS), `no ticket-limit refusal among ${errors.length} replies`);
    assert.ok(errors.includes(TOO_FAST), `no rate refusal among ${errors.length} replies`);
    assert.ok(errors.length < sent, `every one of ${sent} events was handled`);
  });
  await ctx.check("the server still answers: GET /event and V's next select", async () => {
    expectHttp(await http(ctx.base, "GET", "/event"), 200, undefined, "GET /event");
    await selectOk(victim, 8, 8);
  });
}
