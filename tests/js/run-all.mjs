#!/usr/bin/env node
// Runs every scenario (or a chosen few) in every transport mode, each against
// its own freshly started server with a throw-away in-memory database.
//
//   node tests/js/run-all.mjs [--bin target/debug/ticketclub]
//        [--scenarios smoke,race] [--transports default,websocket,polling]
//        [--clients N]
//
// Server settings come from each scenario's optional `serverEnv(opts)` export
// (queue limit, purchase window...); the default is queue limit 3. Server
// logs go to tests/js/test-output/<scenario>-<transports>.log (git-ignored).
// Ends with the plain "N passed, N failed" line; exit code 0 only if all passed.

import { spawn } from "node:child_process";
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const outDir = join(here, "test-output");
const JWT_SECRET = "js-harness-secret-at-least-32-bytes-long"; // shared with the harness for the expired-token case
const READY_TIMEOUT_MS = 20000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseCli() {
  const { values } = parseArgs({
    options: {
      bin: { type: "string", default: join(repo, "target/debug/ticketclub") },
      scenarios: { type: "string" },
      transports: { type: "string", default: "default,websocket,polling" },
      clients: { type: "string" },
    },
  });
  const all = readdirSync(join(here, "scenarios")).filter((f) => f.endsWith(".mjs") && !f.startsWith("_")).map((f) => f.slice(0, -4)).sort();
  const scenarios = values.scenarios ? values.scenarios.split(",") : all;
  for (const s of scenarios) if (!all.includes(s)) throw new Error(`unknown scenario "${s}"; known: ${all.join(", ")}`);
  return { bin: resolve(values.bin), scenarios, transports: values.transports.split(","), clients: values.clients };
}

/** A free loopback port (bind to 0, read it, release it). */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Start the server for one scenario run; resolves once GET /event answers. */
async function startServer(bin, env, logPath) {
  const log = openSync(logPath, "w");
  const proc = spawn(bin, [], { env: { ...process.env, ...env }, stdio: ["ignore", log, log] });
  closeSync(log);
  const exited = new Promise((r) => proc.once("exit", (code, signal) => r({ code, signal })));
  proc.exitInfo = null;
  exited.then((info) => (proc.exitInfo = info));
  const base = `http://${env.TICKETCLUB_ADDR}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitInfo) throw new Error(`server exited during startup (${JSON.stringify(proc.exitInfo)}); see ${logPath}`);
    try {
      const res = await fetch(`${base}/event`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return { proc, base, exited };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  proc.kill("SIGKILL");
  throw new Error(`server not ready within ${READY_TIMEOUT_MS} ms; see ${logPath}`);
}

async function stopServer(server) {
  if (server.proc.exitInfo) return;
  server.proc.kill("SIGTERM");
  const done = await Promise.race([server.exited, sleep(5000).then(() => null)]);
  if (!done) server.proc.kill("SIGKILL");
  await server.exited;
}

/** Run run.mjs in a child process with inherited output; resolves its exit code. */
function runScenario(name, base, transports, clients) {
  const args = [join(here, "run.mjs"), name, "--url", base, "--transports", transports];
  if (clients) args.push("--clients", clients);
  const child = spawn(process.execPath, args, { stdio: "inherit", env: { ...process.env, TICKETCLUB_JWT_SECRET: JWT_SECRET } });
  return new Promise((r) => child.once("exit", (code) => r(code ?? 1)));
}

async function serverEnvFor(name, port, cli) {
  const mod = await import(pathToFileURL(join(here, "scenarios", `${name}.mjs`)).href);
  return {
    TICKETCLUB_ADDR: `127.0.0.1:${port}`,
    DATABASE_URL: "sqlite::memory:",
    TICKETCLUB_BCRYPT_COST: "4",
    // Scenarios sign hundreds of buyers in from one address.
    TICKETCLUB_SIGNIN_PER_ACCOUNT: "100000",
    TICKETCLUB_SIGNIN_PER_ADDRESS: "1000000",
    TICKETCLUB_SOCKETS_PER_ADDRESS: "0",
    TICKETCLUB_JWT_SECRET: JWT_SECRET,
    TICKETCLUB_QUEUE_LIMIT: "3",
    ...(mod.serverEnv?.({ clients: cli.clients === undefined ? undefined : Number(cli.clients) }) ?? {}),
  };
}

/** One scenario in one transport mode: fresh server, run, liveness check, stop. */
async function runOne(cli, name, transports) {
  const logPath = join(outDir, `${name}-${transports}.log`);
  const env = await serverEnvFor(name, await freePort(), cli);
  let server;
  try {
    server = await startServer(cli.bin, env, logPath);
  } catch (err) {
    console.log(`[${name}/${transports}] FAIL ${err.message}`);
    return false;
  }
  try {
    const code = await runScenario(name, server.base, transports, cli.clients);
    server.ok = code === 0;
    if (server.proc.exitInfo) {
      console.log(`[${name}/${transports}] FAIL server died: ${JSON.stringify(server.proc.exitInfo)}; log tail:\n${tail(logPath)}`);
      server.ok = false;
    }
    return server.ok;
  } finally {
    await stopServer(server);
    keepLogIfFailed(logPath, server);
  }
}

/** Later runs overwrite <name>-<transports>.log; a failed run's log is kept aside. */
function keepLogIfFailed(logPath, server) {
  if (server.ok !== false) return;
  const kept = logPath.replace(/\.log$/, `.failed-${Date.now()}.log`);
  copyFileSync(logPath, kept);
  console.log(`server log kept: ${kept}`);
}

function tail(path, lines = 20) {
  try {
    const text = readFileSync(path, "utf8").trimEnd();
    return text === "" ? "(empty log)" : text.split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function main() {
  const cli = parseCli();
  mkdirSync(outDir, { recursive: true });
  const results = [];
  for (const name of cli.scenarios) {
    const mod = await import(pathToFileURL(join(here, "scenarios", `${name}.mjs`)).href);
    if ((mod.instances ?? 1) > 1) {
      // Needs several instances (tests/api/multi_instance.rs, tests/api/balancer.rs run it).
      console.log(`skip ${name}: needs ${mod.instances} instances`);
      continue;
    }
    for (const transports of cli.transports) {
      results.push({ name, transports, ok: await runOne(cli, name, transports) });
    }
  }
  console.log("\nsummary:");
  for (const r of results) console.log(`  ${r.ok ? "PASS" : "FAIL"}  ${r.name} (${r.transports})`);
  const passed = results.filter((r) => r.ok).length;
  console.log(`js-contract: ${passed} passed, ${results.length - passed} failed`);
  process.exit(passed === results.length ? 0 : 1);
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(2);
});
