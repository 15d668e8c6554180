// Browser test of the demo page: Debian's chromium, driven by playwright-core, against a server
// started with TICKETCLUB_QUEUE_LIMIT=1 (one buyer on the buying page at a time).
//
//   node client-demo/e2e/run.mjs --url http://127.0.0.1:3000 --out test-output/browser [--timeout 150]
//   node client-demo/e2e/run.mjs --scenario expiry --url … (server with TICKETCLUB_PURCHASE_WINDOW=2)
//
// Two browser contexts, A (desktop) and B (390 px wide, a phone), each sign up through the page:
// A enters the buying page; B queues and sees 1 person ahead. B watches area 1's live map from the
// waiting room: the protocol lets any signed-in socket `join room` and read POST /seat, only
// selecting and buying need a place, so B can see A's seat turn "taken" while A holds the only
// place. A locks and buys; the success page closes A's connection, which admits B by itself; B
// sees the seat as sold and cannot take it. A third context, C, queues behind B to check the
// waiting room's live updates (2 ahead, then 1 ahead with a fresh estimate when B moves in).
// A screenshot of every step goes to --out.
// Scenario `expiry` (a server with a window of a few seconds): the server ends A's window, and
// the page says so in plain words and returns to the start.
// Scenario `record` (with --har FILE): one buyer signs up and buys a seat while Chrome DevTools'
// network events (CDP) are turned into a HAR 1.2 file with `_webSocketMessages`, the file
// `ticketclub replay` plays back (tests/api/browser.rs).
// Exit code 0 when every step passed, 1 with the failing step's message otherwise.

import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const args = parseArgs(process.argv.slice(2));
const BASE = (args.url ?? "").replace(/\/$/, "");
const OUT = resolve(args.out ?? "test-output/browser");
const TIMEOUT_S = Number(args.timeout ?? 150);
const STEP_MS = 15000; // one UI expectation; generous for a loaded CI machine
const SESSION = { event: 2, session: 2, area: 1 };
/** The seat A buys: the first free one with a free right neighbour (B takes that), found on
 *  B's map, so the test also runs against a server that earlier runs sold seats on. */
const SEAT = { row: 1, column: 3 };

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
];

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i].startsWith("--")) out[argv[i].slice(2)] = argv[i + 1];
    if (argv[i].startsWith("--")) i += 1;
  }
  return out;
}

let browser;
let passed = 0;
const pages = {};
const pageErrors = [];

const SCENARIOS = { flow, expiry, admin, record };

async function main() {
  if (!BASE.startsWith("http")) throw usage("--url http://HOST:PORT is required");
  const scenario = SCENARIOS[args.scenario ?? "flow"];
  if (!scenario) throw usage(`unknown --scenario ${args.scenario} (flow, expiry, admin, record)`);
  mkdirSync(OUT, { recursive: true });
  // launch() runs chromium on a fresh temporary profile (user-data-dir) that is removed on close.
  // CHROMIUM_PATH lets a machine without Debian's chromium use another Chromium build (CI runners).
  const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  await scenario();
  if (pageErrors.length) throw new Error(`uncaught errors in the page:\n${pageErrors.join("\n")}`);
}

function usage(message) {
  return Object.assign(new Error(message), { reported: true });
}

