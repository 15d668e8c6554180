#!/usr/bin/env node
// First-request latency after a server start, with and without warm-up (issue 6).
//
//   node benches/warmup/first-request.mjs [--bin target/release/ticketclub] [--runs 5]
//
// Each run starts a fresh release server on MySQL (a new database) + Redis (a new key prefix),
// signs one buyer up (untimed), optionally calls POST /admin/warmup/2, then times the first
// buyer's steps of an on-sale: validation, connect + `check limit`, area list, seat map, and
// the first `select seat`. Cold and warm runs alternate; medians are printed as a Markdown table.
// Loopback only; every server it starts is stopped.

import { execFileSync, spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { checkLimit, closeAllSockets, http, join, newUser, seatPayload, sleep } from "../../tests/js/lib.mjs";

const { values } = parseArgs({ options: { bin: { type: "string", default: "target/release/ticketclub" }, runs: { type: "string", default: "5" } } });
const PORT = 3931;
const BASE = `http://127.0.0.1:${PORT}`;
const ADMIN = "bench-admin";

function mysql(sql) {
  execFileSync("mariadb", ["-h127.0.0.1", "-uroot", "-e", sql]);
}

async function startServer(db, prefix) {
  const child = spawn(values.bin, [], {
    env: {
      ...process.env,
      TICKETCLUB_ADDR: `127.0.0.1:${PORT}`,
      DATABASE_URL: `mysql://root@127.0.0.1:3306/${db}`,
      TICKETCLUB_AUTO_MIGRATE: "true",
      REDIS_URL: "redis://127.0.0.1:6379",
      TICKETCLUB_REDIS_PREFIX: prefix,
      TICKETCLUB_JWT_SECRET: "bench-secret-at-least-32-bytes-long",
      TICKETCLUB_BCRYPT_COST: "4",
      TICKETCLUB_SIGNIN_PER_ACCOUNT: "100000",
      TICKETCLUB_SIGNIN_PER_ADDRESS: "1000000",
      TICKETCLUB_ADMIN_TOKEN: ADMIN,
      TICKETCLUB_WARMUP_LEAD: "0",
      RUST_LOG: "warn",
    },
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${BASE}/healthz`)).ok) return child;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill("SIGKILL");
  throw new Error("server did not start");
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function oneRun(i, warm) {
  const db = `tc_bench_first_${process.pid}_${i}_${warm ? "w" : "c"}`;
  mysql(`CREATE DATABASE ${db}`);
  const child = await startServer(db, `bench:${db}:`);
  try {
    const ctx = { name: "first-request", base: BASE, transports: "websocket" };
    const user = await newUser(ctx, "B", i);
    const row = {};
    if (warm) {
      row.warmup = await timed(async () => {
        const res = await fetch(`${BASE}/admin/warmup/2`, { method: "POST", headers: { Authorization: `Bearer ${ADMIN}` } });
        if (!res.ok) throw new Error(`warm-up failed: ${res.status}`);
      });
    }
    row.validation = await timed(() => http(BASE, "POST", "/session/validation", { token: user.token, body: { sessionId: 2 } }));
    let player;
    row.checkLimit = await timed(async () => {
      player = await join(ctx, user);
      await checkLimit(player);
    });
    row.areas = await timed(() => http(BASE, "GET", "/area/2", { token: user.token }));
    row.seatMap = await timed(() => http(BASE, "POST", "/seat", { token: user.token, body: { sessionId: 2, areaId: 1 } }));
    row.select = await timed(async () => {
      player.socket.emit("join room", { sessionId: 2, areaId: 1 });
      player.socket.emit("select seat", seatPayload(1, 1));
      await player.rec.next("self select seat");
    });
    return row;
  } finally {
    closeAllSockets();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    mysql(`DROP DATABASE ${db}`);
    execFileSync("sh", ["-c", `redis-cli --scan --pattern 'bench:${db}:*' | xargs -r redis-cli del >/dev/null`]);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = Number(values.runs);
const results = { cold: [], warm: [] };
for (let i = 0; i < runs; i++) {
  results.cold.push(await oneRun(i, false));
  results.warm.push(await oneRun(i, true));
  process.stderr.write(`run ${i + 1}/${runs} done\n`);
}
const steps = ["validation", "checkLimit", "areas", "seatMap", "select"];
console.log(`| step (median of ${runs}, ms) | cold start | after warm-up |`);
console.log("|---|---|---|");
for (const step of steps) {
  const c = median(results.cold.map((r) => r[step]));
  const w = median(results.warm.map((r) => r[step]));
  console.log(`| ${step} | ${c.toFixed(1)} | ${w.toFixed(1)} |`);
}
const sum = (r) => steps.reduce((a, s) => a + r[s], 0);
console.log(`| first buyer, all steps | ${median(results.cold.map(sum)).toFixed(1)} | ${median(results.warm.map(sum)).toFixed(1)} |`);
console.log(`| (the warm-up call itself) | | ${median(results.warm.map((r) => r.warmup)).toFixed(1)} |`);
process.exit(0);
