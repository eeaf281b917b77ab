#!/usr/bin/python3
"""Writes test/fixtures/wire.json: the bytes Debian's channels_redis (4.0.x) RedisChannelLayer
writes to a real Redis for a set of send and group_send calls.

It runs the layer against REDIS_URL (default redis://127.0.0.1:6379/0) under a prefix of its own
(unique per run, recorded), records after each call the sorted-set members (hex) and scores it
added and under which keys, and deletes every key of the prefix at the end. Nothing receives, so
the members are exactly what was written. A second layer with symmetric_encryption_keys does the
same under another prefix.

Messages are recorded as tagged JSON (tagged.py) so every msgpack type comes back exactly.

Run: /usr/bin/python3 test/python/gen_wire.py  (from packages/redis; needs Redis)
"""
import asyncio
import json
import os
import uuid

import redis
from channels_redis.core import RedisChannelLayer

from tagged import tag

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RUN = uuid.uuid4().hex[:8]
PREFIX = f"golden-{RUN}."
SECRET_PREFIX = f"golden-sealed-{RUN}."
SECRETS = ["golden secret", "an older secret"]

ALL_TYPES = {
    "type": "all.types",
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "fixint": 127,
    "negative_fixint": -32,
    "uint8": 200,
    "uint16": 60000,
    "uint32": 4000000000,
    "uint64": 2**64 - 1,
    "int8": -100,
    "int16": -30000,
    "int32": -2000000000,
    "int64_min": -(2**63),
    "int64_max": 2**63 - 1,
    "safe_max": 2**53 - 1,
    "beyond_safe": 2**53 + 1,
    "float": 1.5,
    "float_small": 5e-324,
    "float_large": 1.7976931348623157e308,
    "float_third": 1 / 3,
    "negative_zero": -0.0,
    "infinity": float("inf"),
    "negative_infinity": float("-inf"),
    "nan": float("nan"),
    "text": "h\u00e9llo \u65e5\u672c\u8a9e \U0001F600",
    "empty_text": "",
    "text_str8": "a" * 40,
    "text_str16": "\u00e9" * 200,
    "bytes": b"\x00\x01\xfe\xff",
    "empty_bytes": b"",
    "bytes_bin16": bytes(range(256)) * 2,
    "list": [1, "two", 3.5, None, [b"\x00", {"k": []}]],
    "empty_list": [],
    "list16": list(range(20)),
    "map": {"nested": {"deeper": {"deepest": [True, False]}}, "caf\u00e9": "\u2603"},
    "empty_map": {},
    "map16": {f"key{i:02}": i for i in range(20)},
}
MINIMAL = {"type": "minimal"}
# More than 15 top-level keys once __asgi_channel__ is added: a map16 header.
WIDE = {"type": "wide", **{f"k{i}": i for i in range(15)}}
# Known difference: JavaScript has one number type, so 2.0 reads as 2 and is written back as an int.
INTEGRAL_FLOAT = {"type": "float.integral", "value": 2.0, "zero": 0.0}

client = redis.Redis.from_url(REDIS_URL)


def snapshot(prefix):
    state = {}
    for key in client.scan_iter(match=prefix.encode() + b"*"):
        kind = client.type(key).decode()
        assert kind == "zset", (key, kind)
        state[key] = dict(client.zrange(key, 0, -1, withscores=True))
    return state


def added(before, after):
    out = []
    for key, members in after.items():
        for member, score in members.items():
            if member not in before.get(key, {}):
                out.append({"key": key.decode("utf8"), "member": member.hex(), "score": repr(score),
                            "ttl": client.ttl(key)})
    return out


async def main():
    cases = []

    async def record(layer, prefix, name, op, target, message, **extra):
        before = snapshot(prefix)
        if op == "send":
            await getattr(layer, op)(target, message)
        else:
            await layer.group_send(target, message)
        cases.append({"name": name, "op": op, "target": target, "message": tag(message),
                      "written": added(before, snapshot(prefix)), **extra})

    for prefix, secrets in ((PREFIX, None), (SECRET_PREFIX, SECRETS)):
        sealed = secrets is not None
        layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, expiry=60, symmetric_encryption_keys=secrets)
        other = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, expiry=60, symmetric_encryption_keys=secrets)
        tag_ = "sealed " if sealed else ""
        try:
            specific = await layer.new_channel()
            for name, message in (("all types", ALL_TYPES), ("minimal", MINIMAL), ("wide", WIDE),
                                  ("integral floats", INTEGRAL_FLOAT)):
                if sealed and name != "all types":
                    continue
                await record(layer, prefix, f"{tag_}send {name} to a normal channel", "send", "golden.normal", message)
                await record(layer, prefix, f"{tag_}send {name} to a process-specific channel", "send", specific, message)

            # A group whose members are a normal channel, two process-specific channels of one layer
            # (one Redis key, so one member listing both), one of the same layer with another
            # prefix (another key) and one of another layer (another key).
            group = "golden-group"
            first, custom, third = await layer.new_channel(), await layer.new_channel("custom"), await layer.new_channel()
            elsewhere = await other.new_channel()
            members = ["golden.member", first, custom, third, elsewhere]
            before = snapshot(prefix)
            for channel in members:
                await layer.group_add(group, channel)
            group_key = f"{prefix}:group:{group}"
            cases.append({"name": f"{tag_}group_add", "op": "group_add", "target": group, "members": members,
                          "written": added(before, snapshot(prefix)), "groupKey": group_key})
            for name, message in (("all types", ALL_TYPES), ("minimal", MINIMAL)):
                if sealed and name != "all types":
                    continue
                await record(layer, prefix, f"{tag_}group_send {name}", "group_send", group, message, members=members)
        finally:
            await layer.flush()
            await other.flush()
            assert not list(client.scan_iter(match=prefix.encode() + b"*")), "keys left behind"

    return cases


cases = asyncio.run(main())
out = {
    "source": "channels_redis.core.RedisChannelLayer (Debian python3-channels-redis) against Redis "
              + client.info("server")["redis_version"],
    "prefix": PREFIX,
    "sealedPrefix": SECRET_PREFIX,
    "secrets": SECRETS,
    "expiry": 60,
    "cases": cases,
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "wire.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(f"wrote {path}: {len(cases)} cases")
