"""b2release.log: text and JSON lines on the current stderr, redacted, with a correlation id."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from b2release import log
from b2release import redact as redact_mod
from b2release.redact import register_secret

_LOGGERS = (log.LOGGER_NAME, "azure", "urllib3")


@pytest.fixture(autouse=True)
def _restore_loggers(monkeypatch):
    """setup() changes process-wide loggers: put them back as they were, and isolate secrets."""
    monkeypatch.setattr(redact_mod, "_secrets", set())
    saved = {name: (list(lg.handlers), lg.level, lg.propagate) for name in _LOGGERS for lg in [logging.getLogger(name)]}
    yield
    for name, (handlers, level, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers = handlers
        lg.setLevel(level)
        lg.propagate = propagate


class Stderr:
    """What reached sys.stderr during the test (pytest's capture is the current stderr)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]):
        self.capsys = capsys
        self.text = ""

    def getvalue(self) -> str:
        self.text += self.capsys.readouterr().err
        return self.text

    def clear(self) -> None:
        self.getvalue()
        self.text = ""


@pytest.fixture
def stderr(capsys) -> Stderr:
    capsys.readouterr()
    return Stderr(capsys)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_text_format_prefixes_warnings_and_errors_only(stderr):
    logger = log.setup("text", 0, "cid")
    logger.info("plain info")
    logger.warning("careful")
    log.get("build").error("broken %s", "thing")
    assert stderr.getvalue() == "plain info\nwarning: careful\nerror: broken thing\n"


def test_json_format_one_object_per_line_with_the_documented_keys(stderr):
    log.setup("json", 0, "corr-123")
    log.get("scan").info("first %d", 1)
    log.get().warning("second\nline")  # a newline in the message stays inside its JSON string
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"ts", "level", "logger", "msg", "correlation_id"}
    assert first["level"] == "info" and first["logger"] == "b2release.scan" and first["msg"] == "first 1"
    assert first["correlation_id"] == "corr-123"
    assert second["level"] == "warning" and second["logger"] == "b2release" and second["msg"] == "second\nline"
    assert first["ts"].endswith("Z") and len(first["ts"]) == len("2024-01-01T00:00:00Z")


def test_json_fields_and_stage_are_merged_into_the_line(stderr):
    log.setup("json", 0, "cid")
    log.get().error("failed", extra={"fields": {"exit_code": 3, "error": "tool"}, "stage": "sign"})
    (doc,) = json_lines(stderr.getvalue())
    assert doc["exit_code"] == 3 and doc["error"] == "tool" and doc["stage"] == "sign"
    assert doc["msg"] == "failed" and doc["level"] == "error"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_messages_and_arguments_are_redacted(stderr, fmt):
    register_secret("registered-secret-1")
    logger = log.setup(fmt, 0, "cid")
    logger.warning("value %s and url %s", "registered-secret-1", "https://h/x?sv=1&sig=SIGSECRET")
    out = stderr.getvalue()
    assert "registered-secret-1" not in out and "SIGSECRET" not in out
    assert "sig=***" in out


def test_json_fields_are_redacted_too(stderr):
    """log.py promises 'always redacted': structured fields are part of the line."""
    register_secret("registered-secret-2")
    log.setup("json", 0, "cid")
    log.get().error("failed", extra={"fields": {"cause": "ConnectionError('https://h/x?sig=registered-secret-2')"}})
    assert "registered-secret-2" not in stderr.getvalue()


def _raise_with_secret() -> None:
    raise RuntimeError("boom while using registered-secret-3 on https://h/x?sig=SIGSECRET")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_exception_text_is_shown_only_at_debug_and_redacted(stderr, fmt):
    register_secret("registered-secret-3")
    logger = log.setup(fmt, 1, "cid")
    try:
        _raise_with_secret()
    except RuntimeError:
        logger.exception("operation failed")
    out = stderr.getvalue()
    assert "Traceback" in out and "RuntimeError: boom while using" in out
    assert "registered-secret-3" not in out and "SIGSECRET" not in out

    stderr.clear()
    logger = log.setup(fmt, 0, "cid")
    try:
        _raise_with_secret()
    except RuntimeError:
        logger.exception("operation failed")
    out = stderr.getvalue()
    assert "operation failed" in out and "Traceback" not in out and "boom" not in out


@pytest.mark.parametrize(("verbosity", "level"), [(-2, log.RESULT), (-1, log.RESULT), (0, logging.INFO),
                                                  (1, logging.DEBUG), (3, logging.DEBUG)])
def test_verbosity_sets_the_level(stderr, verbosity, level):
    logger = log.setup("text", verbosity, "cid")
    assert logger.level == level
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.log(log.RESULT, "r")  # a command's result line survives -q
    expected = {log.RESULT: "r\n", logging.INFO: "i\nwarning: w\nr\n", logging.DEBUG: "d\ni\nwarning: w\nr\n"}
    assert stderr.getvalue() == expected[level]


def test_the_handler_writes_to_the_current_stderr(monkeypatch):
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logger = log.setup("text", 0, "cid")
    logger.info("to the first")
    monkeypatch.setattr(sys, "stderr", second)  # swapped after setup
    logger.info("to the second")
    assert first.getvalue() == "to the first\n"
    assert second.getvalue() == "to the second\n"


def test_setup_twice_leaves_one_handler_with_the_latest_settings(stderr):
    log.setup("text", 0, "one")
    logger = log.setup("json", 0, "two")
    assert len(logger.handlers) == 1 and logger.propagate is False
    logger.info("once")
    (doc,) = json_lines(stderr.getvalue())  # one line, not one per setup call
    assert doc["correlation_id"] == "two"


@pytest.mark.parametrize("name", ["azure", "urllib3"])
def test_azure_and_urllib3_are_quieted_and_redacted(stderr, name):
    log.setup("text", 1, "cid")  # even at -v, the SDKs only report warnings
    other = logging.getLogger(f"{name}.core.pipeline")
    other.info("Request URL: 'https://acct.blob.core.windows.net/c?sig=SDKSECRET'")
    other.warning("retrying https://acct.blob.core.windows.net/c?sv=1&sig=SDKSECRET")
    assert stderr.getvalue() == "warning: retrying https://acct.blob.core.windows.net/c?sv=1&sig=***\n"
    assert logging.getLogger(name).propagate is False

    stderr.clear()
    log.setup("text", 2, "cid")  # -vv: their debug output too, still redacted
    other.debug("Request URL: 'https://acct.blob.core.windows.net/c?sig=SDKSECRET'")
    assert "SDKSECRET" not in stderr.getvalue() and "Request URL" in stderr.getvalue()


def test_new_correlation_id(monkeypatch):
    monkeypatch.setenv("B2RELEASE_CORRELATION_ID", "from-ci-123")
    assert log.new_correlation_id() == "from-ci-123"
    monkeypatch.setenv("B2RELEASE_CORRELATION_ID", "")
    generated = log.new_correlation_id()
    assert len(generated) == 32 and int(generated, 16) >= 0
    monkeypatch.delenv("B2RELEASE_CORRELATION_ID")
    assert log.new_correlation_id() != log.new_correlation_id()


def test_get_names_children_of_the_b2release_logger():
    assert log.get().name == "b2release"
    assert log.get("http").name == "b2release.http"
