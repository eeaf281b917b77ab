"""The Python layers' side of the bench: Django's channels_rabbitmq or channels_redis driven
through the same scenarios as the TypeScript layers, one command per line on stdin, one JSON answer
per line on stdout, so that the bench can interleave its rounds with ours in the same run.

Usage: channel_layer_peer.py rabbitmq|redis URL

Commands (JSON objects):
  {"op": "p2p", "window": 1, "count": 2000}
      one layer sends `count` messages to a channel of another, `window` sends in flight; answers
      {"elapsed_ms": ...} from the first send to the last delivery.
  {"op": "fanout", "members": 100, "sends": 1000, "window": 100}
      `members` channels of one layer in a group, `sends` group sends from another; answers
      {"elapsed_ms": ..., "delivered": ...}.
  {"op": "latency", "rate": 500, "seconds": 6, "senders": "task"}
      sends paced at `rate` a second, each in a task of its own (as a Django consumer sends), a
      receive loop on the other layer; answers {"latencies_ms": [...]} in send order (null for a
      message that never arrived).
  {"op": "quit"}

rabbitmq needs channels_rabbitmq (and carehare) importable: they are not in Debian; put their
sources on PYTHONPATH. redis needs channels_redis (Debian: python3-channels-redis). The first line
it prints is {"ready": true} once both layers are connected, or {"error": "..."} when it cannot
start.
"""

import asyncio
import json
import sys
import time

LAYER = sys.argv[1] if len(sys.argv) > 1 else "rabbitmq"
URL = sys.argv[2] if len(sys.argv) > 2 else "amqp://guest:guest@127.0.0.1/asgi"
MESSAGE = {"type": "chat.message", "text": "Hello room 42! This is a benchmark chat message of about seventy chars."}


def answer(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def windowed(count, window, send):
    """Runs send(i) for i in range(count) with at most `window` in flight."""
    limit = asyncio.Semaphore(window)
    tasks = []

    async def one(i):
        try:
            await send(i)
        finally:
            limit.release()

    for i in range(count):
        await limit.acquire()
        tasks.append(asyncio.ensure_future(one(i)))
    await asyncio.gather(*tasks)


async def p2p(sender, receiver, command):
    count, window = command["count"], command["window"]
    channel = await receiver.new_channel()

    async def receive_all():
        for _ in range(count):
            await receiver.receive(channel)

    started = time.perf_counter()
    receiving = asyncio.ensure_future(receive_all())
    await windowed(count, window, lambda i: sender.send(channel, MESSAGE))
    await receiving
    return {"elapsed_ms": (time.perf_counter() - started) * 1000}


async def fanout(sender, receiver, command):
    members, sends, window = command["members"], command["sends"], command["window"]
    group = "bench-fanout-%d" % time.monotonic_ns()
    channels = [await receiver.new_channel() for _ in range(members)]
    for channel in channels:
        await receiver.group_add(group, channel)
    delivered = 0

    async def receive_all(channel):
        nonlocal delivered
        for _ in range(sends):
            await receiver.receive(channel)
            delivered += 1

    started = time.perf_counter()
    receiving = asyncio.gather(*(receive_all(channel) for channel in channels))
    await windowed(sends, window, lambda i: sender.group_send(group, MESSAGE))
    try:
        await asyncio.wait_for(receiving, 30)
    except asyncio.TimeoutError:
        pass
    elapsed = (time.perf_counter() - started) * 1000
    for channel in channels:
        await receiver.group_discard(group, channel)
    return {"elapsed_ms": elapsed, "delivered": delivered}


async def latency(sender, receiver, command):
    rate, seconds = command["rate"], command["seconds"]
    total = int(round(rate * seconds))
    channel = await receiver.new_channel()
    sent_at = [0.0] * total
    latencies = [None] * total

    async def receive_all():
        for _ in range(total):
            message = await receiver.receive(channel)
            seq = message["seq"]
            latencies[seq] = (time.perf_counter() - sent_at[seq]) * 1000

    receiving = asyncio.ensure_future(receive_all())
    pending = set()
    interval = 1 / rate
    started = time.perf_counter()
    for seq in range(total):
        due = started + seq * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_at[seq] = time.perf_counter()
        task = asyncio.ensure_future(sender.send(channel, {**MESSAGE, "seq": seq}))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    try:
        await asyncio.wait_for(receiving, 10)
    except asyncio.TimeoutError:
        pass
    return {"latencies_ms": latencies}


async def main():
    # A send completes when the broker has it, not when it is received: a receiver that falls
    # behind lets the queue grow past `window`. The bench measures throughput, not back-pressure:
    # room for a whole round (and for the fan-out's bursts), as our layers get.
    try:
        if LAYER == "redis":
            from channels_redis.core import RedisChannelLayer
            prefix = "bench-py-%d" % time.monotonic_ns()
            sender, receiver = (
                RedisChannelLayer(hosts=[URL], prefix=prefix, capacity=100_000) for _ in range(2)
            )
        else:
            from channels_rabbitmq.core import RabbitmqChannelLayer
            sender, receiver = (
                RabbitmqChannelLayer(host=URL, local_capacity=1000, remote_capacity=100_000) for _ in range(2)
            )
    except ImportError as error:
        answer({"error": "cannot import the %s layer: %s" % (LAYER, error)})
        return
    # The layer connects on its first send or group operation, not on receive: a group_add (which
    # waits for the connection and the queue) connects both before the first timed round.
    for layer in (sender, receiver):
        channel = await layer.new_channel()
        await layer.group_add("bench-connect", channel)
        await layer.group_discard("bench-connect", channel)
    answer({"ready": True})
    operations = {"p2p": p2p, "fanout": fanout, "latency": latency}
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command["op"] == "quit":
            break
        try:
            answer(await operations[command["op"]](sender, receiver, command))
        except Exception as error:  # reported to the bench, which fails the round
            answer({"error": "%s: %s" % (type(error).__name__, error)})
    for layer in (sender, receiver):
        if LAYER == "redis":
            await layer.flush()  # deletes the keys of this run's prefix
            await layer.close_pools()
        else:
            await layer.close()


asyncio.run(main())
