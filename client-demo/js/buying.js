// The purchase pages: waiting room, area list and seat map, order summary and success. They
// read the attempt in session.js and redraw on its changes; the socket messages follow the
// original frontend (contract §2), so this page and the original can buy side by side.

import { get, post } from "./api.js";
import * as purchase from "./session.js";
import { SEAT, SeatMap, legend } from "./seatmap.js";
import { alertError, h, mmss, render, when } from "./ui.js";

/** Price groups get the original's colours, cheapest first. */
const GROUP_COLOURS = ["#FFF500", "#FF7A00", "#F93131"];

/** The last order placed, for the success page (the attempt is gone by then). */
let lastOrder = null;

function sessionLine(session) {
  return h("p", { class: "muted" }, `${session.title} · ${when(session.time)} · ${session.venue}`);
}

/** The area list of the session: buttons by price group; sold-out areas cannot be pressed. */
async function areaList(sessionId, onPick) {
  const box = h("div", { class: "areas" }, h("p", { class: "muted", role: "status" }, "Loading areas…"));
  try {
    const byPrice = await get(`/area/${sessionId}`);
    const picture = byPrice.seatPicture;
    delete byPrice.seatPicture;
    const prices = Object.keys(byPrice).sort((a, b) => Number(a) - Number(b));
    box.replaceChildren(
      picture ? h("img", { class: "venue-plan", src: picture, alt: "Venue plan with the areas", width: 524, height: 720 }) : null,
      ...prices.map((price, i) => h("section", { class: "price-group" },
        h("h3", {}, h("span", { class: "swatch", style: `background:${GROUP_COLOURS[i % 3]}` }), `NT$${price}`),
        h("ul", { class: "area-list" }, byPrice[price].map((area) => h("li", {},
          h("button", {
            type: "button", class: "btn area", disabled: area.seats === 0, "data-area": area.id,
            onclick: () => onPick({ id: area.id, name: area.area, price: Number(price) }),
          }, h("span", {}, area.area), h("span", { class: "muted" }, area.seats === 0 ? "sold out" : `${area.seats} free`))))))));
  } catch (e) {
    box.replaceChildren(h("p", { class: "form-error", role: "alert" }, e.message));
  }
  return box;
}

/** Opens `area` in the attempt; errors from the server are shown, not swallowed. */
async function showArea(area) {
  try {
    await purchase.openArea(area, async () => {
      const map = new SeatMap(area, await post("/seat", { sessionId: purchase.current.session.id, areaId: area.id }));
      map.fromQueue = purchase.current?.place === "waiting";
      return map;
    });
  } catch (e) {
    alertError(e.message, "The seat map could not be loaded");
  }
}

// ------------------------------------------------------------------------- waiting room

export function wait(main) {
  const attempt = purchase.current;
  const people = h("strong", { id: "wait-people" });
  const time = h("strong", { id: "wait-time" });
  const bar = h("progress", { id: "wait-progress", max: 100, value: 0, "aria-label": "Progress towards your turn" });
  const note = h("p", { class: "muted" });
  const preview = h("div", { id: "preview" });
  const update = () => {
    const w = purchase.current?.wait;
    if (!w) return;
    const left = purchase.secondsLeft();
    people.textContent = String(w.people);
    time.textContent = mmss(left);
    bar.value = Math.round(100 * Math.min(1, Math.max(0, 1 - left / w.total)));
    note.textContent = left <= 0 ? "Any moment now…" : "";
  };
  let shownMap;
  const drawPreview = async () => {
    const map = purchase.current?.map ?? null;
    shownMap = map;
    if (map) {
      preview.replaceChildren(h("h3", {}, `${map.area.name} · NT$${map.area.price}`), map.element(), legend(),
        h("button", { type: "button", class: "btn", onclick: () => purchase.closeArea() }, "Other areas"));
      return;
    }
    const list = await areaList(attempt.session.id, showArea);
    if (shownMap === null && !purchase.current?.map) preview.replaceChildren(list);
  };
  render(main,
    h("section", { class: "panel", "aria-live": "polite" },
      h("h1", {}, "You are in the queue"),
      sessionLine(attempt.session),
      h("p", { class: "big" }, "People ahead of you: ", people),
      h("p", {}, "Estimated wait: ", time),
      bar, note,
      h("p", {}, "Keep this page open: seat selection opens by itself when it is your turn. " +
        "Leaving this page gives up your place."),
      h("a", { class: "btn", href: "#/" }, "Leave the queue")),
    h("section", { class: "panel" },
      h("h2", {}, "While you wait: live seat map"),
      h("p", { class: "muted" }, "View only. Seats change colour as other buyers choose them."),
      preview));
  update();
  drawPreview();
  return purchase.subscribe((what) => {
    if (what !== "seats") update();
    else if ((purchase.current?.map ?? null) !== shownMap) drawPreview();
  });
}

