"""Tagged JSON: every value msgpack carries, in JSON, so that nothing is lost between Python and
TypeScript (the same rules as TaggedJson.ts):

  None, True, False, str  -> null, true, false, a JSON string
  int                     -> {"$int": "<decimal>"}       (any size: int64 and uint64 bounds too)
  float                   -> {"$float": "<repr>"}        ("nan", "inf", "-inf", "-0.0", "1.5", ...)
  bytes                   -> {"$bytes": "<base64>"}
  list / tuple            -> a JSON array
  dict                    -> {"$map": [[key, value], ...]} (keys tagged too; order kept)

A plain JSON number is read as an int when whole, else as a float (for hand-written requests).
"""
import base64
import math


def tag(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"$int": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"$float": "nan"}
        return {"$float": repr(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [tag(item) for item in value]
    if isinstance(value, dict):
        return {"$map": [[tag(k), tag(v)] for k, v in value.items()]}
    raise TypeError(f"cannot tag a {type(value).__name__}")


def untag(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, list):
        return [untag(item) for item in value]
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "$int":
            return int(inner)
        if key == "$float":
            return float(inner)
        if key == "$bytes":
            return base64.b64decode(inner)
        if key == "$map":
            return {untag(k): untag(v) for k, v in inner}
    raise ValueError(f"not tagged JSON: {value!r}")
