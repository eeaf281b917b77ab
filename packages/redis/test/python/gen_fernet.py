#!/usr/bin/python3
"""Writes test/fixtures/fernet.json: Fernet tokens made by Python's `cryptography` with the keys
channels_redis derives from `symmetric_encryption_keys` (RedisChannelLayer.make_fernet).

- "keys": each configured secret and the Fernet key (urlsafe base64) the layer derives from it.
- "vectors": deterministic tokens (fixed time and IV, through Fernet's own token builder) that our
  encrypt must reproduce byte for byte and our decrypt must open.
- "layerTokens": tokens from the layer's MultiFernet (random IVs, encrypts with the first key), each
  with the key lists that must open it and one that must not.
- "invalid": tokens that must be refused, and why.

Run: /usr/bin/python3 test/python/gen_fernet.py  (from packages/redis)
"""
import base64
import json
import os

from channels_redis.core import RedisChannelLayer
from cryptography.fernet import Fernet

SECRETS = ["secret", "another secret", "caf\u00e9 \u65e5\u672c", "", "x" * 100]
NOW = 1765000000


def derived_key(secret):
    fernet = RedisChannelLayer().make_fernet(secret)
    # Fernet keeps the two halves of the key; join them back into the urlsafe base64 form.
    return base64.urlsafe_b64encode(fernet._signing_key + fernet._encryption_key).decode("ascii")


keys = [{"secret": s, "fernetKey": derived_key(s)} for s in SECRETS]
# A secret given as bytes derives the same key as its UTF-8 string.
assert derived_key("caf\u00e9 \u65e5\u672c".encode("utf8")) == keys[2]["fernetKey"]

PLAINTEXTS = [b"", b"a", b"\x00" * 15, b"\x01" * 16, b"\x02" * 17, bytes(range(256)), "caf\u00e9".encode("utf8")]
vectors = []
for i, plaintext in enumerate(PLAINTEXTS):
    secret = SECRETS[i % len(SECRETS)]
    iv = bytes((i * 16 + k) & 0xFF for k in range(16))
    fernet = RedisChannelLayer().make_fernet(secret)
    token = fernet._encrypt_from_parts(plaintext, NOW + i, iv)
    assert fernet.decrypt_at_time(token, 60, NOW + i) == plaintext
    vectors.append({"secret": secret, "time": NOW + i, "iv": iv.hex(), "plaintext": plaintext.hex(), "token": token.decode("ascii")})

layer_tokens = []
for secrets in (["secret"], ["secret", "another secret"], ["another secret", "secret"]):
    layer = RedisChannelLayer(symmetric_encryption_keys=secrets)
    plaintext = os.urandom(40)
    token = layer.crypter.encrypt(plaintext)
    layer_tokens.append({
        "secrets": secrets,
        "plaintext": plaintext.hex(),
        "token": token.decode("ascii"),
        # Decrypts with any list that holds the first secret, in any position.
        "opensWith": [[secrets[0]], ["other", secrets[0]], list(reversed(secrets))],
        "refusedBy": [[s for s in SECRETS if s != secrets[0]]],
    })

base = vectors[1]["token"]
raw = bytearray(base64.urlsafe_b64decode(base))


def encode(data):
    return base64.urlsafe_b64encode(bytes(data)).decode("ascii")


def flipped(index):
    data = bytearray(raw)
    data[index] ^= 1
    return encode(data)


invalid = [
    {"why": "not base64", "token": "not*a*token"},
    {"why": "empty", "token": ""},
    {"why": "wrong version byte", "token": encode(b"\x81" + raw[1:])},
    {"why": "too short", "token": encode(raw[:8])},
    {"why": "timestamp altered", "token": flipped(5)},
    {"why": "iv altered", "token": flipped(12)},
    {"why": "ciphertext altered", "token": flipped(30)},
    {"why": "signature altered", "token": flipped(len(raw) - 1)},
    {"why": "signature cut", "token": encode(raw[:-1])},
]
for case in invalid:
    try:
        Fernet(keys[1]["fernetKey"]).decrypt(case["token"])
    except Exception as error:  # InvalidToken
        case["python"] = type(error).__name__
    else:
        raise AssertionError(case)
invalid_key = vectors[1]["secret"]

out = {
    "source": "cryptography.fernet via channels_redis.core.RedisChannelLayer.make_fernet (Debian packages)",
    "keys": keys,
    "vectors": vectors,
    "layerTokens": layer_tokens,
    "invalid": {"secret": invalid_key, "tokens": invalid},
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "fernet.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(f"wrote {path}")
