"""How payloads travel to Temporal: compressed when large, then encrypted, so the server never holds plain text.

Compression: Temporal refuses a payload over 2 MiB and warns from 512 KiB. Program data is repetitive JSON (the
same keys for every participant), which zlib shrinks about tenfold, so a 5,000-person program's state fits
easily. A compressed payload says `binary/zlib` in its metadata and wraps the whole original payload.

Encryption: what a pair writes to each other (check-in recaps) and survey answers travel as update, activity and
state payloads, which Temporal keeps in its history. Every payload is sealed with AES-256-GCM under the active
key; its metadata says `binary/encrypted` and names the key (`encryption-key-id`), so payloads sealed before a
key rotation stay readable as long as their key stays in the keyring. Compression comes first (ciphertext does
not compress); only payloads over 128 KiB are compressed, which are rosters and program state, never recaps.

Decoding passes through any payload it did not encode, so histories written before encryption still replay.
"""

import base64
import binascii
import dataclasses
import hashlib
import os
import zlib
from collections.abc import Mapping, Sequence
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ZLIB = b"binary/zlib"
COMPRESS_ABOVE = 128 * 1024  # bytes; well under the 512 KiB warning, above nearly every everyday payload
ENCRYPTED = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per payload (2^32 payloads per key keep collisions negligible)


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


class UnknownKeyError(ValueError):
    """A payload names a key this process does not have: add it to the keyring (FLIPSIDE_CODEC_KEYS)."""


class UnreadablePayloadError(ValueError):
    """A payload failed authentication: the key material for its id is wrong, or the payload was altered."""


@dataclasses.dataclass(frozen=True)
class Keyring:
    """AES-256 keys by id, and the id new payloads are sealed with. Old keys stay to read old payloads."""

    keys: Mapping[str, bytes] = dataclasses.field(repr=False)  # never in a log line or a traceback
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ValueError(f"the active key id {self.active!r} is not among the keys ({', '.join(self.keys)})")
        for key_id, key in self.keys.items():
            if not key_id or any(c in key_id for c in ":, \n"):
                raise ValueError(f"key id {key_id!r} must be non-empty, without ':', ',' or spaces")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")

    @classmethod
    def parse(cls, text: str, active: str = "") -> "Keyring":
        """From `id1:base64key,id2:base64key`; the active id defaults to the only key when there is one."""
        keys: dict[str, bytes] = {}
        for entry in filter(None, (e.strip() for e in text.split(","))):
            key_id, sep, encoded = entry.partition(":")
            if not sep:
                raise ValueError(f"key entry {key_id!r} is not `id:base64key`")
            if key_id.strip() in keys:
                raise ValueError(f"key id {key_id.strip()!r} is listed twice")
            try:
                keys[key_id.strip()] = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error as error:
                raise ValueError(f"key {key_id.strip()!r} is not valid base64") from error
        if not keys:
            raise ValueError("no keys given: expected `id:base64key[,id:base64key...]`")
        if not active:
            if len(keys) > 1:
                raise ValueError("several keys given: name the one to encrypt with (FLIPSIDE_CODEC_KEY_ID)")
            active = next(iter(keys))
        return cls(keys=keys, active=active)

    @classmethod
    def generate(cls) -> "Keyring":
        """A fresh single-key keyring; its id is derived from the key, so a regenerated key never reuses an id."""
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        key_id = key_fingerprint(key)
        return cls(keys={key_id: key}, active=key_id)

    def serialise(self) -> str:
        """The `id:base64key,...` form `parse` reads, active key first."""
        order = [self.active, *(k for k in self.keys if k != self.active)]
        return ",".join(f"{k}:{base64.b64encode(self.keys[k]).decode()}" for k in order)


def key_fingerprint(key: bytes) -> str:
    return "k-" + hashlib.sha256(key).hexdigest()[:12]


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM per payload: a random nonce, the key id bound in as associated data, the id in the metadata."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) if p.metadata.get("encoding") == ENCRYPTED else p for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        key_id = self.keyring.active
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCRYPTED, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(self._ciphers)
            raise UnknownKeyError(
                f"payload was encrypted with key {key_id!r}, which this process does not have (it has: {known}); "
                "add that key to FLIPSIDE_CODEC_KEYS"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode()))
        except InvalidTag as error:
            raise UnreadablePayloadError(
                f"payload under key {key_id!r} failed authentication: wrong key for that id, or altered"
            ) from error


class CodecChain(PayloadCodec):
    """Codecs applied in order on the way out and in reverse on the way in."""

    def __init__(self, *codecs: PayloadCodec) -> None:
        self.codecs = codecs

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = list(payloads)
        for codec in self.codecs:
            out = await codec.encode(out)
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = list(payloads)
        for codec in reversed(self.codecs):
            out = await codec.decode(out)
        return out


def payload_codec(keyring: Keyring) -> CodecChain:
    """Compress large payloads, then encrypt every payload: what the codec server also applies."""
    return CodecChain(CompressionCodec(), EncryptionCodec(keyring))


def data_converter(keyring: Keyring) -> DataConverter:
    """The converter of every client and worker in production (settings.connect): pydantic, compressed, sealed."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=payload_codec(keyring))


# Pydantic models, large payloads compressed, no encryption: the recorded replay histories and the tests that
# read payloads use it (tests/integration/test_encryption.py runs a program through `data_converter` instead). A
# client with this converter can read histories written before encryption, never encrypted ones.
DATA_CONVERTER: DataConverter = dataclasses.replace(pydantic_data_converter, payload_codec=CompressionCodec())


M = TypeVar("M", bound=BaseModel)


class Sealer:
    """Seals a value for storage outside Temporal (the program record) exactly as the codec seals a payload: the
    same keys, so key rotation covers it, and text that only a process holding the keyring can open."""

    def __init__(self, keyring: Keyring) -> None:
        self.codec = EncryptionCodec(keyring)

    def seal(self, value: BaseModel) -> str:
        payload = Payload(metadata={"encoding": b"json/plain"}, data=value.model_dump_json().encode())
        return base64.b64encode(self.codec.seal(payload).SerializeToString()).decode()

    def open(self, sealed: str, model: type[M]) -> M:
        payload = self.codec.open(Payload.FromString(base64.b64decode(sealed)))
        return model.model_validate_json(payload.data)
