"""b2release.errors: each error class owns its exit code, kind and one-line message."""

from __future__ import annotations

import pytest

from b2release import errors
from b2release.errors import (
    B2ReleaseError,
    CheckFailed,
    ConfigError,
    InputError,
    KeyFileError,
    PolicyError,
    RemoteError,
    StaleInputError,
    ToolError,
    ToolMissingError,
    UsageError,
    VerificationError,
)

ALL = [B2ReleaseError, UsageError, ConfigError, InputError, KeyFileError, CheckFailed, VerificationError,
       StaleInputError, PolicyError, ToolError, ToolMissingError, RemoteError]


def test_documented_exit_codes():
    """docs/architecture.md: 0 success, 1 a check failed, 2 usage or configuration, 3 a tool or service."""
    assert (errors.EXIT_OK, errors.EXIT_CHECK_FAILED, errors.EXIT_USAGE, errors.EXIT_TOOL) == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("cls", "code", "kind"),
    [
        (B2ReleaseError, 2, "error"),
        (UsageError, 2, "usage"),
        (ConfigError, 2, "config"),
        (InputError, 2, "input"),
        (KeyFileError, 2, "key"),
        (CheckFailed, 1, "check"),
        (VerificationError, 1, "verification"),
        (StaleInputError, 1, "stale-input"),
        (PolicyError, 1, "policy"),
        (ToolError, 3, "tool"),
        (ToolMissingError, 3, "tool-missing"),
        (RemoteError, 3, "remote"),
    ],
)
def test_exit_code_and_kind_per_class(cls, code, kind):
    exc = cls("something went wrong")
    assert exc.exit_code == code and cls.exit_code == code
    assert exc.kind == kind
    assert exc.to_dict()["exit_code"] == code and exc.to_dict()["error"] == kind


def test_kinds_are_unique():
    """The JSON error document's "error" tells the classes apart."""
    kinds = [cls.kind for cls in ALL]
    assert len(set(kinds)) == len(kinds)


@pytest.mark.parametrize(
    ("parent", "children"),
    [
        (UsageError, [ConfigError, InputError, KeyFileError]),
        (CheckFailed, [VerificationError, StaleInputError, PolicyError]),
        (ToolError, [ToolMissingError, RemoteError]),
    ],
)
def test_subclass_relationships(parent, children):
    assert issubclass(parent, B2ReleaseError)
    for child in children:
        assert issubclass(child, parent)
        with pytest.raises(parent):
            raise child("x")
    others = {UsageError, CheckFailed, ToolError} - {parent}
    for child in children:
        assert not any(issubclass(child, other) for other in others)


def test_every_error_is_an_exception_but_not_a_value_or_os_error():
    for cls in ALL:
        assert issubclass(cls, B2ReleaseError) and issubclass(cls, Exception)
        assert not issubclass(cls, (ValueError, OSError))  # a stray `except ValueError` must not swallow it


def test_message_is_collapsed_to_one_line():
    exc = ToolError("xbuild failed:\n  error CS1002: ; expected\r\n\tat  line 3  ")
    assert exc.message == "xbuild failed: error CS1002: ; expected at line 3"
    assert str(exc) == exc.message and exc.args == (exc.message,)


def test_non_string_messages_are_turned_into_text():
    assert UsageError(42).message == "42"  # type: ignore[arg-type]
    assert InputError(Exception("a\nb")).message == "a b"  # type: ignore[arg-type]


def test_to_dict_has_only_what_is_set():
    assert UsageError("bad flag").to_dict() == {"error": "usage", "message": "bad flag", "exit_code": 2}
    assert UsageError("bad flag", hint="", details={}).to_dict() == {"error": "usage", "message": "bad flag",
                                                                     "exit_code": 2}
    full = PolicyError("scan failed\nthe policy", hint="see scan-report.json", details={"counts": {"high": 1}})
    assert full.to_dict() == {
        "error": "policy",
        "message": "scan failed the policy",
        "exit_code": 1,
        "hint": "see scan-report.json",
        "details": {"counts": {"high": 1}},
    }


def test_hint_and_details_keep_their_values():
    exc = RemoteError("upload failed", hint="check the SAS\nexpiry", details={"attempts": 5})
    assert exc.hint == "check the SAS\nexpiry"  # only the message is collapsed
    assert exc.details == {"attempts": 5}


def test_details_default_is_not_shared_between_instances():
    first, second = ToolError("a"), ToolError("b")
    first.details["stage"] = "build"
    assert second.details == {}
