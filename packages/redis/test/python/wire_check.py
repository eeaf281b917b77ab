#!/usr/bin/python3
"""Reads and writes sorted-set members with channels_redis's own serialize/deserialize, for
WireFormat.test.ts. No Redis is involved.

Reads one JSON object on stdin:
  {"secrets": [...] or null, "expiry": 60,
   "read": ["<member base64>", ...],        -> layer.deserialize(member): the dict, tagged (the
                                               __asgi_channel__ key is still in it: receive strips it)
   "write": [<tagged dict>, ...]}           -> layer.serialize(dict), base64
and writes {"read": [{"ok": true, "message": M} | {"ok": false, "error": "<exception class>"}, ...],
            "write": ["<member base64>", ...]}.
"""
import base64
import json
import sys

from channels_redis.core import RedisChannelLayer

from tagged import tag, untag

request = json.load(sys.stdin)
layer = RedisChannelLayer(expiry=request.get("expiry", 60), symmetric_encryption_keys=request.get("secrets"))
read = []
for member in request.get("read", []):
    try:
        read.append({"ok": True, "message": tag(layer.deserialize(base64.b64decode(member)))})
    except Exception as error:  # the class name is what the test checks
        read.append({"ok": False, "error": type(error).__name__})
write = [base64.b64encode(layer.serialize(untag(message))).decode("ascii") for message in request.get("write", [])]
json.dump({"read": read, "write": write}, sys.stdout)
