#!/usr/bin/env python3
"""A stand-in for a Django process on channels_rabbitmq, for tests where Django is not installed.

It speaks channels_rabbitmq's wire format with nothing but Debian-packaged libraries
(python3-aiormq, python3-msgpack):

- one exclusive queue per process, ``channels_`` + 12 random ASCII letters, declared with
  ``x-max-length`` (remote capacity), ``x-overflow: reject-publish`` and ``x-message-ttl`` (expiry, ms);
- channel names ``<queue>!<12 letters>``; a direct send publishes on the default exchange with the
  queue name as routing key; a group send publishes on the direct exchange ``groups``
  (non-durable, not auto-deleted) with the group as routing key; joining a group binds the queue;
- bodies are msgpack maps: the message plus ``__asgi_channel__`` (the full channel name) or
  ``__asgi_group__`` (the group).

Protocol on stdio, one JSON object per line (bytes as {"$bytes": base64}, big ints as {"$int": "..."}):

- out: {"event": "ready", "channel": NAME, "queue": QUEUE}
- out: {"event": "message", "channel": NAME-OR-null, "group": GROUP-OR-null, "message": {...}}
- out: {"event": "sent"} after each command, or {"event": "error", "reason": "..."}
- in:  {"send": CHANNEL, "message": {...}} | {"group_send": GROUP, "message": {...}}
       | {"group_add": GROUP} | {"group_discard": GROUP}
"""
import argparse
import asyncio
import base64
import json
import random
import string
import sys

import aiormq
import msgpack


def random_letters(n=12):
    return "".join(random.choice(string.ascii_letters) for _ in range(n))


def to_json(value):
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return {"$int": str(value)}
    if isinstance(value, dict):
        return {key: to_json(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(inner) for inner in value]
    return value


def from_json(value):
    if isinstance(value, dict):
        if list(value.keys()) == ["$bytes"]:
            return base64.b64decode(value["$bytes"])
        if list(value.keys()) == ["$int"]:
            return int(value["$int"])
        return {key: from_json(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [from_json(inner) for inner in value]
    return value


def emit(event):
    sys.stdout.write(json.dumps(to_json(event)) + "\n")
    sys.stdout.flush()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1/asgi")
    parser.add_argument("--group", action="append", default=[], help="join this group (repeatable)")
    parser.add_argument("--groups-exchange", default="groups")
    parser.add_argument("--expiry", type=int, default=60, help="seconds")
    parser.add_argument("--remote-capacity", type=int, default=100)
    args = parser.parse_args()

    connection = await aiormq.connect(args.url)
    channel = await connection.channel()
    await channel.confirm_delivery()
    queue = "channels_" + random_letters()
    await channel.queue_declare(
        queue,
        exclusive=True,
        arguments={
            "x-max-length": args.remote_capacity,
            "x-overflow": "reject-publish",
            "x-message-ttl": args.expiry * 1000,
        },
    )
    await channel.exchange_declare(args.groups_exchange, exchange_type="direct", durable=False, auto_delete=False)
    for group in args.group:
        await channel.queue_bind(queue, args.groups_exchange, routing_key=group)
    me = queue + "!" + random_letters()

    async def on_message(delivered):
        message = msgpack.unpackb(delivered.body, raw=False)
        to_channel = message.pop("__asgi_channel__", None)
        to_group = message.pop("__asgi_group__", None)
        emit({"event": "message", "channel": to_channel, "group": to_group, "message": message})
        await delivered.channel.basic_ack(delivered.delivery.delivery_tag)

    await channel.basic_qos(prefetch_count=100)
    await channel.basic_consume(queue, on_message)
    emit({"event": "ready", "channel": me, "queue": queue})

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        try:
            command = json.loads(line)
            if "send" in command:
                target = command["send"]
                body = dict(from_json(command["message"]), __asgi_channel__=target)
                await channel.basic_publish(msgpack.packb(body, use_bin_type=True), exchange="",
                                            routing_key=target.split("!")[0])
            elif "group_send" in command:
                group = command["group_send"]
                body = dict(from_json(command["message"]), __asgi_group__=group)
                await channel.basic_publish(msgpack.packb(body, use_bin_type=True), exchange=args.groups_exchange,
                                            routing_key=group)
            elif "group_add" in command:
                await channel.queue_bind(queue, args.groups_exchange, routing_key=command["group_add"])
            elif "group_discard" in command:
                await channel.queue_unbind(queue, args.groups_exchange, routing_key=command["group_discard"])
            else:
                raise ValueError("unknown command " + line.decode().strip())
            emit({"event": "sent"})
        except Exception as error:  # report and keep going: the test reads the reason
            emit({"event": "error", "reason": repr(error)})
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
