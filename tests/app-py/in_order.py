#!/usr/bin/env python3
"""Events from one socket are handled in the order they were sent (issue 11, item 3).

    python in_order.py --url http://127.0.0.1:P --transport polling|websocket [--rounds 100]

Each round is a new buyer on the legacy namespace, as the original frontend does it:
POST /session/validation, connect, then `check limit`, `join room` and `select seat` sent back
to back without waiting. When the server handled events as separate tasks, the `select seat`
overtook `check limit` and was refused (17 of 25 polling runs). Every round must get
`check limit` {pass: true} and then the echo of its `select seat`. Prints "PASSED n checks".
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
WAIT = 5.0


async def sign_up(http, base, label):
    tag = "".join(random.choices(string.ascii_lowercase, k=8))
    body = {"name": label, "email": f"in-order-{label}-{tag}-{time.time_ns()}@example.com",
            "password": "secret123"}
    async with http.post(f"{base}/user/signup", json=body) as res:
        return (await res.json())["data"]["access_token"]


async def round_trip(http, base, transport, n):
    """One buyer; returns None when every answer was right, else what went wrong."""
    token = await sign_up(http, base, f"r{n}")
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(f"{base}/session/validation", json={"sessionId": SESSION},
                         headers=headers) as res:
        if res.status != 200:
            return f"validation {res.status}: {await res.text()}"
    client = socketio.AsyncClient(reconnection=False)
    answers = asyncio.Queue()

    @client.on("*")
    async def any_event(event, data=None):
        await answers.put((event, data))

    # A different seat each round (81 per area, areas 1-3; a run on another transport starts
    # further on), so no round asks for a seat an earlier buyer held.
    area, cell = 1 + (n // 81) % 3, n % 81
    seat = {"sessionId": SESSION, "areaId": area, "row": cell // 9 + 1, "column": cell % 9 + 1,
            "rowIndex": cell // 9, "columnIndex": cell % 9}
    try:
        await client.connect(base, auth={"token": f"Bearer {token}"}, transports=[transport],
                             wait_timeout=WAIT)
        await client.emit("check limit", SESSION)
        await client.emit("join room", {"sessionId": SESSION, "areaId": area})
        await client.emit("select seat", seat)
        got = []
        for _ in range(2):
            got.append(await asyncio.wait_for(answers.get(), WAIT))
        want = [("check limit", True), ("self select seat", seat)]
        seen = [(got[0][0], (got[0][1] or {}).get("pass")), got[1]]
        return None if seen == want else f"round {n}: got {got!r}"
    except (asyncio.TimeoutError, socketio.exceptions.SocketIOError) as err:
        return f"round {n}: {err!r}"
    finally:
        await client.disconnect()


async def run(args):
    checks = 0
    async with aiohttp.ClientSession() as http:
        for n in range(args.first, args.first + args.rounds):
            wrong = await round_trip(http, args.url, args.transport, n)
            if wrong:
                print(f"FAILED over {args.transport}: {wrong}", file=sys.stderr)
                return 1
            checks += 1
    print(f"PASSED {checks} checks", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--transport", default="polling", choices=["polling", "websocket"])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--first", type=int, default=0, help="the first round's seat number")
    sys.exit(asyncio.run(run(parser.parse_args())))
