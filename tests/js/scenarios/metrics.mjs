// Scenario `metrics`. Server: queue limit 3, a FRESH process (its metrics start at zero).
//
// Covers issue 6: /metrics moves by the right amounts during a queue flow. Four users arrive
// (3 admitted directly, 1 queued); U1 selects a seat and U2 loses the race for it; U1 leaves
// (departure from the page, its seat released, U4 admitted from the queue). Gauges follow
// within a sweep (≤ 1 s): page occupancy, queue length, connected sockets.

import { arriveInOrder, assert, eventually, joinRoom, selectOk, seatPayload } from "../lib.mjs";

/** Parses the Prometheus text format into {"name{labels}": value}. */
async function scrape(ctx) {
  const res = await fetch(`${ctx.base}/metrics`);
  assert.equal(res.status, 200, "GET /metrics");
  const values = {};
  for (const line of (await res.text()).split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    values[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return values;
}

function expectValues(got, want, what) {
  for (const [key, value] of Object.entries(want)) {
    assert.equal(got[key] ?? 0, value, `${what}: ${key} = ${got[key]}, expected ${value}`);
  }
}

export async function run(ctx) {
  const players = await ctx.check("4 users arrive: 3 admitted, 1 queued", async () => {
    const ps = await arriveInOrder(ctx, 4);
    assert.equal(ps[3].reply?.pass, false, "U4 queues");
    return ps;
  });
  const [u1, u2, , u4] = players;
  await ctx.check("admissions, queueing and gauges are counted", () =>
    eventually(async () =>
      expectValues(await scrape(ctx), {
        'ticketclub_admissions_total{via="direct"}': 3,
        "ticketclub_queued_total": 1,
        "ticketclub_sockets_connected": 4,
        'ticketclub_page_occupancy{session="2"}': 3,
        'ticketclub_queue_length{session="2"}': 1,
      }, "after arrivals"), { timeoutMs: 4000 }));

  await ctx.check("a selection and a lost race are counted", async () => {
    await joinRoom([u1, u2]);
    await selectOk(u1, 1, 1);
    u2.socket.emit("select seat", seatPayload(1, 1));
    const lost = await u2.rec.next("self select seat");
    assert.ok(lost?.error, `U2 should lose the race, got ${JSON.stringify(lost)}`);
    expectValues(await scrape(ctx), {
      'ticketclub_seat_transitions_total{kind="select"}': 1,
      "ticketclub_seat_conflicts_total": 1,
    }, "after the race");
  });

  await ctx.check("a departure, its released seat and the promotion are counted", async () => {
    u1.socket.disconnect();
    await u4.rec.next("ready to go");
    await eventually(async () =>
      expectValues(await scrape(ctx), {
        'ticketclub_departures_total{reason="left",from="page"}': 1,
        'ticketclub_seat_transitions_total{kind="release"}': 1,
        'ticketclub_admissions_total{via="queue"}': 1,
        "ticketclub_sockets_connected": 3,
        'ticketclub_page_occupancy{session="2"}': 3,
        'ticketclub_queue_length{session="2"}': 0,
      }, "after U1 left"), { timeoutMs: 4000 });
  });

  await ctx.check("latency histograms have the routes and events seen", async () => {
    const m = await scrape(ctx);
    assert.ok(m['ticketclub_socket_event_duration_seconds_count{event="check limit"}'] >= 4, "check limit timings");
    const signups = Object.entries(m).find(([k]) => k.startsWith("ticketclub_http_request_duration_seconds_count{route=\"/user/signup\""));
    assert.ok(signups && signups[1] >= 4, "sign-up timings by route template");
  });
}
