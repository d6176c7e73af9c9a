"""DSSE envelopes: PAE bytes, signing, strict parsing, verification failures."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from b2release.errors import VerificationError
from b2release.formats import dsse
from b2release.formats.signature import load_public_key, load_signing_key


def _write_key(tmp_path, name: str, algorithm: str):
    private = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ecdsa-p256" else ed25519.Ed25519PrivateKey.generate()
    key_path = tmp_path / f"{name}.key"
    pub_path = tmp_path / f"{name}.pub"
    key_path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    pub_path.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo))
    return load_signing_key(key_path), load_public_key(pub_path)


@pytest.fixture(params=["ecdsa-p256", "ed25519"])
def keypair(tmp_path, request):
    return _write_key(tmp_path, "release", request.param)


@pytest.fixture
def other_keypair(tmp_path):
    return _write_key(tmp_path, "other", "ecdsa-p256")


def test_pae_matches_the_spec_example():
    # The example from the DSSE protocol spec: type "http://example.com/HelloWorld", body "hello world".
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert dsse.pae("", b"") == b"DSSEv1 0  0 "


def test_pae_lengths_are_utf8_byte_counts():
    assert dsse.pae("t\u00e9", "\u00fc".encode()) == "DSSEv1 3 t\u00e9 2 \u00fc".encode()


def test_sign_serialize_verify_round_trip(keypair):
    key, pub = keypair
    line = dsse.sign(b'{"a":1}\n', key).to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    doc = json.loads(line)
    assert set(doc) == {"payload", "payloadType", "signatures"}
    assert doc["payloadType"] == dsse.INTOTO_PAYLOAD_TYPE
    assert doc["signatures"][0]["keyid"] == key.key_id
    env = dsse.verify(line, pub, "x.intoto.jsonl")
    assert env.payload == b'{"a":1}\n'
    # The signature is over the PAE, not over the payload alone.
    pub.verify(dsse.pae(dsse.INTOTO_PAYLOAD_TYPE, b'{"a":1}\n'), env.signatures[0].sig, "pae")
    with pytest.raises(VerificationError):
        pub.verify(b'{"a":1}\n', env.signatures[0].sig, "payload")


def _tamper(line: bytes, **changes) -> bytes:
    doc = json.loads(line)
    for key, value in changes.items():
        doc[key] = value
    return json.dumps(doc).encode()


def test_changed_payload_or_type_fails(keypair):
    key, pub = keypair
    line = dsse.sign(b"statement", key).to_line()
    bad = _tamper(line, payload=base64.b64encode(b"statemenT").decode())
    with pytest.raises(VerificationError, match=r"^p\.jsonl: DSSE signature by key .* does not verify"):
        dsse.verify(bad, pub, "p.jsonl")
    # Same payload re-labelled with another type: refused by type, and the signature would not match either.
    relabelled = _tamper(line, payloadType="application/vnd.other+json")
    with pytest.raises(VerificationError, match="payloadType is 'application/vnd.other\\+json'"):
        dsse.verify(relabelled, pub, "p.jsonl")
    with pytest.raises(VerificationError, match="does not verify"):
        dsse.verify(relabelled, pub, "p.jsonl", payload_type="application/vnd.other+json")


def test_other_key_fails(keypair, other_keypair):
    key, _ = keypair
    other_key, other_pub = other_keypair
    line = dsse.sign(b"statement", key).to_line()
    with pytest.raises(VerificationError, match=r"p\.jsonl: no signature by public key"):
        dsse.verify(line, other_pub, "p.jsonl")
    # A signature by another key that claims our key id does not verify.
    forged = dsse.Envelope(dsse.INTOTO_PAYLOAD_TYPE, b"statement",
                           (dsse.Signature(key.key_id, other_key.sign(dsse.pae(dsse.INTOTO_PAYLOAD_TYPE, b"statement"))),))
    with pytest.raises(VerificationError, match="does not verify"):
        dsse.verify(forged.to_line(), keypair[1], "p.jsonl")


def test_one_good_signature_among_several_is_enough(keypair, other_keypair):
    key, pub = keypair
    other_key, _ = other_keypair
    env = dsse.sign(b"s", key)
    both = dsse.Envelope(env.payload_type, env.payload, (dsse.sign(b"s", other_key).signatures[0], env.signatures[0]))
    assert dsse.verify(both.to_line(), pub, "p").payload == b"s"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(extra=1), "exactly the keys"),
    (lambda d: d.pop("signatures"), "exactly the keys"),
    (lambda d: d.update(signatures=[]), "non-empty list"),
    (lambda d: d["signatures"][0].update(extra="x"), r"signatures\[0\] must have exactly"),
    (lambda d: d["signatures"][0].pop("keyid"), r"signatures\[0\] must have exactly"),
    (lambda d: d.update(payload=d["payload"] + "\n"), "not valid base64"),
    (lambda d: d.update(payload=d["payload"].replace("=", "")), "base64"),
    (lambda d: d.update(payload="c3RhdGVtZW50-_"), "base64"),
    (lambda d: d["signatures"][0].update(sig="!!!!"), r"signatures\[0\]\.sig is not valid base64"),
    (lambda d: d.update(payloadType=""), "payloadType must be a non-empty string"),
])
def test_strict_parsing(keypair, mutate, message):
    key, pub = keypair
    doc = json.loads(dsse.sign(b"statements", key).to_line())
    mutate(doc)
    with pytest.raises(VerificationError, match=message):
        dsse.verify(json.dumps(doc).encode(), pub, "p.jsonl")


def test_non_canonical_base64_padding_bits_refused():
    # "QR==" and "QQ==" both decode to b"A" with lenient decoders; only "QQ==" is accepted.
    assert dsse.b64decode_strict("QQ==", "x") == b"A"
    with pytest.raises(VerificationError, match="not canonical base64"):
        dsse.b64decode_strict("QR==", "x")


@pytest.mark.parametrize("data, message", [
    (b"", "exactly one DSSE envelope line, found 0"),
    (b"{}\n{}\n", "found 2"),
    (b"[1]", "exactly the keys"),
    (b"{not json", "not a valid JSON envelope"),
    (b'{"payload":"","payload":"","payloadType":"t","signatures":[]}', "duplicate key"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_malformed_files(keypair, data, message):
    with pytest.raises(VerificationError, match=message):
        dsse.verify(data, keypair[1], "p.jsonl")
