"""b2release.redact: registered secrets and credential patterns are masked everywhere."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from b2release import redact as redact_mod
from b2release.errors import InputError
from b2release.redact import MASK, redact, redact_obj, register_secret, registered, secret_from_env


@pytest.fixture(autouse=True)
def _fresh_secrets(monkeypatch):
    """Each test starts with no registered secrets, and leaves none behind for other tests."""
    monkeypatch.setattr(redact_mod, "_secrets", set())
    monkeypatch.setattr(redact_mod, "_short", {})


def test_redaction_patterns():
    register_secret("tok-ABCDEF123")
    text = ("https://acct.blob.core.windows.net/c/x.zip?sv=2024-01-01&sp=r&sig=abc%2Bdef "
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=S3cr3tKey==;EndpointSuffix=x "
            "Authorization: Bearer tok-ABCDEF123 password=hunter22")
    out = redact(text)
    for leaked in ("abc%2Bdef", "S3cr3tKey==", "tok-ABCDEF123", "hunter22"):
        assert leaked not in out
    assert "sig=***" in out and "AccountKey=***" in out


def test_a_registered_secret_is_masked_wherever_it_appears():
    register_secret("s3cr3t-value")
    out = redact("a s3cr3t-value b (s3cr3t-value) c/s3cr3t-value/d\ns3cr3t-value")
    assert "s3cr3t-value" not in out
    assert out == f"a {MASK} b ({MASK}) c/{MASK}/d\n{MASK}"


def test_the_longest_secret_is_masked_first():
    """A secret that contains another is masked whole, not as '***' plus its leftover tail."""
    register_secret("abcd1234")
    register_secret("abcd1234-TAIL")
    assert redact("x abcd1234-TAIL y abcd1234 z") == f"x {MASK} y {MASK} z"


def test_short_secrets_are_masked_where_they_stand_alone():
    """However short, a secret is masked; a short one only where it is not part of a longer
    word, so that masking it does not shred ordinary text."""
    for value in ("", None):
        register_secret(value)
    assert registered() == frozenset()
    register_secret("q7z")
    assert redact("token=q7z; (q7z) q7z") == f"token={MASK}; ({MASK}) {MASK}"
    assert redact("xq7zx q7z9") == "xq7zx q7z9"
    register_secret("long-enough-secret")  # 8 characters and more: masked anywhere
    assert redact("xlong-enough-secretx") == f"x{MASK}x"


def test_every_form_of_a_secret_is_masked():
    import base64
    from urllib.parse import quote

    secret = "key+with/slashes=="
    register_secret(secret)
    b64 = base64.b64encode(secret.encode()).decode()
    for form in (secret, quote(secret, safe=""), b64, b64.rstrip("=")):
        assert redact(f"[{form}]") == f"[{MASK}]", form


def test_empty_text_is_returned_as_is():
    register_secret("whatever")
    assert redact("") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://h/c/b?sv=1&sig=AAAA&se=2", "https://h/c/b?sv=1&sig=***&se=2"),
        ("https://h/c/b?sig=AAAA", "https://h/c/b?sig=***"),
        ("sig=AAAA&sv=1", "sig=***&sv=1"),
        ("https://h/c/b?SIG=AAAA", "https://h/c/b?SIG=***"),
        ("AccountName=a;AccountKey=KKKK==;EndpointSuffix=x", "AccountName=a;AccountKey=***;EndpointSuffix=x"),
        ("BlobEndpoint=https://h/;SharedAccessSignature=sv=1&sig=SSSS", "BlobEndpoint=https://h/;SharedAccessSignature=***"),
        ("Endpoint=sb://h/;SharedAccessKey=QQQQ=;x=1", "Endpoint=sb://h/;SharedAccessKey=***;x=1"),
        ("Authorization: Bearer eyJ.abc-_~+/=", "Authorization: Bearer ***"),
        ("bearer tok123", "bearer ***"),
        ("password=hunter22 next", "password=*** next"),
        ("Password = hunter22;Server=x", "Password = ***;Server=x"),
        ("pwd=hunter22&x=1", "pwd=***&x=1"),
        ("passphrase: correct-horse", "passphrase: ***"),
    ],
)
def test_credential_patterns(text: str, expected: str):
    assert redact(text) == expected


def test_every_occurrence_of_a_pattern_is_masked_not_just_the_first():
    text = ("first https://a/x?sv=1&sig=FIRSTSIG&se=2 second https://b/y?sig=SECONDSIG "
            "AccountKey=KEYONE; AccountKey=KEYTWO; Bearer TOKONE Bearer TOKTWO "
            "password=PWONE password=PWTWO")
    out = redact(text)
    for leaked in ("FIRSTSIG", "SECONDSIG", "KEYONE", "KEYTWO", "TOKONE", "TOKTWO", "PWONE", "PWTWO"):
        assert leaked not in out, out
    assert out.count("sig=***") == 2
    assert out.count("AccountKey=***") == 2
    assert out.count("Bearer ***") == 2
    assert out.count("password=***") == 2


@pytest.mark.parametrize(
    "text",
    [
        # Azure's REST errors are XML: a SAS URL inside one has its '&' escaped (the secret scanner knows this form)
        "<Url>https://acct.blob.core.windows.net/c/x.zip?sv=2024-01-01&amp;sp=r&amp;sig=LEAKEDSIG&amp;se=2</Url>",
        # multi-line text (an SDK error with the query string on its own line)
        "request failed\nsig=LEAKEDSIG&sv=2024-01-01",
    ],
)
def test_a_sas_signature_is_masked_in_escaped_and_multiline_text(text: str):
    assert "LEAKEDSIG" not in redact(text)


def test_redact_obj_masks_values_in_nested_structures_and_leaves_keys_alone():
    register_secret("topsecret-1")
    doc = {
        "topsecret-1": "plain",  # keys are not masked (they are names, not values)
        "url": "https://h/x?sig=SIGVALUE",
        "nested": {"list": ["ok", "has topsecret-1 inside", {"deep": ("tuple", "Bearer TOKEN1")}]},
        "number": 42,
        "flag": True,
        "none": None,
    }
    out = redact_obj(doc)
    assert out == {
        "topsecret-1": "plain",
        "url": "https://h/x?sig=***",
        "nested": {"list": ["ok", f"has {MASK} inside", {"deep": ["tuple", "Bearer ***"]}]},
        "number": 42,
        "flag": True,
        "none": None,
    }
    assert doc["url"] == "https://h/x?sig=SIGVALUE"  # the input is not modified


def test_secret_from_env_reads_and_registers(monkeypatch):
    monkeypatch.setenv("B2R_TEST_SECRET", "from-the-environment")
    monkeypatch.delenv("B2R_TEST_SECRET_FILE", raising=False)
    assert secret_from_env("B2R_TEST_SECRET") == "from-the-environment"
    assert redact("x from-the-environment y") == f"x {MASK} y"


def test_secret_from_env_prefers_the_variable_over_the_file(monkeypatch, tmp_path: Path):
    (tmp_path / "s").write_text("from-the-file\n")
    monkeypatch.setenv("B2R_TEST_SECRET", "from-the-environment")
    monkeypatch.setenv("B2R_TEST_SECRET_FILE", str(tmp_path / "s"))
    assert secret_from_env("B2R_TEST_SECRET") == "from-the-environment"


def test_secret_from_env_file_strips_the_trailing_newline_and_registers(monkeypatch, tmp_path: Path):
    (tmp_path / "s").write_bytes(b"  file secret value  \r\n")
    monkeypatch.delenv("B2R_TEST_SECRET", raising=False)
    monkeypatch.setenv("B2R_TEST_SECRET_FILE", str(tmp_path / "s"))
    value = secret_from_env("B2R_TEST_SECRET")
    assert value == "  file secret value  "  # only the line ending goes; spaces may be part of a secret
    assert "file secret value" not in redact("leak:   file secret value  !")


def test_secret_from_env_unset_gives_none(monkeypatch):
    monkeypatch.delenv("B2R_TEST_SECRET", raising=False)
    monkeypatch.delenv("B2R_TEST_SECRET_FILE", raising=False)
    assert secret_from_env("B2R_TEST_SECRET") is None
    assert registered() == frozenset()


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_an_unreadable_secret_file_names_the_variable_not_the_content(monkeypatch, tmp_path: Path, kind: str):
    target = tmp_path / "nope" if kind == "missing" else tmp_path
    monkeypatch.delenv("B2R_TEST_SECRET", raising=False)
    monkeypatch.setenv("B2R_TEST_SECRET_FILE", str(target))
    with pytest.raises(InputError) as info:
        secret_from_env("B2R_TEST_SECRET")
    assert "B2R_TEST_SECRET_FILE" in info.value.message
    assert str(target) in info.value.message
    assert info.value.exit_code == 2


def test_a_secret_file_that_is_not_utf8_is_an_input_error(monkeypatch, tmp_path: Path):
    """A NAME_FILE holding bytes that are not UTF-8 (a PFX given by mistake): an InputError naming the
    variable, like any other unreadable file, and never the bytes themselves."""
    secret_file = tmp_path / "s"
    secret_file.write_bytes(b"\xffSECRETBYTES")
    monkeypatch.delenv("B2R_TEST_SECRET", raising=False)
    monkeypatch.setenv("B2R_TEST_SECRET_FILE", str(secret_file))
    with pytest.raises(InputError) as info:
        secret_from_env("B2R_TEST_SECRET")
    assert "B2R_TEST_SECRET_FILE" in info.value.message
    assert "SECRETBYTES" not in info.value.message


def test_register_and_redact_are_thread_safe():
    """Threads registering and redacting at once: no error, and every secret masked afterwards."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(200):
                secret = f"thread{n}-secret{i:03d}"
                register_secret(secret)
                out = redact(f"<{secret}>")
                if out != f"<{MASK}>":
                    raise AssertionError(f"{secret} not masked: {out}")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors[0]
    assert all(f"thread{n}-secret{i:03d}" in registered() for n in range(8) for i in range(200))
    assert redact("thread7-secret199 thread0-secret000") == f"{MASK} {MASK}"
