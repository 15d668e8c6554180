// HTTP calls to the TicketClub server (same origin, the original's routes without a prefix) and
// the sign-in token, kept in localStorage["jwt"] as the original frontend did.

const TOKEN_KEY = "jwt";

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(jwt) {
  localStorage.setItem(TOKEN_KEY, jwt);
}

export function clearToken() {
  localStorage.removeItem(TOKEN_KEY);
}

/** A refused call: the HTTP status, the server's `error` text and its `warning` flag. */
export class ApiError extends Error {
  constructor(status, message, warning = false) {
    super(message);
    this.status = status;
    this.warning = warning;
  }

  /** 401/403: the token is missing, expired or belongs to no account. */
  get isAuth() {
    return this.status === 401 || this.status === 403;
  }
}

/**
 * Calls `path` and resolves with the JSON body of a 2xx answer. Anything else rejects with an
 * ApiError whose message can be shown as is: the server's own `error` text when it sent one.
 * The token is always sent (as "Bearer null" when signed out, like the original), so the
 * server, not this page, decides what needs signing in.
 */
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "Could not reach the ticket server. Check your connection and try again.");
  }
  let data;
  try {
    data = await res.json();
  } catch {
    throw new ApiError(res.status, `The server sent an unexpected answer (HTTP ${res.status}). Please try again.`);
  }
  if (res.ok) return data;
  const message = typeof data?.error === "string" ? data.error : `The request failed (HTTP ${res.status}).`;
  throw new ApiError(res.status, message, data?.warning === true);
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