// ---------------------------------------------------------------------------- seat step

export function select(main) {
  const attempt = purchase.current;
  const body = h("div");
  let shownMap;
  const redraw = async () => {
    const map = purchase.current?.map ?? null;
    shownMap = map;
    if (map) {
      body.replaceChildren(seatStep(map));
      return;
    }
    const list = await areaList(attempt.session.id, showArea);
    if (shownMap === null && !purchase.current?.map) body.replaceChildren(h("h2", {}, "Choose an area"), list);
  };
  render(main, h("section", { class: "panel" },
    h("h1", {}, "Choose your seats"), sessionLine(attempt.session), body));
  // A map opened in the waiting room is loaded afresh now that the visitor can act on it.
  if (attempt.map?.fromQueue) showArea(attempt.map.area);
  else redraw();
  return purchase.subscribe((what) => {
    if (what !== "seats") return;
    const map = purchase.current?.map ?? null;
    if (map !== shownMap) redraw();
    else if (map) refreshPicks(body, map);
  });
}

function seatStep(map) {
  const lock = h("button", { type: "button", class: "btn btn-primary", id: "lock-seats", onclick: () => lockSeats(map, lock) },
    "Lock seats and continue");
  const picks = h("p", { id: "picks", "aria-live": "polite" });
  const box = h("div", {},
    h("h2", {}, `${map.area.name} · NT$${map.area.price}`),
    map.element({ onSeat: (r, c, status) => pressSeat(map, r, c, status) }),
    legend(), picks,
    h("div", { class: "actions" }, lock,
      h("button", { type: "button", class: "btn", onclick: () => backToAreas(map) }, "Back to areas")));
  refreshPicks(box, map);
  return box;
}

function refreshPicks(box, map) {
  const mine = map.mine();
  const picks = box.querySelector("#picks");
  const lock = box.querySelector("#lock-seats");
  if (picks) {
    picks.textContent = mine.length === 0 ? "Pick up to 4 seats."
      : `Your seats: ${mine.map((s) => `row ${s.row} seat ${s.column}`).join(", ")}.`;
  }
  if (lock) lock.disabled = mine.length === 0;
}

/** Free seat: ask the server (the answer is `self select seat`). Own seat: give it back. */
function pressSeat(map, r, c, status) {
  const { socket, session } = purchase.current;
  const seat = { sessionId: session.id, areaId: map.area.id, row: r + 1, column: c + 1, rowIndex: r, columnIndex: c };
  if (status === SEAT.EMPTY) {
    map.setPending(r, c, true);
    socket.emit("select seat", seat);
  } else if (status === SEAT.MINE) {
    // The server answers an unselect only with an error, so the seat is freed here at once.
    socket.emit("unselect seat", { sessionId: session.id, areaId: map.area.id, tickets: [seat] });
    map.set(r, c, SEAT.EMPTY);
    refreshPicks(document, map);
  }
}

/** The original gave back the current picks when going back to the area list. */
function backToAreas(map) {
  const { socket, session } = purchase.current;
  const tickets = map.mine().map(({ row, column }) => ({ row, column, rowIndex: row - 1, columnIndex: column - 1 }));
  if (tickets.length) socket.emit("unselect seat", { sessionId: session.id, areaId: map.area.id, tickets });
  purchase.closeArea();
}

