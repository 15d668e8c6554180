// The seat map of one area: a grid of seat statuses (`grid[rowIndex][columnIndex]`, as the
// server's POST /seat rows) and its buttons. Live events change single seats in place, so the
// keyboard focus stays where it is while other buyers act.

import { h } from "./ui.js";

/** Seat status ids of the protocol; MINE exists only in the browser. */
export const SEAT = Object.freeze({ EMPTY: 1, LOCKED: 2, SOLD: 3, MINE: 4, TAKEN: 5 });

/** Legend order, words for labels, and the original's colours (also in style.css). */
export const STATUS = {
  [SEAT.EMPTY]: { word: "free", colour: "#ffffff" },
  [SEAT.LOCKED]: { word: "locked", colour: "#F93131" },
  [SEAT.SOLD]: { word: "sold", colour: "#292929" },
  [SEAT.MINE]: { word: "selected by you", colour: "#FFF500" },
  [SEAT.TAKEN]: { word: "taken by someone else", colour: "#3453F2" },
};

export class SeatMap {
  /** `rows` is the POST /seat answer: rows of {column, row, status_id}. */
  constructor(area, rows) {
    this.area = area; // {id, name, price}
    this.grid = rows.map((row) => row.map((cell) => cell.status_id));
    this.pending = new Set(); // "r,c" of seats whose select is on its way
    this.buttons = null;
    this.onSeat = null;
    this.focus = [0, 0]; // the seat that takes Tab (roving tabindex)
  }

  has(r, c) {
    return Number.isInteger(r) && Number.isInteger(c) && r >= 0 && c >= 0 && r < this.grid.length && c < this.grid[r].length;
  }

  status(r, c) {
    return this.has(r, c) ? this.grid[r][c] : undefined;
  }

  /** Sets one seat's status (ignores positions outside this area) and updates its button. */
  set(r, c, status) {
    if (!this.has(r, c)) return;
    this.grid[r][c] = status;
    this.pending.delete(`${r},${c}`);
    this.#paint(r, c);
  }

  setPending(r, c, pending) {
    if (pending) this.pending.add(`${r},${c}`);
    else this.pending.delete(`${r},${c}`);
    this.#paint(r, c);
  }

  /** The seats this browser holds, as {row, column} (1-based). */
  mine() {
    const out = [];
    this.grid.forEach((row, r) => row.forEach((s, c) => s === SEAT.MINE && out.push({ row: r + 1, column: c + 1 })));
    return out;
  }

  /**
   * Builds the grid. `onSeat(r, c, status)` runs when an actionable seat is pressed; without it
   * the map is a view-only preview. Seats that cannot be pressed stay focusable (aria-disabled)
   * so their status can still be read.
   */
  element({ onSeat } = {}) {
    this.onSeat = onSeat ?? null;
    this.buttons = this.grid.map((row, r) => row.map((_, c) => this.#button(r, c)));
    const header = h("div", { class: "seat-row seat-head", "aria-hidden": "true" }, h("span"),
      this.grid[0]?.map((_, c) => h("span", { class: "seat-num" }, c + 1)));
    const rows = this.buttons.map((buttons, r) =>
      h("div", { class: "seat-row", role: "group", "aria-label": `Row ${r + 1}` },
        h("span", { class: "seat-num", "aria-hidden": "true" }, r + 1), buttons));
    const grid = h("div", {
      class: `seat-grid${onSeat ? "" : " seat-grid-preview"}`, role: "group",
      "aria-label": `Seats in ${this.area.name}${onSeat ? "" : " (view only)"}`, onkeydown: (e) => this.#arrows(e),
    }, h("div", { class: "stage", "aria-hidden": "true" }, "STAGE"), header, rows);
    return grid;
  }

  #button(r, c) {
    const button = h("button", { type: "button", class: "seat", "data-row": r + 1, "data-column": c + 1 });
    button.addEventListener("click", () => {
      if (button.getAttribute("aria-disabled") === "true" || !this.onSeat) return;
      this.onSeat(r, c, this.grid[r][c]);
    });
    // Whichever seat got focus (Tab, click, arrows) is where Tab returns to.
    button.addEventListener("focus", () => this.#moveFocus(r, c));
    this.#paint(r, c, button);
    return button;
  }

  #actionable(r, c) {
    const s = this.grid[r][c];
    return Boolean(this.onSeat) && !this.pending.has(`${r},${c}`) && (s === SEAT.EMPTY || s === SEAT.MINE);
  }

  #paint(r, c, button = this.buttons?.[r]?.[c]) {
    if (!button) return;
    const s = this.grid[r][c];
    button.className = `seat seat-${s}${this.pending.has(`${r},${c}`) ? " seat-pending" : ""}`;
    button.dataset.status = String(s);
    button.setAttribute("aria-label", `Row ${r + 1}, seat ${c + 1}, ${STATUS[s]?.word ?? "unknown"}`);
    button.setAttribute("aria-disabled", String(!this.#actionable(r, c)));
    const [fr, fc] = this.focus;
    button.tabIndex = fr === r && fc === c ? 0 : -1;
  }

  /** Arrow keys move between seats; Home/End jump within a row. */
  #arrows(e) {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    let [r, c] = this.focus;
    if (moves[e.key]) {
      r += moves[e.key][0];
      c += moves[e.key][1];
    } else if (e.key === "Home") c = 0;
    else if (e.key === "End") c = this.grid[r].length - 1;
    else return;
    e.preventDefault();
    if (this.has(r, c)) this.buttons[r][c].focus();
  }

  #moveFocus(r, c) {
    const [or, oc] = this.focus;
    this.focus = [r, c];
    this.#paint(or, oc);
    this.#paint(r, c);
  }
}

/** The five colours with their words, for under the map. */
export function legend() {
  return h("ul", { class: "legend", "aria-label": "Seat colours" },
    Object.values(STATUS).map(({ word, colour }) =>
      h("li", {}, h("span", { class: "swatch", style: `background:${colour}` }), word)));
}
