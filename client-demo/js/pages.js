// The pages outside the purchase: event list, event detail (where a purchase starts), sign in,
// sign up and the profile with past orders. Each page function fills `main` and may return a
// cleanup function for the router.

import { clearToken, get, post, setToken, token } from "./api.js";
import * as purchase from "./session.js";
import { alertError, dialog, h, render, when, withBreaks } from "./ui.js";

const AFTER_LOGIN = "afterLogin";

/** Shows a failed load inside the page, with a way to try again. */
function failed(main, message, retry) {
  render(main, h("section", { class: "panel" },
    h("h1", {}, "This page could not be loaded"),
    h("p", { role: "alert", class: "form-error" }, message),
    h("button", { type: "button", class: "btn btn-primary", onclick: retry }, "Try again")));
}

function loading(main, what) {
  main.replaceChildren(h("p", { class: "muted", role: "status" }, `Loading ${what}…`));
}

export async function eventList(main) {
  loading(main, "events");
  let events;
  try {
    events = await get("/event");
  } catch (e) {
    return failed(main, e.message, () => eventList(main));
  }
  render(main,
    h("h1", {}, "Concerts on sale"),
    events.length === 0 ? h("p", {}, "No events yet.") : null,
    h("ul", { class: "cards" }, events.map((ev) =>
      h("li", {}, h("a", { class: "card", href: `#/event/${ev.id}` },
        h("img", { src: ev.picture, alt: "", loading: "lazy", width: 308, height: 520 }),
        h("span", { class: "card-title" }, ev.singer))))));
}

/** The buy button of one session: disabled before the sale and after the show, as the original. */
function sessionButton(event, s) {
  const now = Date.now();
  if (event.onSale && new Date(event.onSale).getTime() > now) {
    return h("button", { type: "button", class: "btn", disabled: true }, "尚未開賣");
  }
  if (new Date(s.time).getTime() <= now) {
    return h("button", { type: "button", class: "btn", disabled: true }, "活動結束");
  }
  const info = { id: s.session_id, title: event.title, time: s.time, venue: s.venue };
  return h("button", {
    type: "button", class: "btn btn-primary", "aria-label": `Buy tickets for ${when(s.time)}`,
    onclick: (e) => buy(info, e.currentTarget),
  }, "Buy tickets");
}

export async function eventDetail(main, id) {
  loading(main, "the event");
  let event;
  try {
    event = await get(`/event/${encodeURIComponent(id)}`);
  } catch (e) {
    return failed(main, e.message, () => eventDetail(main, id));
  }
  render(main,
    h("p", {}, h("a", { href: "#/" }, "← All events")),
    h("article", { class: "event" },
      h("img", { class: "event-picture", src: event.detailPicture, alt: "", width: 308, height: 520 }),
      h("h1", {}, event.title),
      h("p", { class: "muted" }, event.singer),
      h("p", {}, withBreaks(event.description)),
      h("h2", {}, "Sessions"),
      h("ul", { class: "sessions" }, event.sessions.map((s) =>
        h("li", { class: "session-row" },
          h("div", {}, h("strong", {}, when(s.time)), h("br"), `${s.venue}, ${s.city}`),
          sessionButton(event, s))))));
}

/**
 * POST /session/validation, then open the connection. A `warning` (tickets bought before) is a
 * question, as in the original: continuing skips a second validation.
 */
async function buy(info, button) {
  button.disabled = true;
  try {
    await post("/session/validation", { sessionId: info.id });
  } catch (e) {
    button.disabled = false;
    if (e.warning) {
      const go = await dialog({
        title: "Ticket limit", message: e.message,
        buttons: [{ label: "繼續購票 Continue", value: true }, { label: "Cancel", value: false }],
      });
      if (!go) return;
    } else if (e.isAuth) {
      clearToken();
      sessionStorage.setItem(AFTER_LOGIN, location.hash);
      await dialog({ title: "Please sign in", message: `${e.message} Sign in or create an account to buy tickets.` });
      location.hash = "#/login";
      return;
    } else {
      return alertError(e.message, "Cannot buy tickets now");
    }
  }
  button.textContent = "Joining…";
  purchase.start(info);
}