async function lockSeats(map, button) {
  const attempt = purchase.current;
  const tickets = map.mine().map(({ row, column }) =>
    ({ column, row, status_id: SEAT.MINE, rowIndex: row - 1, columnIndex: column - 1 }));
  button.disabled = true;
  try {
    attempt.order = await post("/seat/lock", { sessionId: attempt.session.id, areaId: map.area.id, tickets });
  } catch (e) {
    button.disabled = false;
    return alertError(e.message, "The seats could not be locked");
  }
  const locked = tickets.map((t) => ({ ...t, status_id: SEAT.LOCKED }));
  attempt.socket.emit("lock seat", locked);
  for (const t of locked) map.set(t.rowIndex, t.columnIndex, SEAT.LOCKED);
  location.hash = "#/order";
}

// ------------------------------------------------------------------------------- order

export function order(main) {
  const attempt = purchase.current;
  const summary = attempt.order;
  if (!summary) {
    location.hash = "#/select";
    return;
  }
  const first = summary.tickets[0] ?? {};
  const place = h("button", { type: "button", class: "btn btn-primary", id: "place-order" }, "Place order");
  const back = h("button", { type: "button", class: "btn" }, "Choose other seats");
  place.addEventListener("click", () => placeOrder(summary, place));
  back.addEventListener("click", () => chooseAgain(summary));
  render(main, h("section", { class: "panel" },
    h("h1", {}, "Check your order"),
    h("p", { class: "muted" }, `${first.title ?? attempt.session.title} · ${when(first.time ?? attempt.session.time)} · ${first.venue ?? attempt.session.venue}`),
    h("table", {},
      h("thead", {}, h("tr", {}, ["Area", "Row", "Seat", "Price"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, summary.tickets.map((t) =>
        h("tr", {}, h("td", {}, t.area), h("td", {}, t.row), h("td", {}, t.column), h("td", {}, `NT$${t.price}`)))),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row", colspan: 3 }, "Total"), h("td", { id: "order-total" }, `NT$${summary.total}`)))),
    h("p", { class: "muted" }, "Payment: pay when you collect your tickets. This demo takes no card details."),
    h("div", { class: "actions" }, place, back)));
}

async function placeOrder(summary, button) {
  const attempt = purchase.current;
  button.disabled = true;
  try {
    await post("/order", { sessionId: summary.sessionId, seatIds: summary.tickets.map((t) => t.seatId) });
  } catch (e) {
    button.disabled = false;
    return alertError(e.message, "The order was not placed");
  }
  attempt.socket.emit("sold seat", summary.tickets.map((t) =>
    ({ columnIndex: t.column - 1, rowIndex: t.row - 1, status_id: SEAT.SOLD })));
  lastOrder = summary;
  location.hash = "#/success";
}

/** Back from the summary: unlock the seats (the server tells the others) and show the map. */
function chooseAgain(summary) {
  const attempt = purchase.current;
  attempt.socket.emit("unlock seat", summary);
  for (const t of summary.tickets) attempt.map?.set(t.row - 1, t.column - 1, SEAT.EMPTY);
  attempt.order = null;
  location.hash = "#/select";
}

// ------------------------------------------------------------------------------ success

export function success(main) {
  // Leaving the buying page frees the place for the next person in the queue.
  purchase.finish();
  const summary = lastOrder;
  render(main, h("section", { class: "panel" },
    h("h1", {}, summary ? "Your tickets are booked" : "No recent order"),
    summary ? h("p", {}, `${summary.tickets.length} ticket(s), total NT$${summary.total}. ` +
      "You can find them in your profile.") : h("p", {}, "Orders you place show up in your profile."),
    h("div", { class: "actions" },
      h("a", { class: "btn btn-primary", href: "#/profile" }, "See your orders"),
      h("a", { class: "btn", href: "#/" }, "Back to events"))));
}
