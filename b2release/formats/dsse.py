"""DSSE v1 envelopes (Dead Simple Signing Envelope), as b2release writes and reads them.

Envelope (one JSON object; b2release writes it as one canonical JSON line, `.intoto.jsonl`):

    {"payload":"<base64(BODY)>","payloadType":"<TYPE>","signatures":[{"keyid":"<KEYID>","sig":"<base64(SIG)>"}]}

- base64 is the standard alphabet with `=` padding (RFC 4648 section 4), no line breaks.
- SIG is the release key's signature over PAE(TYPE, BODY), never over BODY alone:

      PAE(TYPE, BODY) = "DSSEv1" SP LEN(TYPE) SP TYPE SP LEN(BODY) SP BODY

  SP is one space (0x20), LEN is the length in bytes of the UTF-8 string or byte string,
  written in ASCII decimal without leading zeros. Binding TYPE into the signed bytes is what
  stops a signature for one kind of document being replayed as another.
- KEYID is the b2release key id: sha256 hex of the public key's DER SubjectPublicKeyInfo.
  DSSE treats it as an unauthenticated hint; we use it only to pick the signature to check.

Reading is strict, stricter than DSSE's "ignore unknown fields": exactly the keys above,
`signatures` a non-empty list, base64 that decodes and re-encodes to the same text, and
for provenance the payload type `application/vnd.in-toto+json`. An envelope is accepted
when at least one signature carries the expected key id and verifies over the PAE.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from b2release.errors import VerificationError
from b2release.formats import canonical
from b2release.formats.signature import PublicKey, SigningKey

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_ENVELOPE_KEYS = {"payload", "payloadType", "signatures"}
_SIGNATURE_KEYS = {"keyid", "sig"}


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding of (type, body): the bytes that get signed."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: Any, what: str) -> bytes:
    """Standard base64 with padding; anything that does not round-trip is refused.

    `validate=True` refuses characters outside the alphabet; the round-trip check also
    refuses non-zero padding bits, so one byte string has exactly one accepted encoding.
    """
    if not isinstance(text, str):
        raise VerificationError(f"{what} is not a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise VerificationError(f"{what} is not valid base64 (standard alphabet, '=' padding)") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise VerificationError(f"{what} is not canonical base64 (standard alphabet, '=' padding)")
    return data


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "payload": b64encode(self.payload),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": b64encode(s.sig)} for s in self.signatures],
        }

    def to_line(self) -> bytes:
        """One canonical JSON line, LF-terminated: the content of a `.intoto.jsonl` file."""
        return serialize(self)


def sign(payload: bytes, key: SigningKey, payload_type: str = INTOTO_PAYLOAD_TYPE) -> Envelope:
    """An envelope with one signature by `key` over PAE(payload_type, payload)."""
    signature = key.sign(pae(payload_type, payload))
    return Envelope(payload_type, payload, (Signature(key.key_id, signature),))


def serialize(envelope: Envelope) -> bytes:
    return canonical.dumps(envelope.to_dict())


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"duplicate key {key!r}")
        doc[key] = value
    return doc


def parse(data: bytes, what: str) -> Envelope:
    """Parse one envelope strictly (exact keys, strict base64). `what` names the file in errors."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise VerificationError(f"{what}: not UTF-8 text, so not a DSSE envelope") from None
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) != 1:
        raise VerificationError(f"{what}: expected exactly one DSSE envelope line, found {len(lines)}")
    try:
        doc = json.loads(lines[0], object_pairs_hook=_reject_duplicates)
    except ValueError as exc:
        raise VerificationError(f"{what}: not a valid JSON envelope ({exc})") from None
    if not isinstance(doc, dict) or set(doc) != _ENVELOPE_KEYS:
        got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise VerificationError(f"{what}: a DSSE envelope has exactly the keys payload, payloadType, signatures (got {got})")
    payload_type = doc["payloadType"]
    if not isinstance(payload_type, str) or not payload_type:
        raise VerificationError(f"{what}: payloadType must be a non-empty string")
    payload = b64decode_strict(doc["payload"], f"{what}: payload")
    raw_sigs = doc["signatures"]
    if not isinstance(raw_sigs, list) or not raw_sigs:
        raise VerificationError(f"{what}: signatures must be a non-empty list")
    signatures = []
    for index, raw in enumerate(raw_sigs):
        if not isinstance(raw, dict) or set(raw) != _SIGNATURE_KEYS:
            raise VerificationError(f"{what}: signatures[{index}] must have exactly the keys keyid and sig")
        if not isinstance(raw["keyid"], str):
            raise VerificationError(f"{what}: signatures[{index}].keyid must be a string")
        signatures.append(Signature(raw["keyid"], b64decode_strict(raw["sig"], f"{what}: signatures[{index}].sig")))
    return Envelope(payload_type, payload, tuple(signatures))


def verify(data: bytes, public_key: PublicKey, what: str, payload_type: str = INTOTO_PAYLOAD_TYPE) -> Envelope:
    """Parse and verify an envelope; return it when a signature by `public_key` verifies.

    Raises VerificationError (one line, naming `what`) for a malformed envelope, another
    payload type, no signature with the key's id, or a signature that does not verify.
    """
    envelope = parse(data, what)
    if envelope.payload_type != payload_type:
        raise VerificationError(f"{what}: payloadType is {envelope.payload_type!r}, expected {payload_type!r}")
    candidates = [s for s in envelope.signatures if s.keyid == public_key.key_id]
    if not candidates:
        found = ", ".join(sorted({(s.keyid[:16] + "...") if s.keyid else "(empty)" for s in envelope.signatures}))
        raise VerificationError(
            f"{what}: no signature by public key {public_key.key_id[:16]}... (signed by key ids: {found})"
        )
    signed = pae(envelope.payload_type, envelope.payload)
    for candidate in candidates:
        try:
            public_key.verify(signed, candidate.sig, what)
            return envelope
        except VerificationError:
            continue
    raise VerificationError(
        f"{what}: DSSE signature by key {public_key.key_id[:16]}... does not verify "
        "(the statement or its payload type changed after signing)"
    )
