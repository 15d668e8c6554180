// Scenario `smoke` (golden 00-smoke). Server: queue limit 3, fresh database.
//
// Covers: GET /event list; POST /session/validation happy path, "already on
// the page" and logged-out (`Bearer null`); socket auth with "Bearer <jwt>",
// with a raw JWT, and with a bad token (connect_error 登入錯誤！); the pass
// reply of `check limit`; in default mode, the polling -> websocket upgrade;
// and that a disconnect frees the user's place on the page.

import {
  assert, MSG, SESSION_ID, checkLimit, connect, connectRefused, enterPage, eventually,
  expectHttp, http, join, newUser, recorderOf, assertQuiet, validate,
} from "../lib.mjs";

const SINGERS = ["Michael Jackson", "TWICE", "IU", "Coldplay", "LANY", "Alec Benjamin", "Ariana Grande", "Anne-Marie"];

export async function run(ctx) {
  await ctx.check("GET /event lists the 8 seeded events", () => checkEventList(ctx));

  const u1 = await ctx.check("signup returns {data:{access_token, access_expired, user}}", () => signUpShape(ctx, "smokeU1", 1));
  await ctx.check("validation of a fresh user is 200 {ok:true}", async () =>
    expectHttp(await validate(ctx, u1), 200, { ok: true }, "validation"));

  const p1 = await ctx.check("socket connects with auth {token: 'Bearer <jwt>'}", () => join(ctx, u1));
  await ctx.check("check limit 2 -> {pass:true, waitPeople:0, seconds:<number>}", async () => {
    const reply = await checkLimit(p1);
    assert.deepEqual(Object.keys(reply).sort(), ["pass", "seconds", "waitPeople"], `reply ${JSON.stringify(reply)}`);
    assert.equal(reply.pass, true);
    assert.equal(reply.waitPeople, 0);
    assert.equal(typeof reply.seconds, "number");
  });
  if (ctx.transports === "default") {
    await ctx.check("default transports upgrade from polling to websocket", () => waitUpgrade(p1.socket));
  }

  await ctx.check("re-validation while on the page -> 400 already on page", async () =>
    expectHttp(await validate(ctx, u1), 400, { error: MSG.ALREADY_IN }, "re-validation"));
  await ctx.check("'Bearer null' -> 401 請先登入！", async () => {
    const res = await http(ctx.base, "POST", "/session/validation", { auth: "Bearer null", body: { sessionId: SESSION_ID } });
    expectHttp(res, 401, { error: MSG.LOGIN_FIRST }, "Bearer null validation");
  });
  await ctx.check("bad socket token -> connect_error 登入錯誤！", async () => {
    const err = await connectRefused(ctx.base, { token: "Bearer not-a-jwt" }, ctx.transports, { label: "BAD" });
    assert.equal(err.message, MSG.LOGIN_ERROR);
  });

  const u2 = await newUser(ctx, "smokeU2", 2);
  const p2 = await ctx.check("raw JWT without 'Bearer ' is accepted on the socket and passes", async () => {
    const socket = await connect(ctx.base, null, ctx.transports, { label: "U2", auth: { token: u2.token } });
    const player = { ...u2, socket, rec: recorderOf(socket) };
    const reply = await checkLimit(player);
    assert.equal(reply.pass, true, `reply ${JSON.stringify(reply)}`);
    return player;
  });

  await ctx.check("no socket received anything else", () => assertQuiet([p1, p2]));

  await ctx.check("after disconnect, validation is 200 again (place freed)", async () => {
    p1.socket.disconnect();
    await eventually(async () => expectHttp(await validate(ctx, u1), 200, { ok: true }, "validation after disconnect"));
  });
  await ctx.check("the freed place can be taken again", () => enterPage(ctx, u1));
}

async function checkEventList(ctx) {
  const res = await http(ctx.base, "GET", "/event");
  expectHttp(res, 200, undefined, "GET /event");
  assert.ok(Array.isArray(res.body), "body is an array");
  assert.deepEqual(res.body.map((e) => e.id), [1, 2, 3, 4, 5, 6, 7, 8], "ids");
  assert.deepEqual(res.body.map((e) => e.singer), SINGERS, "singers");
  for (const e of res.body) {
    assert.deepEqual(Object.keys(e), ["id", "singer", "picture"], `keys of event ${e.id}`);
    assert.ok(String(e.picture).endsWith(`/assets/${e.id}.png`), `picture of event ${e.id}: ${e.picture}`);
  }
}

async function signUpShape(ctx, label, i) {
  const user = await newUser(ctx, label, i);
  assert.deepEqual(Object.keys(user.data), ["access_token", "access_expired", "user"], "data keys");
  assert.equal(typeof user.data.access_expired, "string", "access_expired is the raw expiry string");
  assert.deepEqual(user.data.user, { id: user.id, name: label, email: user.email }, "user");
  return user;
}

/** Resolve once the engine runs on websocket (it starts on polling). */
function waitUpgrade(socket, timeoutMs = 5000) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still on ${engine.transport.name} after ${timeoutMs} ms`)), timeoutMs);
    engine.once("upgrade", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
