"""klok's wire format in Python, written independently of the C codec.

Avro single-object encoding: C3 01, the CRC-64-AVRO fingerprint (little-endian) of the writer
schema's Parsing Canonical Form, then the Avro binary body.  Used by the end-to-end tests to read
and write topics the way any other Avro client would.  Run with Debian's /usr/bin/python3
(python3-avro).
"""
import glob
import io
import os
import struct

import avro.io
import avro.schema

EMPTY = 0xC15D213AA4D7A795


def _table():
    t = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        t.append(fp)
    return t


_T = _table()


def crc64_avro(data: bytes) -> int:
    fp = EMPTY
    for b in data:
        fp = (fp >> 8) ^ _T[(fp ^ b) & 0xFF]
    return fp


class Wire:
    """The current schema of every record name, and every schema by fingerprint."""

    def __init__(self, schema_dir):
        self.by_name = {}
        self.by_fp = {}
        for path in sorted(glob.glob(os.path.join(schema_dir, "*.avsc"))):
            with open(path) as f:
                schema = avro.schema.parse(f.read())
            fp = crc64_avro(schema.canonical_form.encode())
            base = os.path.basename(path)[: -len(".avsc")]
            self.by_fp[fp] = (schema.name, schema)
            if "." not in base:
                self.by_name[schema.name] = (fp, schema)

    def encode(self, name, record) -> bytes:
        fp, schema = self.by_name[name]
        buf = io.BytesIO()
        buf.write(b"\xc3\x01" + struct.pack("<Q", fp))
        avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(buf))
        return buf.getvalue()

    def decode(self, data: bytes):
        """Returns (record name, dict); raises ValueError on anything malformed."""
        if len(data) < 10 or data[:2] != b"\xc3\x01":
            raise ValueError("not a single-object encoded record")
        (fp,) = struct.unpack("<Q", data[2:10])
        if fp not in self.by_fp:
            raise ValueError("unknown fingerprint %016x" % fp)
        name, writer = self.by_fp[fp]
        reader = self.by_name[name][1]
        dec = avro.io.BinaryDecoder(io.BytesIO(data[10:]))
        return name, avro.io.DatumReader(writer, reader).read(dec)
