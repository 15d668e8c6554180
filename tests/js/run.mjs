#!/usr/bin/env node
// Runs one contract scenario against a running TicketClub server.
//
//   node tests/js/run.mjs <scenario> --url http://127.0.0.1:PORT \
//        [--url2 http://127.0.0.1:PORT2] \
//        --transports default|websocket|polling [--clients N] [--timeout S]
//
// `--url2` is a second instance sharing the first one's database and Redis
// (the two-instance scenarios need it; see tests/api/multi_instance.rs).
//
// Prints one line per check, exits 0 when every check passed and 1 on the
// first failure (with the failing check's message). Every socket is closed
// whatever happens, and a global timeout turns a hang into a failure.
// Server configuration each scenario needs (queue limit, purchase window) is
// documented in the scenario's header and applied by run-all.mjs.

import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { closeAllSockets, sleep } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const scenarioDir = join(here, "scenarios");
const DEFAULT_TIMEOUT_S = 60;

function usage(msg) {
  const names = listScenarios().join(", ");
  console.error(`${msg}\nusage: node run.mjs <scenario> --url http://127.0.0.1:PORT [--url2 http://127.0.0.1:PORT2] --transports default|websocket|polling [--clients N] [--timeout S]\nscenarios: ${names}`);
  process.exit(2);
}

function listScenarios() {
  return readdirSync(scenarioDir)
    .filter((f) => f.endsWith(".mjs") && !f.startsWith("_"))
    .map((f) => f.slice(0, -4))
    .sort();
}

function parseCli() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        url: { type: "string" },
        url2: { type: "string" },
        transports: { type: "string", default: "default" },
        clients: { type: "string" },
        timeout: { type: "string" },
      },
    });
  } catch (err) {
    usage(err.message);
  }
  const { values, positionals } = parsed;
  const name = positionals[0];
  if (!name || positionals.length > 1) usage("exactly one scenario name is required");
  if (!listScenarios().includes(name)) usage(`unknown scenario "${name}"`);
  if (!values.url) usage("--url is required");
  if (!["default", "websocket", "polling"].includes(values.transports)) usage(`bad --transports "${values.transports}"`);
  const clients = values.clients === undefined ? undefined : Number(values.clients);
  if (clients !== undefined && !(Number.isInteger(clients) && clients > 0)) usage(`bad --clients "${values.clients}"`);
  const timeoutS = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutS !== undefined && !(timeoutS > 0)) usage(`bad --timeout "${values.timeout}"`);
  const base2 = values.url2 === undefined ? undefined : values.url2.replace(/\/+$/, "");
  return { name, base: values.url.replace(/\/+$/, ""), base2, transports: values.transports, clients, timeoutS };
}

/** ctx handed to scenarios: {name, base, base2, transports, clients, log, check}; base2 only with --url2. */
function makeContext(cli, counters) {
  const tag = `[${cli.name}/${cli.transports}]`;
  const log = (msg) => console.log(`${tag} ${msg}`);
  // check(label, fn): run one assertion group; log "ok" or prefix the failure with the label.
  const check = async (label, fn) => {
    try {
      const value = await fn();
      counters.passed += 1;
      log(`ok   ${label}`);
      return value;
    } catch (err) {
      err.check = label;
      throw err;
    }
  };
  return { name: cli.name, base: cli.base, base2: cli.base2, transports: cli.transports, clients: cli.clients, log, check, tag };
}

function globalTimeout(ms) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`global timeout: scenario still running after ${ms / 1000} s`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** node:assert drops actual/expected from the message when one is given; show them. */
function assertionDetail(err) {
  if (err.code !== "ERR_ASSERTION" || err.generatedMessage) return [];
  const show = (v) => (v === undefined ? "undefined" : JSON.stringify(v));
  return [`expected: ${show(err.expected)}`, `actual:   ${show(err.actual)}`];
}

async function main() {
  const cli = parseCli();
  const mod = await import(pathToFileURL(join(scenarioDir, `${cli.name}.mjs`)).href);
  const counters = { passed: 0 };
  const ctx = makeContext(cli, counters);
  const timeoutMs = (cli.timeoutS ?? mod.timeoutSeconds?.(ctx) ?? DEFAULT_TIMEOUT_S) * 1000;
  const timeout = globalTimeout(timeoutMs);
  const started = Date.now();
  let failure = null;
  // A stray rejection (e.g. an un-awaited waiter) is a failure too, not a crash.
  const onStray = (err) => {
    failure ??= err instanceof Error ? err : new Error(String(err));
  };
  process.on("unhandledRejection", onStray);
  process.on("uncaughtException", onStray);
  try {
    await Promise.race([mod.run(ctx), timeout.promise]);
  } catch (err) {
    failure ??= err;
  } finally {
    timeout.cancel();
    closeAllSockets();
    await sleep(100); // let close packets leave before exiting
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (failure) {
    const where = failure.check ? `${failure.check}: ` : "";
    console.log(`${ctx.tag} FAIL ${where}${failure.message}`);
    for (const line of assertionDetail(failure)) console.log(`${ctx.tag}      ${line}`);
    console.log(`${ctx.tag} FAILED after ${counters.passed} passing checks (${secs} s)`);
    process.exit(1);
  }
  console.log(`${ctx.tag} PASSED ${counters.passed} checks (${secs} s)`);
  process.exit(0);
}

main();
