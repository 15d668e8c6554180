// One purchase attempt: the Socket.IO connection, the place in the waiting room, the 10-minute
// window and the open seat map. The connection *is* the place (the server frees both on
// disconnect), so there is one socket per attempt, without automatic reconnection, and every
// way out of the attempt goes through end().

import { clearToken, token } from "./api.js";
import { SEAT } from "./seatmap.js";
import { dialog } from "./ui.js";

/** The original's purchase window; the server ends the visit a little later. */
export const WINDOW_SECONDS = 600;

const listeners = new Set();

/** The attempt in progress, or null. Views read it and re-render on change(). */
export let current = null;

/** Registers a callback for any change of the attempt; returns the unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed(what) {
  for (const fn of [...listeners]) fn(what);
}

/** Opens the connection for `session` ({id, title, time, venue}) and asks for a place. */
export function start(session) {
  if (current) end(null);
  const socket = window.io({ auth: { token: `Bearer ${token()}` }, reconnection: false });
  const attempt = {
    session, socket, place: "connecting", wait: null, deadline: null, map: null, order: null,
    // One clock for both countdowns; views redraw on "tick".
    ticker: setInterval(() => tick(attempt), 1000),
  };
  current = attempt;
  const mine = (fn) => (...args) => current === attempt && fn(...args);

  socket.on("connect", mine(() => socket.emit("check limit", session.id)));
  socket.on("check limit", mine(onCheckLimit));
  socket.on("ready to go", mine(admit));
  socket.on("minus waiting people", mine(onMinusWaiting));
  socket.on("window expired", mine(() => end("expired")));
  socket.on("connect_error", mine((err) => end("connect_error", err?.message)));
  socket.on("disconnect", mine((reason) => end("lost", reason)));
  for (const [event, fn] of Object.entries(seatEvents)) socket.on(event, mine(fn));
  changed("start");
}

function onCheckLimit(reply) {
  if (typeof reply?.error === "string") return end("refused", reply.error);
  if (reply?.pass) return admit();
  const seconds = Number(reply?.seconds) || 0;
  current.place = "waiting";
  current.wait = { people: Number(reply?.waitPeople) || 0, seconds, total: Math.max(seconds, 1), since: Date.now() };
  changed("waiting");
}

function onMinusWaiting(data) {
  const wait = current.wait;
  if (!wait) return;
  // The server sends one notice per person who left ahead of us, so one notice is one person.
  wait.people = Math.max(0, wait.people - 1);
  wait.seconds = Number(data?.seconds) || 0;
  wait.total = Math.max(wait.total, wait.seconds, 1);
  wait.since = Date.now();
  changed("waiting");
}

/** On the buying page: the window starts now. The preview map, if any, stays open. */
function admit() {
  current.place = "page";
  current.wait = null;
  current.deadline = Date.now() + WINDOW_SECONDS * 1000;
  changed("admitted");
}

function tick(attempt) {
  if (current !== attempt) return;
  if (attempt.place === "page" && secondsLeft() <= 0) return end("timeout");
  changed("tick");
}

/** Seconds left before the estimated admission (wait) or the end of the window (page). */
export function secondsLeft() {
  if (!current) return 0;
  if (current.place === "waiting" && current.wait) {
    return current.wait.seconds - (Date.now() - current.wait.since) / 1000;
  }
  if (current.deadline) return (current.deadline - Date.now()) / 1000;
  return 0;
}

