"""Payloads too big for Temporal go compressed: a large program's roster and state, a big cohort to match.

Temporal refuses a payload over 2 MiB and warns from 512 KiB. Program data is repetitive JSON (the same keys
for every participant), which zlib shrinks about tenfold, so a 5,000-person program's state fits easily.
Payloads under the threshold stay plain JSON, readable as they are in the Temporal UI; a compressed one says
`binary/zlib` in its metadata and wraps the whole original payload, metadata included.
"""

import dataclasses
import zlib
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ZLIB = b"binary/zlib"
COMPRESS_ABOVE = 128 * 1024  # bytes; well under the 512 KiB warning, above nearly every everyday payload


class CompressionCodec(PayloadCodec):
    def __init__(self, above: int = COMPRESS_ABOVE) -> None:
        self.above = above

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._compress(p) if p.ByteSize() > self.above else p for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._expand(p) if p.metadata.get("encoding") == ZLIB else p for p in payloads]

    @staticmethod
    def _compress(payload: Payload) -> Payload:
        return Payload(metadata={"encoding": ZLIB}, data=zlib.compress(payload.SerializeToString(), level=6))

    @staticmethod
    def _expand(payload: Payload) -> Payload:
        return Payload.FromString(zlib.decompress(payload.data))


# The one converter every client, worker, test and replayer uses: pydantic models, large payloads compressed.
DATA_CONVERTER: DataConverter = dataclasses.replace(pydantic_data_converter, payload_codec=CompressionCodec())
