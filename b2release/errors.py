"""One exception hierarchy; each error owns its exit code and its one-line message.

The CLI catches `B2ReleaseError` once, prints `message` (redacted), and exits with
`exit_code`. Anything else is turned into an `InternalError` (exit 3, one masked line)
by the runner or, outside a command, by the CLI: a user never sees a traceback.
Exit codes (docs/architecture.md): 1 a check failed, 2 usage or configuration, 3 a tool or service.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_TOOL = 3

# The hint shown wherever a missing key file is the likely first-run mistake.
KEYS_HINT = "no key pair yet? `b2release keys generate --out keys` makes a development one"


class B2ReleaseError(Exception):
    """Base class: a failure the user can act on, with a one-line message."""

    exit_code = EXIT_USAGE
    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None, details: dict | None = None):
        # Keep the message on one line: CI logs and the JSON error document rely on it.
        self.message = " ".join(str(message).split())
        self.hint = hint
        self.details = details or {}
        super().__init__(self.message)

    def to_dict(self) -> dict:
        doc = {"error": self.kind, "message": self.message, "exit_code": self.exit_code}
        if self.hint:
            doc["hint"] = self.hint
        if self.details:
            doc["details"] = self.details
        return doc


# --- exit 2: usage and configuration -------------------------------------------------
class UsageError(B2ReleaseError):
    exit_code = EXIT_USAGE
    kind = "usage"


class ConfigError(UsageError):
    kind = "config"


class InputError(UsageError):
    """A file or directory given by the user is missing, unreadable or unsuitable."""

    kind = "input"


class KeyFileError(UsageError):
    """A key or certificate cannot be used (unreadable, wrong passphrase, wrong type)."""

    kind = "key"


# --- exit 1: a check failed ------------------------------------------------------------
class CheckFailed(B2ReleaseError):
    exit_code = EXIT_CHECK_FAILED
    kind = "check"


class VerificationError(CheckFailed):
    kind = "verification"


class StaleInputError(CheckFailed):
    """A stage input recorded in state.json changed on disk since it was recorded."""

    kind = "stale-input"


class PolicyError(CheckFailed):
    kind = "policy"


# --- exit 3: a tool or remote service failed ---------------------------------------------
class ToolError(B2ReleaseError):
    exit_code = EXIT_TOOL
    kind = "tool"


class ToolMissingError(ToolError):
    kind = "tool-missing"


class RemoteError(ToolError):
    kind = "remote"


class InternalError(ToolError):
    """Something no check foresaw (a bug, a disk that vanished): still one masked line, exit 3."""

    kind = "internal"
