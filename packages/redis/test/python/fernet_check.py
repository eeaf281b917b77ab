#!/usr/bin/python3
"""Opens and makes Fernet tokens with channels_redis's MultiFernet, for Fernet.test.ts.

Reads one JSON object on stdin:
  {"secrets": [...], "open": [token, ...], "ttl": seconds or null, "seal": [plaintext hex, ...]}
and writes one JSON object on stdout:
  {"opened": [plaintext hex, or null when cryptography raises InvalidToken, ...],
   "sealed": [token, ...]}
"""
import json
import sys

from channels_redis.core import RedisChannelLayer
from cryptography.fernet import InvalidToken

request = json.load(sys.stdin)
crypter = RedisChannelLayer(symmetric_encryption_keys=request["secrets"]).crypter
opened = []
for token in request.get("open", []):
    try:
        opened.append(crypter.decrypt(token.encode("ascii"), request.get("ttl")).hex())
    except InvalidToken:
        opened.append(None)
sealed = [crypter.encrypt(bytes.fromhex(p)).decode("ascii") for p in request.get("seal", [])]
json.dump({"opened": opened, "sealed": sealed}, sys.stdout)
