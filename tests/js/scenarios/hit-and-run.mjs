// Scenario `hit-and-run`. Server: queue limit 1 (TICKETCLUB_QUEUE_LIMIT=1).
//
// Covers issue 15 item 4: a connection that sends `check limit` and disconnects
// at once must not keep a page place. Five users in a row open a socket, emit
// `check limit` and disconnect in the same tick, so the arrival is still being
// handled when the disconnect lands; three more do the same with the app
// protocol's `/queue` `join`. Then B enters: it must be on the page
// within a few seconds (a `pass` reply, or `ready to go` soon after), not wait
// out a leaked place's whole purchase window.

import { SESSION_ID, assert, connect, expectHttp, join, newUser, sleep, validate } from "../lib.mjs";

/** run-all.mjs reads this: one place on the page. */
export const serverEnv = () => ({ TICKETCLUB_QUEUE_LIMIT: "1" });

const LEAVERS = 5;
const APP_LEAVERS = 3;
const ADMITTED_WITHIN_MS = 4000;

export async function run(ctx) {
  const all = LEAVERS + APP_LEAVERS;
  const users = await ctx.check(`${all} leavers and B sign up`, () =>
    Promise.all([...Array(all + 1).keys()].map((i) => newUser(ctx, i < all ? `L${i + 1}` : "B", i + 1))));
  const b = users.pop();
  const appUsers = users.splice(LEAVERS);

  await ctx.check(`${LEAVERS} users each send \`check limit\` and disconnect at once`, async () => {
    for (const user of users) {
      expectHttp(await validate(ctx, user), 200, { ok: true }, `${user.label} validation`);
      const p = await join(ctx, user);
      p.socket.emit("check limit", SESSION_ID);
      p.socket.disconnect();
    }
  });
  await ctx.check(`${APP_LEAVERS} users each send \`join\` on /queue and disconnect at once`, async () => {
    for (const user of appUsers) {
      const socket = await connect(`${ctx.base}/queue`, user.token, ctx.transports, { label: `${user.label}/queue` });
      socket.emit("join", { sessionId: SESSION_ID }, () => {});
      socket.disconnect();
    }
  });
  // Let the last arrivals finish on the server (their replies have nowhere to go).
  await sleep(300);

  await ctx.check(`B enters and is on the page within ${ADMITTED_WITHIN_MS} ms`, async () => {
    const started = Date.now();
    const p = await join(ctx, b);
    p.socket.emit("check limit", SESSION_ID);
    const reply = await p.rec.next("check limit", ADMITTED_WITHIN_MS);
    assert.ok(!reply?.error, `B's check limit reply ${JSON.stringify(reply)}`);
    if (reply.pass !== true) {
      const left = ADMITTED_WITHIN_MS - (Date.now() - started);
      await p.rec.next("ready to go", Math.max(left, 1)).catch(() => {
        throw new Error(`B was queued (${JSON.stringify(reply)}) behind a place nobody holds, and not admitted within ${ADMITTED_WITHIN_MS} ms`);
      });
    }
  });
}
