"""Canonical JSON: the bytes depend only on the data (sorted keys, fixed separators, UTF-8, LF)."""

from __future__ import annotations

import json
from typing import Any

from b2release.errors import VerificationError


def dumps(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def loads(data: bytes, what: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"{what} is not valid JSON: {exc}") from None
