"""Logging to stderr, as text or JSON lines, always redacted, with a correlation id."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid

from b2release.redact import redact, redact_obj

LOGGER_NAME = "b2release"
# A command's result line: kept by -q (which drops warnings and info), so a log shipper
# always learns how a command ended.
RESULT = 35
logging.addLevelName(RESULT, "RESULT")


def new_correlation_id() -> str:
    # CI chains that run stages as separate jobs may pass one id through all of them.
    return os.environ.get("B2RELEASE_CORRELATION_ID") or uuid.uuid4().hex


class _RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, correlation_id: str):
        super().__init__()
        self.fmt = fmt
        self.correlation_id = correlation_id

    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        if record.exc_info and logging.getLogger(LOGGER_NAME).isEnabledFor(logging.DEBUG):
            message += "\n" + redact(self.formatException(record.exc_info))
        if self.fmt == "json":
            doc = {
                "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
                "level": record.levelname.lower(),
                "logger": record.name,
                "msg": message,
                "correlation_id": self.correlation_id,
            }
            stage = getattr(record, "stage", None)
            if stage:
                doc["stage"] = stage
            # Structured fields a caller adds with extra={"fields": {...}} (the CLI's error line).
            doc.update(redact_obj(getattr(record, "fields", None) or {}))
            return json.dumps(doc, sort_keys=True)
        prefix = {"WARNING": "warning: ", "ERROR": "error: "}.get(record.levelname, "")
        return f"{prefix}{message}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of each record, not at setup time."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns it; the property wins
        pass


def setup(log_format: str, verbosity: int, correlation_id: str) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    # Always the *current* stderr: tests (and embedding callers) swap sys.stderr between calls.
    handler = _StderrHandler()
    handler.setFormatter(_RedactingFormatter(log_format, correlation_id))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbosity > 0 else RESULT if verbosity < 0 else logging.INFO)
    # Azure SDK and urllib3 are chatty at INFO and may log URLs: only warnings, redacted.
    for noisy in ("azure", "urllib3"):
        other = logging.getLogger(noisy)
        other.handlers = [handler]
        other.propagate = False
        other.setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    return logger


def get(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
