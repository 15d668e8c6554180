// Source addresses for test sockets. When TC_SOURCE_ADDRESSES lists loopback addresses
// (e.g. "127.0.0.2,127.0.0.3"), each new socket leaves from the next one, so a load balancer
// that keeps clients sticky by source address spreads the test's clients over its instances.
// Without it, sockets use the default source and nothing changes.

import http from "node:http";

const addresses = (process.env.TC_SOURCE_ADDRESSES ?? "").split(",").map((a) => a.trim()).filter(Boolean);
let next = 0;

/** socket.io-client options for the next source address: the polling transport honours an
 * http.Agent, the websocket transport `localAddress` (both needed for polling → upgrade). */
export function sourceOptions() {
  if (addresses.length === 0) return {};
  const localAddress = addresses[next++ % addresses.length];
  return { localAddress, agent: new http.Agent({ localAddress, keepAlive: true }) };
}
