#!/usr/bin/python3
"""Avro oracle for tests/unit/test-codec.c, built on Debian's python3-avro.

Run with Debian's interpreter (/usr/bin/python3): the pyenv python3 on PATH
does not see python3-avro.

    /usr/bin/python3 avro_oracle.py <schema_dir>  < requests  > responses

Requests and responses are JSON, one per line, answered in order:

  {"op": "canonical", "file": F}
      -> {"pcf": <python3-avro canonical_form of F>,
          "fingerprint": <16 hex digits: CRC-64-AVRO of pcf>}
  {"op": "crc", "hex": H}
      -> {"fingerprint": <16 hex digits: CRC-64-AVRO of the bytes H>}
  {"op": "encode", "file": F, "datum": D}
      -> {"hex": <single-object encoding of D with writer schema F>}
         (strings become UTF-8 bytes where F has bytes or fixed)
  {"op": "decode", "hex": H}
      -> {"schema": <record name>, "datum": D}: the writer schema is looked
         up by fingerprint among <schema_dir>/*.avsc and resolved to the
         current <Name>.avsc, as any consumer would
  any failure -> {"error": <message>}

The CRC-64-AVRO here is deliberately written differently from the C one
(bit by bit from the polynomial, no table), so the two check each other.
"""
import binascii
import glob
import io
import json
import os
import sys

import avro.io
import avro.schema

EMPTY = 0xC15D213AA4D7A795  # fingerprint of the empty string (Avro spec)
MAGIC = b"\xc3\x01"


def crc64_avro(data: bytes) -> int:
    """Rabin fingerprint, one bit at a time (the spec's reference loop)."""
    fp = EMPTY
    for byte in data:
        fp ^= byte
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY if fp & 1 else 0)
    return fp


def load(path):
    with open(path, encoding="utf-8") as f:
        return avro.schema.parse(f.read())


def fingerprint(schema) -> int:
    return crc64_avro(schema.canonical_form.encode("utf-8"))


def coerce(schema, datum):
    """JSON has no bytes: turn strings into bytes where the schema says
    bytes or fixed (UTF-8), picking union branches by validation."""
    t = schema.type
    if t in ("bytes", "fixed") and isinstance(datum, str):
        return datum.encode("utf-8")
    if t in ("record", "error") and isinstance(datum, dict):
        return {f.name: coerce(f.type, datum[f.name])
                for f in schema.fields if f.name in datum}
    if t == "array" and isinstance(datum, list):
        return [coerce(schema.items, d) for d in datum]
    if t == "map" and isinstance(datum, dict):
        return {k: coerce(schema.values, v) for k, v in datum.items()}
    if t == "union":
        for branch in schema.schemas:
            value = coerce(branch, datum)
            if avro.io.validate(branch, value):
                return value
    return datum


class Oracle:
    def __init__(self, schema_dir):
        self.dir = schema_dir
        self.by_fp = {}  # fingerprint -> (record name, writer schema)
        for path in sorted(glob.glob(os.path.join(schema_dir, "*.avsc"))):
            schema = load(path)
            self.by_fp[fingerprint(schema)] = (schema.name, schema)

    def canonical(self, req):
        schema = load(req["file"])
        return {"pcf": schema.canonical_form,
                "fingerprint": "%016x" % fingerprint(schema)}

    def crc(self, req):
        return {"fingerprint": "%016x" % crc64_avro(bytes.fromhex(req["hex"]))}

    def encode(self, req):
        schema = load(req["file"])
        body = io.BytesIO()
        avro.io.DatumWriter(schema).write(coerce(schema, req["datum"]),
                                          avro.io.BinaryEncoder(body))
        out = MAGIC + fingerprint(schema).to_bytes(8, "little") + body.getvalue()
        return {"hex": out.hex()}

    def decode(self, req):
        data = bytes.fromhex(req["hex"])
        if len(data) < 10 or data[:2] != MAGIC:
            raise ValueError("not single-object encoded")
        fp = int.from_bytes(data[2:10], "little")
        if fp not in self.by_fp:
            raise ValueError("unknown fingerprint %016x" % fp)
        name, writer = self.by_fp[fp]
        reader = load(os.path.join(self.dir, name + ".avsc"))
        body = io.BytesIO(data[10:])
        datum = avro.io.DatumReader(writer, reader).read(
            avro.io.BinaryDecoder(body))
        if body.tell() != len(data) - 10:
            raise ValueError("%d trailing bytes" % (len(data) - 10 - body.tell()))
        return {"schema": name, "datum": datum}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: avro_oracle.py <schema_dir>")
    oracle = Oracle(sys.argv[1])
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            resp = getattr(oracle, req["op"])(req)
        except Exception as exc:  # report, keep answering
            resp = {"error": "%s: %s" % (type(exc).__name__, exc)}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
