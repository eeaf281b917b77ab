#!/usr/bin/python3
"""Writes test/fixtures/sharding.json: the shard indexes Debian's channels_redis (4.0.x) picks.

For every name and ring size (2, 3, 5) it records what the real RedisChannelLayer computes:
  - "hash": layer.consistent_hash(name), the raw consistent hash of the whole string (used for a
    group's key, and by send() for a process-specific channel, with the FULL channel name)
  - "nonLocal": layer.consistent_hash(layer.non_local_name(name)) (used by receive() and by
    group_send() for a process-specific channel: the part up to and including "!")
No Redis connection is made (the layer connects lazily).

Run: /usr/bin/python3 test/python/gen_sharding.py  (from packages/redis)
"""
import json
import os

from channels_redis.core import RedisChannelLayer

NAMES = [
    "",
    "a",
    "chat",
    "room-1",
    "group.with.dots",
    "specific.",
    "specific.abc!",
    "specific.abc!def",
    "specific.0123456789abcdef0123456789abcdef!",
    "specific.0123456789abcdef0123456789abcdef!fedcba9876543210fedcba9876543210",
    "http.request",
    "websocket.send!x",
    "x" * 99,
    "Z_-.09",
    "caf\u00e9",
    "\u65e5\u672c\u8a9e",
    "emoji-\U0001F600",
]
# A spread of generated names too, so every index of every ring size shows up.
NAMES += [f"channel-{i}" for i in range(40)]
NAMES += [f"specific.{i:032x}!{(i * 7919):032x}" for i in range(40)]

out = {"source": "channels_redis.core.RedisChannelLayer (Debian python3-channels-redis)", "rings": {}}
for ring in (1, 2, 3, 5):
    layer = RedisChannelLayer(hosts=[f"redis://127.0.0.1:{6379 + i}" for i in range(ring)])
    assert layer.ring_size == ring
    out["rings"][str(ring)] = [
        {"name": name, "hash": layer.consistent_hash(name), "nonLocal": layer.consistent_hash(layer.non_local_name(name))}
        for name in NAMES
    ]

path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "sharding.json")
with open(path, "w", encoding="utf-8") as f:
    # One entry a line, so a diff shows which names moved.
    f.write('{"source": %s, "rings": {\n' % json.dumps(out["source"]))
    rings = []
    for ring, entries in out["rings"].items():
        lines = ",\n".join("  " + json.dumps(e, ensure_ascii=False) for e in entries)
        rings.append(' "%s": [\n%s\n ]' % (ring, lines))
    f.write(",\n".join(rings))
    f.write("\n}}\n")
print(f"wrote {path}")
