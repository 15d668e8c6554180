// Scenario `binary`. Server: queue limit 3.
//
// Covers issue 15, item 12: an event with a binary attachment (socket.io-client sends a
// Buffer as a BINARY_EVENT with a placeholder) is refused with a clear error under the reply
// event the old client reads, instead of losing its payload and being refused for a missing
// field. The socket stays usable.

import { SESSION_ID, assert, checkLimit, enterPage, join, joinRoom, newUser, seatPayload, selectOk, validate, expectHttp } from "../lib.mjs";

const BINARY = "Binary data is not accepted.";

export async function run(ctx) {
  const user = await newUser(ctx, "B", 0);
  const p = await ctx.check("B validates and connects", async () => {
    expectHttp(await validate(ctx, user), 200, { ok: true }, "validation");
    return join(ctx, user);
  });
  await ctx.check("check limit with a binary attachment -> {error} naming binary data", async () => {
    p.socket.emit("check limit", { sessionId: SESSION_ID, blob: Buffer.from([1, 2, 3]) });
    assert.deepEqual(await p.rec.next("check limit"), { error: BINARY });
  });
  await ctx.check("a plain check limit afterwards passes", async () => {
    const reply = await checkLimit(p);
    assert.equal(reply?.pass, true, `reply ${JSON.stringify(reply)}`);
  });
  await joinRoom([p], 1);
  await ctx.check("select seat with a binary field -> the binary error, naming the seat back", async () => {
    p.socket.emit("select seat", { ...seatPayload(2, 3), picture: Buffer.from("not json") });
    assert.deepEqual(await p.rec.next("self select seat"), { error: BINARY, rowIndex: 1, columnIndex: 2 });
  });
  await ctx.check("the same socket still selects a seat", () => selectOk(p, 2, 3));
}