async function signUp(page, who) {
  await page.goto(`${BASE}/#/signup`);
  await fill(page, { name: `Buyer ${who}`, email: email(who), password: "secret123" });
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(/#\/$/);
  await expectText(page.locator("#nav-account"), "Profile");
}

async function expiry() {
  const a = await open("A", { width: 1100, height: 900 });
  await step("A signs up, enters the buying page and selects a seat", async () => {
    await signUp(a, "x");
    await a.goto(`${BASE}/#/event/${SESSION.event}`);
    await a.locator(".session-row button").first().click();
    await a.waitForURL(/#\/select$/);
    await a.locator(`button[data-area="${SESSION.area}"]`).click();
    await seat(a, SEAT).click();
    await expectSeat(a, SEAT, 4, "selected by you");
  });
  await step("the server ends the window: the page says so and returns to the start", async () => {
    const message = a.locator("dialog[open]");
    await message.waitFor();
    await expectText(message.locator("h2"), "Your time is up");
    await expectText(message.locator("p"), /^The server ended your buying window/);
    await a.waitForURL(/#\/$/);
    if (await a.locator("#timer").isVisible()) throw new Error("the purchase countdown is still shown");
    await shot(a, "expiry-01-window-ended");
    await message.getByRole("button", { name: "OK" }).click();
  });
}

/** Scenario `admin` (a server with an operator token, a page of 1, one visitor on the page and
 *  two queued; --token and --remove-user name the token and the visitor on the page): the
 *  dashboard signs in, shows the figures, and a limit change, a pause and a removal move them. */
async function admin() {
  const o = await open("operator", { width: 1100, height: 900 });
  const figure = (id) => o.locator(`#${id}`);
  await step("a wrong token is refused on the dashboard", async () => {
    await o.goto(`${BASE}/admin`);
    await o.locator("#token").fill("not-the-token");
    await o.locator("#session").fill(String(SESSION.session));
    await o.getByRole("button", { name: "Open" }).click();
    await expectText(o.locator("#sign-in-error"), "Operator token required.");
  });
  await step("the operator signs in and sees the session's figures", async () => {
    await o.locator("#token").fill(args.token);
    await o.getByRole("button", { name: "Open" }).click();
    await expectText(figure("page"), "1");
    await expectText(figure("limit"), "1");
    await expectText(figure("queue"), "2");
    await expectText(figure("state"), "admitting");
    await shot(o, "admin-01-figures");
  });
  await step("raising the page size admits the next person at once", async () => {
    await o.locator("#limit-input").fill("2");
    await o.getByRole("button", { name: "Set" }).click();
    await expectText(figure("limit"), "2");
    await expectText(figure("page"), "2");
    await expectText(figure("queue"), "1");
    await expectText(figure("rate"), "2");
    await shot(o, "admin-02-limit-raised");
  });
  await step("a pause shows on the dashboard", async () => {
    await o.getByRole("button", { name: "Pause" }).click();
    await expectText(figure("state"), "paused");
    await shot(o, "admin-03-paused");
  });
  await step("removing a visitor frees a place that the pause keeps empty", async () => {
    await o.locator("#remove-input").fill(args["remove-user"]);
    await o.getByRole("button", { name: "Remove" }).click();
    await expectText(o.locator("#result"), "remove: done");
    await expectText(figure("page"), "1");
    await expectText(figure("queue"), "1");
    await expectText(o.locator("#audit li").first(), /admin: remove session 2 account \d+$/);
  });
  await step("the chart has drawn the last seconds", async () => {
    await until(async () => {
      const points = (await o.locator("#chart-queue").getAttribute("points")) ?? "";
      return points.trim().split(" ").length >= 3 || `chart points: ${JSON.stringify(points)}`;
    });
    await shot(o, "admin-04-removed");
  });
}

async function record() {
  if (!args.har) throw usage("--scenario record needs --har FILE");
  const a = await open("A", { width: 1100, height: 900 });
  const har = await captureHar(a);
  await step("A signs up, enters the buying page, selects, locks and buys a seat (recorded)", async () => {
    await signUp(a, "rec");
    await a.goto(`${BASE}/#/event/${SESSION.event}`);
    await a.locator(".session-row button").first().click();
    await a.waitForURL(/#\/select$/);
    await a.locator(`button[data-area="${SESSION.area}"]`).click();
    await seat(a, SEAT).click();
    await expectSeat(a, SEAT, 4, "selected by you");
    await a.getByRole("button", { name: "Lock seats and continue" }).click();
    await a.waitForURL(/#\/order$/);
    await a.getByRole("button", { name: "Place order" }).click();
    await a.waitForURL(/#\/success$/);
    await expectText(a.locator("h1"), "Your tickets are booked");
    // The success page closes the connection; let its close reach the recording.
    await a.waitForTimeout(500);
  });
  await step("the network recording is saved as HAR", async () => {
    const file = await har.save(resolve(args.har));
    console.log(`HAR: ${file.entries} entries, ${file.frames} websocket frames -> ${args.har}`);
    if (file.frames === 0 && file.polling === 0) throw new Error("no socket traffic was recorded");
  });
}

/** Records a page's network traffic through CDP's Network domain, as DevTools' "Save all as HAR
 *  with content" does: each request with its body and answer, each websocket with its frames. */
async function captureHar(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const entries = new Map();
  const bodies = [];
  let clock = null; // wall time minus the monotonic timestamp, in seconds
  const wall = (t) => (clock === null ? Date.now() / 1000 : t + clock);
  const iso = (t) => new Date(wall(t) * 1000).toISOString();
  const headers = (h = {}) => Object.entries(h).map(([name, value]) => ({ name, value: String(value) }));
  cdp.on("Network.requestWillBeSent", (e) => {
    if (clock === null && e.wallTime) clock = e.wallTime - e.timestamp;
    entries.set(e.requestId, {
      start: e.timestamp,
      entry: {
        startedDateTime: iso(e.timestamp), time: 0,
        request: { method: e.request.method, url: e.request.url, httpVersion: "HTTP/1.1",
          headers: headers(e.request.headers), queryString: [], cookies: [], headersSize: -1, bodySize: -1,
          ...(e.request.postData !== undefined ? { postData: { mimeType: e.request.headers["Content-Type"] ?? "", text: e.request.postData } } : {}) },
        response: { status: 0, statusText: "", httpVersion: "HTTP/1.1", headers: [], cookies: [],
          content: { size: 0, mimeType: "" }, redirectURL: "", headersSize: -1, bodySize: -1 },
        cache: {}, timings: { send: 0, wait: 0, receive: 0 },
      },
    });
  });
  cdp.on("Network.responseReceived", (e) => {
    const item = entries.get(e.requestId);
    if (!item) return;
    Object.assign(item.entry.response, { status: e.response.status, statusText: e.response.statusText,
      headers: headers(e.response.headers) });
    item.entry.response.content.mimeType = e.response.mimeType;
  });
  cdp.on("Network.loadingFinished", (e) => {
    const item = entries.get(e.requestId);
    if (!item) return;
    item.entry.time = (e.timestamp - item.start) * 1000;
    bodies.push(cdp.send("Network.getResponseBody", { requestId: e.requestId }).then(
      (b) => Object.assign(item.entry.response.content, { text: b.body, size: b.body.length,
        ...(b.base64Encoded ? { encoding: "base64" } : {}) }),
      () => {},
    ));
  });
  cdp.on("Network.webSocketCreated", (e) => {
    entries.set(e.requestId, {
      start: null,
      entry: {
        startedDateTime: new Date().toISOString(), time: 0,
        request: { method: "GET", url: e.url, httpVersion: "HTTP/1.1", headers: [], queryString: [], cookies: [], headersSize: -1, bodySize: -1 },
        response: { status: 101, statusText: "Switching Protocols", httpVersion: "HTTP/1.1", headers: [], cookies: [],
          content: { size: 0, mimeType: "x-unknown" }, redirectURL: "", headersSize: -1, bodySize: -1 },
        cache: {}, timings: { send: 0, wait: 0, receive: 0 }, _resourceType: "websocket", _webSocketMessages: [],
      },
    });
  });
  cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => {
    const item = entries.get(e.requestId);
    if (!item) return;
    item.start = e.timestamp;
    item.entry.startedDateTime = new Date(e.wallTime * 1000).toISOString();
    item.entry.request.headers = headers(e.request.headers);
  });
  const frame = (type) => (e) => {
    const item = entries.get(e.requestId);
    if (!item) return;
    item.entry._webSocketMessages.push({ type, time: wall(e.timestamp), opcode: e.response.opcode, data: e.response.payloadData });
  };
  cdp.on("Network.webSocketFrameSent", frame("send"));
  cdp.on("Network.webSocketFrameReceived", frame("receive"));
  cdp.on("Network.webSocketClosed", (e) => {
    const item = entries.get(e.requestId);
    if (item && item.start !== null) item.entry.time = (e.timestamp - item.start) * 1000;
  });
  return {
    async save(path) {
      await Promise.all(bodies);
      const list = [...entries.values()].map((i) => i.entry)
        .sort((x, y) => x.startedDateTime.localeCompare(y.startedDateTime));
      const har = { log: { version: "1.2", creator: { name: "client-demo/e2e (CDP)", version: "1" }, pages: [], entries: list } };
      writeFileSync(path, JSON.stringify(har, null, 1));
      const frames = list.reduce((n, e) => n + (e._webSocketMessages?.length ?? 0), 0);
      const polling = list.filter((e) => /transport=polling/.test(e.request.url)).length;
      return { entries: list.length, frames, polling };
    },
  };
}

async function flow() {
  const a = await open("A", { width: 1100, height: 900 });
  const b = await open("B", { width: 390, height: 844 }, { isMobile: true, hasTouch: true });
  const c = await open("C", { width: 800, height: 900 });

  await step("A: a refused sign-up shows the server's message", async () => {
    await a.goto(`${BASE}/#/signup`);
    await fill(a, { name: "Buyer A", email: email("a"), password: "123" });
    await a.getByRole("button", { name: "Sign up" }).click();
    await expectText(a.locator("#form-error"), "密碼至少6個字符");
    await shot(a, "01-A-signup-error");
  });
  await step("A signs up through the page", async () => {
    await fill(a, { name: "Buyer A", email: email("a"), password: "secret123" });
    await a.getByRole("button", { name: "Sign up" }).click();
    await a.waitForURL(/#\/$/);
    await expectText(a.locator("#nav-account"), "Profile");
  });
  await step("B signs up through the page (390 px wide)", async () => {
    await signUp(b, "b");
    await b.locator(".card img").first().waitFor();
    await waitImages(b);
    await noSideways(b);
    await shot(b, "00-event-list-390px");
  });

  await step("a session that is over cannot be bought (活動結束)", async () => {
    await a.locator(`a[href="#/event/8"]`).click();
    const button = a.locator(".session-row button").first();
    await expectText(button, "活動結束");
    if (!(await button.isDisabled())) throw new Error("the button of a past session is enabled");
    await a.goto(`${BASE}/#/`);
  });
  await step("A opens the event and enters the buying page", async () => {
    await a.locator(`a[href="#/event/${SESSION.event}"]`).click();
    await a.locator(".session-row button").first().click();
    await a.waitForURL(/#\/select$/);
    await a.locator(`button[data-area="${SESSION.area}"]`).waitFor();
    await expectText(a.locator("#timer-value"), /^(10:00|09:[0-5]\d)$/);
    await shot(a, "02-A-buying-page");
  });
  await step("B queues behind A and sees 1 person ahead", async () => {
    await b.goto(`${BASE}/#/event/${SESSION.event}`);
    await b.locator(".session-row button").first().click();
    await b.waitForURL(/#\/wait$/);
    await expectText(b.locator("#wait-people"), "1");
    await expectText(b.locator("#wait-time"), /^\d\d:\d\d$/);
    if ((await b.locator("#wait-time").textContent()) === "00:00") throw new Error("the estimated wait is 00:00");
    await b.locator("#wait-progress").waitFor();
    await noSideways(b);
    await shot(b, "03-B-waiting-1-ahead");
  });
  await step("a late answer does not draw over the page that replaced it", async () => {
    // The event list's data arrives after the visitor has already opened an event.
    const late = async (route) => {
      await new Promise((done) => setTimeout(done, 800));
      await route.continue().catch(() => {});
    };
    await c.route("**/event", late);
    await c.goto(`${BASE}/#/`);
    await c.goto(`${BASE}/#/event/${SESSION.event}`);
    await c.locator(".session-row").first().waitFor();
    await c.waitForTimeout(1500);
    await c.unroute("**/event", late);
    if ((await c.locator(".session-row").count()) === 0) {
      throw new Error("the late event list replaced the event page");
    }
  });
  await step("C queues behind B: 2 people ahead, about 20 minutes", async () => {
    await signUp(c, "c");
    await c.goto(`${BASE}/#/event/${SESSION.event}`);
    await c.locator(".session-row button").first().click();
    await c.waitForURL(/#\/wait$/);
    await expectText(c.locator("#wait-people"), "2");
    await expectText(c.locator("#wait-time"), /^(19|20):\d\d$/);
  });
  await step("B watches area 1 from the waiting room (view only)", async () => {
    await b.locator(`#preview button[data-area="${SESSION.area}"]`).click();
    await b.locator(".seat-grid .seat").first().waitFor();
    Object.assign(SEAT, await b.evaluate(() => {
      const free = (r, c) => document.querySelector(`.seat[data-row="${r}"][data-column="${c}"]`)?.dataset.status === "1";
      for (let r = 1; r <= 9; r += 1) for (let c = 1; c < 9; c += 1) if (free(r, c) && free(r, c + 1)) return { row: r, column: c };
      throw new Error("area 1 has no two free seats side by side: restart the server");
    }));
    await expectSeat(b, SEAT, 1, "free");
    const disabled = await seat(b, SEAT).getAttribute("aria-disabled");
    if (disabled !== "true") throw new Error("a queued visitor's map should be view only");
  });

  await step("A opens area 1 and selects a seat", async () => {
    await a.locator(`button[data-area="${SESSION.area}"]`).click();
    await seat(a, SEAT).click();
    await expectSeat(a, SEAT, 4, "selected by you");
    await expectText(a.locator("#picks"), `Your seats: row ${SEAT.row} seat ${SEAT.column}.`);
    await shot(a, "04-A-seat-selected");
  });
  await step("B's map shows the seat taken (blue), live; B's estimate counts down", async () => {
    await expectSeat(b, SEAT, 5, "taken by someone else");
    const first = seconds(await b.locator("#wait-time").textContent());
    await until(async () => seconds(await b.locator("#wait-time").textContent()) < first || "the wait does not count down");
    await shot(b, "05-B-sees-seat-taken");
  });
  await step("A locks the seat and sees the order summary; B sees it locked", async () => {
    await a.getByRole("button", { name: "Lock seats and continue" }).click();
    await a.waitForURL(/#\/order$/);
    await expectText(a.locator("#order-total"), /^NT\$\d+$/);
    await expectSeat(b, SEAT, 2, "locked");
    await shot(a, "06-A-order-summary");
  });
  await step("A places the order and reaches the success page", async () => {
    await a.getByRole("button", { name: "Place order" }).click();
    await a.waitForURL(/#\/success$/);
    await expectText(a.locator("h1"), "Your tickets are booked");
    await shot(a, "07-A-success");
  });
  await step("B is admitted automatically when A leaves", async () => {
    await b.waitForURL(/#\/select$/, { timeout: STEP_MS });
    await expectText(b.locator("#timer-value"), /^(10:00|09:[0-5]\d)$/);
  });
  await step("C moves up: 1 person ahead, the estimate restarts at about 10 minutes", async () => {
    await expectText(c.locator("#wait-people"), "1");
    await expectText(c.locator("#wait-time"), /^(10:0\d|10:1[0-2]|09:[5]\d)$/);
    await shot(c, "11-C-moved-up-1-ahead");
  });
  await step("B sees A's seat as sold and cannot take it", async () => {
    await expectSeat(b, SEAT, 3, "sold");
    if ((await seat(b, SEAT).getAttribute("aria-disabled")) !== "true") throw new Error("a sold seat can be pressed");
    await seat(b, SEAT).click({ force: true });
    await b.waitForTimeout(500);
    await expectSeat(b, SEAT, 3, "sold");
    await expectText(b.locator("#picks"), "Pick up to 4 seats.");
    // The server agrees: B cannot lock the seat either (it was never B's to lock).
    const refused = await b.evaluate(async (s) => {
      const res = await fetch("/seat/lock", {
        method: "POST",
        headers: { Authorization: `Bearer ${localStorage.getItem("jwt")}`, "Content-Type": "application/json" },
        body: JSON.stringify({ sessionId: s.session, areaId: s.area, tickets: [{ row: s.row, column: s.column }] }),
      });
      return { status: res.status, body: await res.json() };
    }, { ...SESSION, ...SEAT });
    if (refused.status !== 400 || !/is not selected by User ID/.test(refused.body.error ?? "")) {
      throw new Error(`POST /seat/lock for the sold seat answered ${JSON.stringify(refused)}`);
    }
    await noSideways(b);
    await shot(b, "08-B-admitted-seat-sold");
  });
  await step("B picks the free seat next to it with the keyboard", async () => {
    const next = { row: SEAT.row, column: SEAT.column + 1 };
    await seat(b, SEAT).focus();
    await b.keyboard.press("ArrowRight");
    await b.keyboard.press("Enter");
    await expectSeat(b, next, 4, "selected by you");
    const focused = await b.evaluate(() => document.activeElement?.getAttribute("aria-label"));
    if (focused !== `Row ${next.row}, seat ${next.column}, selected by you`) throw new Error(`focus is on ${focused}`);
    await shot(b, "09-B-picks-another-seat");
  });
  await step("A's profile lists the order", async () => {
    await a.getByRole("link", { name: "See your orders" }).click();
    await a.waitForURL(/#\/profile$/);
    await expectText(a.locator(".order td").nth(1), String(SEAT.row));
    await expectText(a.locator(".order td").nth(2), String(SEAT.column));
    await shot(a, "10-A-profile");
  });
  await step("A buying again is asked to confirm, with the server's words", async () => {
    await a.goto(`${BASE}/#/event/${SESSION.event}`);
    await a.locator(".session-row button").first().click();
    const question = a.locator("dialog[open]");
    await expectText(question.locator("p"), /此帳號已購買1張，確定要用此帳號繼續購買嗎？$/);
    await shot(a, "12-A-buy-again-warning");
    await question.getByRole("button", { name: "Cancel" }).click();
    if (!/#\/event\//.test(a.url())) throw new Error(`Cancel left the event page: ${a.url()}`);
  });
}

// ------------------------------------------------------------------------------ helpers

async function open(label, viewport, extra = {}) {
  const context = await browser.newContext({ viewport, locale: "en-US", timezoneId: "Asia/Taipei", ...extra });
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${label}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") console.log(`  [${label} console] ${m.text()}`);
  });
  pages[label] = page;
  return page;
}

/** "mm:ss" as seconds. */
function seconds(text) {
  const [m, s] = String(text).trim().split(":").map(Number);
  return m * 60 + s;
}

let emailSeq = 0;
function email(who) {
  emailSeq += 1;
  return `e2e-${who}-${Date.now()}-${process.pid}-${emailSeq}@test.com`;
}

async function fill(page, values) {
  for (const [name, value] of Object.entries(values)) await page.locator(`input[name="${name}"]`).fill(value);
}

const seat = (page, { row, column }) => page.locator(`.seat-grid button[data-row="${row}"][data-column="${column}"]`);

async function expectSeat(page, position, status, word) {
  const label = `Row ${position.row}, seat ${position.column}, ${word}`;
  await expectAttr(seat(page, position), "data-status", String(status));
  await expectAttr(seat(page, position), "aria-label", label);
}

/** Waits until `locator`'s text equals (string) or matches (RegExp) `want`. */
async function expectText(locator, want) {
  await until(async () => {
    const text = (await locator.first().textContent())?.trim();
    const ok = want instanceof RegExp ? want.test(text ?? "") : text === want;
    return ok || `text is ${JSON.stringify(text)}, expected ${want}`;
  });
}

async function expectAttr(locator, name, want) {
  await until(async () => {
    const value = await locator.first().getAttribute(name);
    return value === want || `${name} is ${JSON.stringify(value)}, expected ${JSON.stringify(want)}`;
  });
}

/** Polls `check` (true, or a string saying what is wrong) until true or STEP_MS passed. */
async function until(check) {
  const deadline = Date.now() + STEP_MS;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await check();
      if (r === true) return;
      last = r;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(last);
}

/** A 390 px page must not scroll sideways. */
async function noSideways(page) {
  // Compared with the configured width: a mobile layout viewport grows to fit wide content.
  const width = page.viewportSize().width;
  const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
  if (scroll > width) throw new Error(`the page is ${scroll}px wide in a ${width}px window`);
}

async function waitImages(page) {
  await page.waitForFunction(() => [...document.images].every((img) => img.complete));
}

async function shot(page, name) {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

/** One named check; an open dialog before or after it is a failure with its text. */
async function step(name, fn) {
  for (const page of Object.values(pages)) await noDialog(page, `before "${name}"`);
  try {
    await fn();
    for (const page of Object.values(pages)) await noDialog(page, "after it");
  } catch (e) {
    console.log(`not ok ${passed + 1} - ${name}\n  ${e.message.split("\n").join("\n  ")}`);
    for (const [label, page] of Object.entries(pages)) {
      await page.screenshot({ path: join(OUT, `failure-${label}.png`), fullPage: true }).catch(() => {});
    }
    throw Object.assign(new Error(`step failed: ${name}`), { reported: true });
  }
  passed += 1;
  console.log(`ok ${passed} - ${name}`);
}

async function noDialog(page, when) {
  const open = page.locator("dialog[open]");
  if (await open.count()) throw new Error(`unexpected message ${when}: ${(await open.innerText()).replace(/\s+/g, " ")}`);
}

const timer = setTimeout(() => {
  console.log(`FAILED: no result within ${TIMEOUT_S} s (global timeout)`);
  browser?.close().finally(() => process.exit(1));
  setTimeout(() => process.exit(1), 5000).unref();
}, TIMEOUT_S * 1000);

main().then(
  async () => {
    clearTimeout(timer);
    await browser.close();
    console.log(`${passed} passed, 0 failed`);
    console.log(`PASSED: screenshots in ${OUT}`);
  },
  async (e) => {
    clearTimeout(timer);
    if (!e.reported) console.log(`error: ${e.stack ?? e}`);
    await browser?.close().catch(() => {});
    console.log(`${passed} passed, 1 failed`);
    console.log(`FAILED: ${e.message}`);
    process.exitCode = 1;
  },
);
