#!/usr/bin/python3
"""A long-running peer on Debian's channels_redis RedisChannelLayer, driven by JSON lines.

Start:  /usr/bin/python3 peer.py '<options JSON>'
  options: {"hosts": [...], "prefix": "asgi", "expiry": 60, "group_expiry": 86400, "capacity": 100,
            "channel_capacity": {...}, "symmetric_encryption_keys": [...]}  (all optional; hosts
            are redis:// URLs, as channels_redis's "address" form)
It first writes {"ready": true, "client_prefix": "<hex>"}.

Then one command a line on stdin, each run as its own task (a receive that waits does not hold up
the next command), each answered by one line on stdout with the same "id":
  {"id": 1, "op": "new_channel", "prefix": "specific"}       -> result: the channel name
  {"id": 2, "op": "send", "channel": c, "message": M}          -> result: null
  {"id": 3, "op": "receive", "channel": c, "timeout": 5.0}     -> result: M
  {"id": 4, "op": "group_add", "group": g, "channel": c}       -> result: null
  {"id": 5, "op": "group_discard", "group": g, "channel": c}   -> result: null
  {"id": 6, "op": "group_send", "group": g, "message": M}      -> result: null
  {"id": 7, "op": "flush"}                                     -> result: null
  {"id": 8, "op": "dump"}    -> result: one {"<key>": [["<member base64>", score], ...], ...} per host,
                                in host order: every sorted set under the prefix (raw bytes)
  {"id": 9, "op": "quit"}    -> result: null, then the peer closes its pools and exits
Answers: {"id": n, "ok": true, "result": R} or {"id": n, "ok": false, "error": {"type": "ChannelFull" |
"Timeout" | "InvalidToken" | "AssertionError" | ..., "message": "..."}}.
Messages M are tagged JSON (tagged.py), so every msgpack type round-trips. The peer exits at the end
of stdin too, so it never outlives its parent.
"""
import asyncio
import base64
import json
import sys
import traceback

from channels_redis.core import RedisChannelLayer

from tagged import tag, untag


def answer(payload):
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def dump(layer):
    hosts = []
    for index in range(layer.ring_size):
        connection = layer.connection(index)
        out = {}
        async for key in connection.scan_iter(match=layer.prefix.encode("utf8") + b"*"):
            if (await connection.type(key)) != b"zset":
                continue
            members = await connection.zrange(key, 0, -1, withscores=True)
            out[key.decode("utf8")] = [[base64.b64encode(m).decode("ascii"), s] for m, s in members]
        hosts.append(out)
    return hosts


async def run(layer, command):
    op = command.get("op")
    if op == "new_channel":
        return await layer.new_channel(command.get("prefix", "specific"))
    if op == "send":
        return await layer.send(command["channel"], untag(command["message"]))
    if op == "receive":
        timeout = command.get("timeout")
        return tag(await asyncio.wait_for(layer.receive(command["channel"]), timeout))
    if op == "group_add":
        return await layer.group_add(command["group"], command["channel"])
    if op == "group_discard":
        return await layer.group_discard(command["group"], command["channel"])
    if op == "group_send":
        return await layer.group_send(command["group"], untag(command["message"]))
    if op == "flush":
        return await layer.flush()
    if op == "dump":
        return await dump(layer)
    raise ValueError(f"unknown op {op!r}")


async def handle(layer, command):
    ident = command.get("id")
    try:
        result = await run(layer, command)
        answer({"id": ident, "ok": True, "result": result})
    except asyncio.TimeoutError:
        answer({"id": ident, "ok": False, "error": {"type": "Timeout", "message": "nothing arrived in time"}})
    except Exception as error:  # every failure goes back to the driver, typed by its class name
        answer({"id": ident, "ok": False,
                "error": {"type": type(error).__name__, "message": str(error) or repr(error),
                          "traceback": traceback.format_exc()}})


async def main():
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    layer = RedisChannelLayer(**options)
    answer({"ready": True, "client_prefix": layer.client_prefix})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()
    while True:
        line = await reader.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        try:
            command = json.loads(line)
        except ValueError as error:
            answer({"id": None, "ok": False, "error": {"type": "BadCommand", "message": str(error)}})
            continue
        if command.get("op") == "quit":
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await layer.close_pools()
            answer({"id": command.get("id"), "ok": True, "result": None})
            return
        task = asyncio.ensure_future(handle(layer, command))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await layer.close_pools()


if __name__ == "__main__":
    asyncio.run(main())
