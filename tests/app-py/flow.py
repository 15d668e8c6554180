#!/usr/bin/env python3
"""The app buyer flow of shared/protocol-v2.md, driven by python-socketio's asyncio client.

    python flow.py --url http://127.0.0.1:P1 [--url2 http://127.0.0.1:P2] --transport polling|websocket

The same steps as tests/app-js/flow.mjs: the server runs with a queue limit of 2 on session 2;
A and C buy on the first instance, B and D wait on the second (or the first when no --url2 is
given). Prints one line per check, "PASSED n checks" at the end, and exits 1 on the first failure.
"""

import argparse
import asyncio
import random
import string
import sys
import time

import aiohttp
import socketio

SESSION = 2
AREA = 1
WAIT = 5.0


class Failed(Exception):
    """A check that did not hold."""


class Flow:
    def __init__(self, args):
        self.url1 = args.url
        self.url2 = args.url2 or args.url
        self.transport = args.transport
        self.checks = 0
        self.clients = []

    def check(self, ok, what, detail=None):
        if not ok:
            raise Failed(f"FAILED {what}: {detail!r}")
        self.checks += 1
        print(f"ok {self.checks} {what}", flush=True)

    async def sign_up(self, base, label):
        tag = "".join(random.choices(string.ascii_lowercase, k=8))
        email = f"app-py-{label}-{int(time.time() * 1000)}-{tag}@example.com"
        async with aiohttp.ClientSession() as http:
            body = {"name": label, "email": email, "password": "secret123"}
            async with http.post(f"{base}/user/signup", json=body) as res:
                reply = await res.json()
        token = (reply.get("data") or {}).get("access_token")
        if not token:
            raise Failed(f"signup {label}: {reply!r}")
        return token

    async def open(self, base, ns, token, label):
        """A client on one namespace that keeps every push, so none is missed between awaits.

        Returns (client, error): error is the connect_error data when the server refused."""
        client = socketio.AsyncClient(reconnection=False)
        client.label, client.ns, client.inbox = label, ns, []
        client.arrived = asyncio.Event()
        refused = {}

        @client.on("*", namespace=ns)
        async def any_event(event, data=None):
            client.inbox.append((event, data))
            client.arrived.set()

        @client.on("connect_error", namespace=ns)
        async def on_refused(data=None):
            refused["data"] = data

        self.clients.append(client)
        try:
            await client.connect(
                base,
                namespaces=[ns],
                auth={"token": token},
                transports=[self.transport],
                wait_timeout=WAIT,
            )
        except socketio.exceptions.ConnectionError as err:
            return client, refused.get("data") or str(err)
        return client, None

    async def connect(self, base, ns, token, label):
        client, err = await self.open(base, ns, token, label)
        if err is not None:
            raise Failed(f"{label}: connect to {ns} refused: {err!r}")
        return client

    async def next(self, client, event, wait=WAIT):
        """The next push named `event` (earlier ones are taken first)."""
        deadline = time.monotonic() + wait
        while True:
            for i, (name, data) in enumerate(client.inbox):
                if name == event:
                    del client.inbox[i]
                    return data
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"{client.label}: no {event} within {wait} s (got {client.inbox!r})")
            client.arrived.clear()
            try:
                await asyncio.wait_for(client.arrived.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def call(self, client, event, payload):
        return await client.call(event, payload, namespace=client.ns, timeout=WAIT)

    async def main(self):
        labels = ["A", "B", "C", "D"]
        ta, tb, tc, td = await asyncio.gather(
            *(self.sign_up(self.url2 if i % 2 else self.url1, l) for i, l in enumerate(labels))
        )
        qa = await self.connect(self.url1, "/queue", ta, "A/queue")
        qc = await self.connect(self.url1, "/queue", tc, "C/queue")
        qb = await self.connect(self.url2, "/queue", tb, "B/queue")
        qd = await self.connect(self.url2, "/queue", td, "D/queue")
        check, call, nxt = self.check, self.call, self.next
        code = lambda ack: ((ack or {}).get("error") or {}).get("code")  # noqa: E731
        join = {"sessionId": SESSION}

        a = await call(qa, "join", join)
        check(a.get("ok") and a["state"] == "admitted" and a["ahead"] == 0
              and isinstance(a.get("windowEndsAt"), int), "A is admitted", a)
        check(isinstance(a["estimate"]["seconds"], int) and "opensAt" in a,
              "the join ack carries estimate and opensAt", a)
        again = await call(qa, "join", join)
        check(again["state"] == "admitted" and again["windowEndsAt"] == a["windowEndsAt"],
              "a second join returns the same place", again)
        check((await call(qc, "join", join))["state"] == "admitted", "C is admitted")
        b = await call(qb, "join", join)
        check(b.get("ok") and b["state"] == "queued" and b["ahead"] == 0, "B queues first in line", b)
        d = await call(qd, "join", join)
        check(d["state"] == "queued" and d["ahead"] == 1 and d["estimate"]["seconds"] > 0,
              "D queues behind B with a wait", d)
        ds = await call(qd, "status", join)
        check(ds["state"] == "queued" and ds["ahead"] == 1, "status says where D stands", ds)
        check(code(await call(qd, "join", {"sessionId": "two"})) == "bad_request",
              "a wrong type is a bad_request")
        check(code(await call(qd, "join", {"sessionId": 99999})) == "unknown_session",
              "an unknown session is named")
        check(code(await call(qd, "join", None)) == "bad_request", "no payload is a bad_request")

        _, err = await self.open(self.url2, f"/event-{SESSION}", tb, "B/event-early")
        check(isinstance(err, dict) and err.get("code") == "not_admitted"
              and (err.get("data") or {}).get("code") == "not_admitted",
              "the buying page refuses B before admission, with the code", err)

        ea = await self.connect(self.url1, f"/event-{SESSION}", ta, "A/event")
        win = await nxt(ea, "window")
        check(win["endsAt"] == a["windowEndsAt"] and isinstance(win["serverNow"], int),
              "the page pushes the window on connect", win)
        ec = await self.connect(self.url1, f"/event-{SESSION}", tc, "C/event")
        seen = await call(ec, "watch", {"areaId": AREA})
        seat = next((s for s in seen.get("seats", []) if s["row"] == 1 and s["column"] == 1), None)
        check(seen.get("ok") and seen["areaId"] == AREA and seat and seat["status"] == "empty"
              and seat["mine"] is False, "watch gives the whole area", seat)
        v0 = seen["version"]
        check((await call(ea, "watch", {"areaId": AREA})).get("ok"), "A watches the area too")

        one = {"areaId": AREA, "row": 1, "column": 1}
        sel = await call(ea, "select", one)
        check(sel.get("ok") and sel["seat"]["row"] == 1 and sel["seat"]["column"] == 1,
              "A selects a seat", sel)
        push = await nxt(ec, "seats")
        check(push["version"] == v0 + 1 and push["changes"][0]["status"] == "selected",
              "C sees the selection with the next version", push)
        check(code(await call(ec, "select", one)) == "seat_taken", "C cannot take A's seat")
        check(code(await call(ec, "unselect", one)) == "not_yours", "C cannot free A's seat")
        seats = {"areaId": AREA, "seats": [{"row": 1, "column": 1}]}
        lock = await call(ea, "lock", seats)
        check(lock.get("ok") and len(lock["seats"]) == 1 and lock["total"] > 0,
              "A locks it with a total", lock)
        push = await nxt(ec, "seats")
        check(push["version"] == v0 + 2 and push["changes"][0]["status"] == "locked",
              "C sees the lock", push)
        order = await call(ea, "order", seats)
        check(order.get("ok") and order.get("orderId") and order["total"] == lock["total"],
              "A orders it", order)
        push = await nxt(ec, "seats")
        check(push["version"] == v0 + 3 and push["changes"][0]["status"] == "sold",
              "C sees it sold", push)
        many = [{"row": 1 + (i % 9), "column": 1} for i in range(1000)]
        check(code(await call(ec, "lock", {"areaId": AREA, "seats": many})) == "bad_request",
              "a huge array is a bad_request")
        check(code(await call(ec, "select", {"areaId": AREA, "row": 99, "column": 1}))
              == "unknown_seat", "an unknown seat is named")
        check(code(await call(ec, "watch", {"areaId": 4242})) == "unknown_area",
              "an unknown area is named")
        check(code(await call(ec, "select", {"areaId": AREA, "row": "1", "column": 1}))
              == "bad_request", "a string row is a bad_request")

        check((await call(ea, "leave", {})).get("ok"), "A leaves the page")
        adm = await nxt(qb, "admitted")
        check(adm["sessionId"] == SESSION and isinstance(adm["windowEndsAt"], int),
              "B hears admitted", adm)
        pos = await nxt(qd, "position")
        check(pos["sessionId"] == SESSION and pos["ahead"] == 0, "D hears its new position", pos)
        eb = await self.connect(self.url2, f"/event-{SESSION}", tb, "B/event")
        check((await nxt(eb, "window"))["endsAt"] == adm["windowEndsAt"],
              "B's window matches the admission")
        bview = await call(eb, "watch", {"areaId": AREA})
        sold = next(s for s in bview["seats"] if s["row"] == 1 and s["column"] == 1)
        check(sold["status"] == "sold" and sold["mine"] is False, "B sees the seat sold", sold)
        check((await call(qb, "status", join))["state"] == "admitted", "B's status is admitted")

        check((await call(qb, "leave", join)).get("ok"), "B leaves from the queue namespace")
        check((await nxt(qd, "admitted"))["sessionId"] == SESSION, "D is admitted next")
        check((await call(qa, "status", join))["state"] == "none", "A is no longer in line")
        print(f"PASSED {self.checks} checks", flush=True)

    async def close(self):
        for client in self.clients:
            try:
                await asyncio.wait_for(client.disconnect(), 2)
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


async def run(args):
    flow = Flow(args)
    try:
        await asyncio.wait_for(flow.main(), 60)
        return 0
    except asyncio.TimeoutError:
        print("FAILED: the flow took over 60 s", file=sys.stderr)
    except (Failed, socketio.exceptions.SocketIOError) as err:
        print(err, file=sys.stderr)
    finally:
        await flow.close()
    return 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--url2")
    parser.add_argument("--transport", default="websocket", choices=["polling", "websocket"])
    sys.exit(asyncio.run(run(parser.parse_args())))