/** A labelled form field. */
function field(label, attrs) {
  const id = `f-${attrs.name}`;
  return h("p", { class: "field" }, h("label", { for: id }, label), h("input", { id, ...attrs }));
}

function authForm(main, { title, fields, submit, path, other }) {
  const error = h("p", { class: "form-error", role: "alert", id: "form-error" });
  const button = h("button", { type: "submit", class: "btn btn-primary" }, submit);
  const form = h("form", { class: "panel", novalidate: true }, h("h1", {}, title), fields, error, button, other);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    button.disabled = true;
    const body = Object.fromEntries(new FormData(form));
    try {
      const reply = await post(path, body);
      setToken(reply.data.access_token);
      const back = sessionStorage.getItem(AFTER_LOGIN);
      sessionStorage.removeItem(AFTER_LOGIN);
      location.hash = back || "#/";
    } catch (err) {
      error.textContent = err.message;
      button.disabled = false;
    }
  });
  render(main, form);
}

export function login(main) {
  authForm(main, {
    title: "Sign in", submit: "Sign in", path: "/user/signin",
    fields: [
      field("Email", { name: "email", type: "email", autocomplete: "username", required: true }),
      field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    ],
    other: h("p", { class: "muted" }, "No account yet? ", h("a", { href: "#/signup" }, "Sign up"),
      ". Demo account: demo@test.com / demodemo."),
  });
}

export function signup(main) {
  authForm(main, {
    title: "Create an account", submit: "Sign up", path: "/user/signup",
    fields: [
      field("Name", { name: "name", autocomplete: "name", required: true }),
      field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
      field("Password (at least 6 characters)", {
        name: "password", type: "password", autocomplete: "new-password", required: true,
      }),
    ],
    other: h("p", { class: "muted" }, "Already have an account? ", h("a", { href: "#/login" }, "Sign in")),
  });
}

function orderCard(order) {
  return h("li", { class: "panel order" },
    h("h3", {}, order.title),
    h("p", {}, `${when(order.time)} · ${order.venue}`),
    h("table", {},
      h("caption", { class: "muted" }, `Order #${order.orderId}, placed ${when(order.createdAt)}`),
      h("thead", {}, h("tr", {}, ["Area", "Row", "Seat", "Price"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, order.tickets.map((t) =>
        h("tr", {}, h("td", {}, t.area), h("td", {}, t.row), h("td", {}, t.column), h("td", {}, `NT$${t.price}`)))),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row", colspan: 3 }, "Total"), h("td", {}, `NT$${order.total}`)))));
}

export async function profile(main) {
  if (!token()) {
    sessionStorage.setItem(AFTER_LOGIN, "#/profile");
    location.hash = "#/login";
    return;
  }
  loading(main, "your profile");
  let me;
  try {
    me = await get("/user/profile");
  } catch (e) {
    if (e.isAuth) {
      clearToken();
      sessionStorage.setItem(AFTER_LOGIN, "#/profile");
      location.hash = "#/login";
      return alertError(`${e.message} Please sign in again.`, "Signed out");
    }
    return failed(main, e.message, () => profile(main));
  }
  render(main,
    h("h1", {}, "Your profile"),
    h("p", {}, h("strong", {}, me.name), ` · ${me.email}`),
    h("button", {
      type: "button", class: "btn", onclick: () => {
        clearToken();
        location.hash = "#/";
      },
    }, "Sign out"),
    h("h2", {}, "Your orders"),
    me.tickets.length === 0 ? h("p", { class: "muted" }, "No orders yet.") : null,
    h("ul", { class: "orders" }, me.tickets.map(orderCard)));
}
