// DOM helpers shared by every page: an element builder, the message dialog, the banner under
// the header, and time formatting. Pages build their DOM with h() (never innerHTML) so text from
// the server can never turn into markup.

/** Creates an element: h("a", {href: "#/"}, "text", child). `on*` keys add listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces the content of `el` and moves focus to its first heading for screen readers. */
export function render(el, ...children) {
  el.replaceChildren(...children.flat().filter(Boolean));
  const heading = el.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

/** Seconds as mm:ss (negative counts as zero). */
export function mmss(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/** An ISO time in the visitor's local time, e.g. "Sat, 14 Mar 2026, 11:00". */
export function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, {
    weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

/** Text with the server's `<br/>` line breaks turned into real ones (and nothing else). */
export function withBreaks(text) {
  const parts = String(text ?? "").split(/<br\s*\/?>/i);
  return parts.flatMap((part, i) => (i === 0 ? [part] : [h("br"), part]));
}

const banner = () => document.getElementById("banner");

/** A message under the header that stays until the next page change (kind: info | error). */
export function showBanner(text, kind = "info") {
  const el = banner();
  el.className = `banner banner-${kind}`;
  el.textContent = text;
  el.hidden = false;
}

export function clearBanner() {
  banner().hidden = true;
  banner().textContent = "";
}

/**
 * Shows the modal dialog and resolves with the value of the button pressed (Escape resolves
 * with the last button's value, which is always the safe choice). Dialogs queue: a second one
 * waits until the first is closed, so no message is ever lost.
 */
let queue = Promise.resolve();
export function dialog({ title, message, buttons = [{ label: "OK", value: true }] }) {
  const shown = queue.then(() => openDialog(title, message, buttons));
  queue = shown.catch(() => {});
  return shown;
}

function openDialog(title, message, buttons) {
  const el = document.getElementById("modal");
  const safe = buttons[buttons.length - 1].value;
  return new Promise((resolve) => {
    const close = (value) => {
      el.close();
      resolve(value);
    };
    const buttonEls = buttons.map((b, i) =>
      h("button", { type: "button", class: i === 0 ? "btn btn-primary" : "btn", onclick: () => close(b.value) }, b.label));
    el.replaceChildren(
      h("h2", { id: "modal-title" }, title),
      h("p", { id: "modal-message" }, message),
      h("div", { class: "modal-actions" }, buttonEls),
    );
    el.oncancel = (event) => {
      event.preventDefault();
      close(safe);
    };
    el.showModal();
    buttonEls[0].focus();
  });
}

/** Shows an error in the dialog; resolves when the visitor has read it. */
export function alertError(message, title = "Something went wrong") {
  return dialog({ title, message });
}
