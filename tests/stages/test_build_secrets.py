"""Builds see no secrets: a project whose own targets print every variable they can see
leaves no secret (in any form) in build.log, build-info.json, state.json, --json or stderr.

The build tool runs the project's targets, so a connector (or a dependency's .targets
file) can print anything in its environment. b2release runs tools with an allowlisted
environment and masks every known secret from the moment a command starts.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from tests.conftest import assert_user_error

SECRETS = {
    "CLOUDFLARE_API_TOKEN": "cf-token-Vz9LqJ3m8xYt",
    "AZURE_STORAGE_KEY": "c3RvcmFnZS1rZXktZm9yLXRlc3RzLW9ubHk+/==",
    "AZURE_STORAGE_CONNECTION_STRING": ("DefaultEndpointsProtocol=https;AccountName=acct;"
                                        "AccountKey=Y29ubmVjdGlvbi1zdHJpbmcta2V5Kw==;EndpointSuffix=core.windows.net"),
    "B2RELEASE_KEY_PASSPHRASE": "correct horse battery staple",
    "B2RELEASE_PFX_PASSWORD": "pfx-password-314159",
}

PRINT_EVERYTHING = """
  <Target Name="AfterBuild">
    <Exec Command="env" />
    <Message Importance="high" Text="cf=$(CLOUDFLARE_API_TOKEN) key=$(AZURE_STORAGE_KEY) pass=$(B2RELEASE_KEY_PASSPHRASE)" />
    <Message Importance="high" Text="conn=$(AZURE_STORAGE_CONNECTION_STRING) pfx=$(B2RELEASE_PFX_PASSWORD)" />
  </Target>
</Project>"""


def forms(secret: str) -> list[str]:
    encoded = base64.b64encode(secret.encode()).decode()
    return [secret, quote(secret, safe=""), encoded, encoded.rstrip("=")]


def test_a_build_that_prints_its_environment_leaks_nothing(cli, mono, connector, tmp_path):
    csproj = connector / "src" / "Enventa.Connector" / "Enventa.Connector.csproj"
    csproj.write_text(csproj.read_text(encoding="utf-8").replace("</Project>", PRINT_EVERYTHING), encoding="utf-8")
    work = tmp_path / "dist"
    result = cli("--json", "-v", "--work-dir", work, "build", connector / "Enventa.Connector.sln", "--version", "1.0.0",
                 "--tool", "xbuild", env=SECRETS)
    assert result.exit_code == 0, result.output
    log = (work / "build.log").read_text(encoding="utf-8")
    assert "cf=" in log and "conn=" in log  # the targets ran and printed what they could see
    texts = {"build.log": log, "build-info.json": (work / "build-info.json").read_text(encoding="utf-8"),
             "state.json": (work / "state.json").read_text(encoding="utf-8"), "stdout": result.stdout,
             "stderr": result.stderr}
    for where, text in texts.items():
        for name, secret in SECRETS.items():
            for form in forms(secret):
                assert form not in text, f"{name} ({form!r}) leaked into {where}"
    # Not masked after the fact: the variables never reached the tool at all.
    assert "CLOUDFLARE_API_TOKEN=" not in log and "AZURE_STORAGE_KEY=" not in log


def test_a_secret_build_property_is_masked_everywhere(cli, mono, connector, tmp_path):
    work = tmp_path / "dist"
    secret = "nuget-feed-password-2718"
    result = cli("--json", "-v", "--work-dir", work, "build", connector / "Enventa.Connector.sln", "--version", "1.0.0",
                 "--tool", "xbuild", "--property", f"FeedPassword={secret}")
    assert result.exit_code == 0, result.output
    for path in (work / "build.log", work / "build-info.json", work / "state.json"):
        assert secret not in path.read_text(encoding="utf-8"), path.name
    assert secret not in result.output


def test_a_secret_variable_that_is_malformed_stops_before_the_build(cli, tmp_path, connector):
    token = tmp_path / "token"
    token.write_text("first\nsecond\n")
    result = cli("--work-dir", tmp_path / "dist", "build", connector / "Enventa.Connector.sln", "--version", "1.0.0",
                 env={"CLOUDFLARE_API_TOKEN_FILE": str(token)})
    assert_user_error(result, 2, "CLOUDFLARE_API_TOKEN_FILE")
    assert not (tmp_path / "dist" / "build.log").exists()
