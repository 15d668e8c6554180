// Entry point: the hash router, the header (account link, purchase countdown) and the rules
// that tie pages to the purchase in progress. Hash routes keep the server simple: it serves
// only `/` and the files under `/demo/`.

import { token } from "./api.js";
import * as buying from "./buying.js";
import * as pages from "./pages.js";
import * as purchase from "./session.js";
import { alertError, clearBanner, mmss, showBanner } from "./ui.js";

/** [pattern, page, step]: `step` marks pages that belong to a purchase in progress. */
const ROUTES = [
  [/^#?\/?$/, pages.eventList],
  [/^#\/event\/([^/]+)$/, pages.eventDetail],
  [/^#\/login$/, pages.login],
  [/^#\/signup$/, pages.signup],
  [/^#\/profile$/, pages.profile],
  [/^#\/wait$/, buying.wait, "waiting"],
  [/^#\/select$/, buying.select, "page"],
  [/^#\/order$/, buying.order, "page"],
  [/^#\/success$/, buying.success],
];

const main = document.getElementById("main");
let cleanup = null;
/** A message for the next page (a redirect would otherwise clear it at once). */
let flash = null;

function route() {
  const hash = location.hash;
  const match = ROUTES.map(([re, page, step]) => [hash.match(re), page, step]).find(([m]) => m);
  if (!match) {
    location.replace("#/");
    return;
  }
  const [params, page, step] = match;
  const attempt = purchase.current;
  if (step) {
    if (!attempt || attempt.place === "connecting") {
      flash = "No purchase is in progress on this page (reloading the page ends one). Choose a session to start.";
      location.replace("#/");
      return;
    }
    // The place decides the step: someone still queued cannot open the seat map, and back.
    if (attempt.place !== step) {
      location.replace(attempt.place === "page" ? "#/select" : "#/wait");
      return;
    }
  } else if (attempt && page !== buying.success) {
    // Like the original, leaving the purchase pages gives up the place (and the held seats).
    purchase.end(null);
    flash = "You left the purchase, so your place in line and any seats you held were released.";
  }
  if (flash) showBanner(flash);
  else clearBanner();
  flash = null;
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  updateHeader();
  // Each visit renders into an element of its own: a page whose data arrives after the
  // visitor has moved on (a slow fetch) then draws into a detached element, not over the page
  // that replaced it.
  const view = document.createElement("div");
  main.replaceChildren(view);
  try {
    const result = page(view, ...params.slice(1));
    Promise.resolve(result).then((c) => { cleanup = c; }, showCrash);
  } catch (e) {
    showCrash(e);
  }
}

/** A bug in this page must still say something to the visitor, never leave a blank page. */
function showCrash(e) {
  console.error(e);
  alertError("This page hit an unexpected problem. Please reload and try again.");
}

function updateHeader() {
  const account = document.getElementById("nav-account");
  account.textContent = token() ? "Profile" : "Sign in";
  account.href = token() ? "#/profile" : "#/login";
  const timer = document.getElementById("timer");
  const onPage = purchase.current?.place === "page";
  timer.hidden = !onPage;
  if (onPage) {
    const left = purchase.secondsLeft();
    document.getElementById("timer-value").textContent = mmss(left);
    timer.classList.toggle("timer-urgent", left < 60);
  }
}

/** Purchase changes that move the visitor between steps. */
purchase.subscribe((what) => {
  updateHeader();
  if (what === "waiting" && location.hash !== "#/wait") location.hash = "#/wait";
  if (what === "admitted") location.hash = "#/select";
});

window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => showCrash(e.reason));
route();