/** The live seat updates of the area this socket watches (contract §2 payload shapes). */
const at = (cell) => [Number(cell?.rowIndex), Number(cell?.columnIndex)];
const byPosition = (cell) => [Number(cell?.row) - 1, Number(cell?.column) - 1];
const seatEvents = {
  "self select seat": (data) => {
    const map = current.map;
    if (typeof data?.error === "string") {
      if (map) map.setPending(...at(data), false);
      changed("seats");
      return dialog({ title: "Seat not selected", message: data.error });
    }
    if (map) map.set(...at(data), SEAT.MINE);
    changed("seats");
  },
  "other select seat": (data) => paint([data], at, SEAT.TAKEN),
  "lock seat": (data) => paint(Array.isArray(data) ? data : [], at, SEAT.LOCKED),
  "sold seat": (data) => paint(Array.isArray(data) ? data : [], at, SEAT.SOLD),
  "unselect seat": (data) => {
    if (typeof data?.error === "string") return dialog({ title: "Seat not released", message: data.error });
    paint(data?.tickets ?? [], byPosition, SEAT.EMPTY);
  },
  "unlock seat": (data) => {
    if (typeof data?.error === "string") return dialog({ title: "Seats not released", message: data.error });
    paint(data?.tickets ?? [], byPosition, SEAT.EMPTY);
  },
};

function paint(cells, position, status) {
  if (!Array.isArray(cells)) return;
  // While a map loads, its updates wait here and are applied once it is in place.
  if (current.pendingUpdates) return current.pendingUpdates.push([cells, position, status]);
  if (!current.map) return;
  for (const cell of cells) current.map.set(...position(cell), status);
  changed("seats");
}

/**
 * Watches another area: join its room first, then load the map, so no change made in between is
 * missed (changes that arrive while it loads are replayed on top of it).
 */
export async function openArea(area, load) {
  const attempt = current;
  attempt.socket.emit("join room", { sessionId: attempt.session.id, areaId: area.id });
  attempt.map = null;
  attempt.pendingUpdates = [];
  try {
    const map = await load();
    if (current !== attempt) return;
    const updates = attempt.pendingUpdates;
    attempt.pendingUpdates = null;
    attempt.map = map;
    for (const [cells, position, status] of updates) for (const cell of cells) map.set(...position(cell), status);
  } finally {
    if (current === attempt) attempt.pendingUpdates = null;
  }
  changed("seats");
}

/** Stops showing a map (the socket stays in the room until it opens another area). */
export function closeArea() {
  if (!current) return;
  current.map = null;
  changed("seats");
}

const MESSAGES = {
  expired: ["Your time is up",
    "The server ended your buying window, so your place and any seats you were holding have been " +
    "released. You can queue again from the event page."],
  timeout: ["Your time is up",
    "Your 10 minutes to buy have run out, so your place and any seats you held were released. " +
    "You can queue again from the event page."],
  lost: ["Connection lost",
    "The connection to the ticket server was lost, so your place and any seats you held were released. " +
    "Please try again from the event page."],
  connect_error: ["Could not connect", "伺服器錯誤，請稍後再試！ The connection to the ticket server failed"],
  refused: ["Cannot enter", ""],
};

/**
 * Ends the attempt: closes the socket (the server frees the place and the seats), forgets the
 * state, tells the visitor why (reason null: quietly) and goes back to the start.
 */
export function end(reason, detail) {
  const attempt = current;
  if (!attempt) return;
  current = null;
  clearInterval(attempt.ticker);
  attempt.socket.off();
  attempt.socket.disconnect();
  changed("end");
  if (!reason) return;
  let [title, message] = MESSAGES[reason] ?? MESSAGES.lost;
  if (reason === "refused") message = detail;
  if (reason === "connect_error") {
    message += detail ? ` (${detail}).` : ".";
    // 登入錯誤！ is the server's answer to a bad or expired token: a fresh sign-in fixes it.
    if (detail === "登入錯誤！") {
      clearToken();
      message += " Please sign in again.";
    }
  }
  if (reason === "lost" && detail) message += ` (${detail})`;
  location.hash = token() ? "#/" : "#/login";
  dialog({ title, message });
}

/** The order went through: close the connection (this frees the place for the next person). */
export function finish() {
  const attempt = current;
  if (!attempt) return null;
  current = null;
  clearInterval(attempt.ticker);
  attempt.socket.off();
  attempt.socket.disconnect();
  changed("finish");
  return attempt;
}
