"""The whole chain on the real sample connector, as CI and `make demo` run it.

build (Mono xbuild) -> compat (empty store: the API baseline) -> scan (bundled advisories) ->
sign (osslsigncode, dev cert from `keys generate`) -> package -> upload (file:// store, two
tenants) -> purge (none),
then the auditor's offline checks: `b2release verify --ca` and `osslsigncode verify`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, run_subprocess
from tests.fixtures.build import require_tool
from tests.fixtures.configs import release_config


@pytest.fixture
def released(tmp_path, dev_keys):
    require_tool("xbuild")
    require_tool("osslsigncode")
    require_tool("nunit-console")
    cfg = release_config(tmp_path / "b2release.toml", dev_keys,
                         REPO / "examples" / "enventa-connector" / "Enventa.Connector.sln",
                         tail=f'[store]\nurl = "file://{tmp_path / "releases"}"\ntenants = ["acme", "globex"]\n'
                              '[cdn]\nprovider = "none"\n')
    work = tmp_path / "dist"
    r = run_subprocess("--config", cfg, "--work-dir", work, "--json", "release", "--version", "1.4.0",
                       cwd=tmp_path, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert r.exit_code == 0, r.output
    return work, json.loads(r.stdout), cfg


def test_release_chain_on_the_sample_connector(released, dev_keys):
    work, doc, cfg = released
    ran = {s["stage"]: s["status"] for s in doc["stages"]}
    assert ran["build"] == ran["test"] == ran["compat"] == ran["scan"] == ran["sign"] == ran["package"] == "ok"
    assert ran["upload"] == "ok" and ran.get("purge") == "skipped"
    built = sorted(p.name for p in (work / "build").iterdir())
    assert "Enventa.Connector.dll" in built and "Enventa.Connector.Cli.exe" in built
    # The dev certificate from `keys generate` signed both PE files, and osslsigncode agrees.
    for name in ("Enventa.Connector.dll", "Enventa.Connector.Cli.exe"):
        proc = subprocess.run(["osslsigncode", "verify", "-CAfile", str(dev_keys / "codesign.crt"), "-ignore-cdp",
                               "-in", str(work / "build" / name)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = json.loads((work / "manifest.json").read_text())
    assert manifest["version"] == "1.4.0"
    assert manifest["build"]["tool"] == "xbuild"
    assert manifest["signing"]["authenticode"] == "signed"
    assert manifest["scan"]["fail_on"] == "high"
    assert [a["path"] for a in manifest["attachments"]] == [
        "Enventa.Connector.Cli.api.txt", "Enventa.Connector.api.txt", "sbom.cdx.json"]
    assert manifest["compat"] == {"baseline": True}  # the first release: nothing to compare with


def test_auditor_verifies_the_sample_release_offline(released, dev_keys, other_keys):
    work, _, _ = released
    zip_path = work / "enventa-connector-1.4.0.zip"
    r = run_subprocess("--json", "verify", zip_path, "--public-key", dev_keys / "release-signing.pub",
                       "--ca", dev_keys / "codesign.crt")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    signed = {a["file"] for a in report["authenticode"]}
    assert signed == {"Enventa.Connector.dll", "Enventa.Connector.Cli.exe"}
    # Another code-signing certificate as the trust anchor: the same binaries are refused.
    r = run_subprocess("verify", zip_path, "--public-key", dev_keys / "release-signing.pub",
                       "--ca", other_keys / "codesign.crt")
    assert r.exit_code == 1 and "Enventa.Connector" in r.stderr and "Traceback" not in r.output
    # Without --ca (and with cosign's --key spelling): one line says what Authenticode state was seen.
    r = run_subprocess("verify", zip_path, "--key", dev_keys / "release-signing.pub")
    assert r.exit_code == 0, r.output
    assert "Authenticode: 2 of 2 PE files signed (not checked against a CA: pass --ca)" in r.stderr


def test_uploaded_tenant_folders_verify(released, dev_keys, tmp_path):
    """Each tenant container of the file:// store holds the version folder and a signed pointer."""
    from b2release.formats import pointer as pointer_fmt
    from b2release.formats.signature import load_public_key

    work, doc, _ = released
    upload = next(s for s in doc["stages"] if s["stage"] == "upload")
    assert upload["bytes_sent"] > 0
    key = load_public_key(dev_keys / "release-signing.pub")
    for tenant in ("acme", "globex"):
        container = tmp_path / "releases" / f"tenant-{tenant}"
        version_dir = container / "enventa-connector" / "1.4.0"
        r = run_subprocess("verify", version_dir, "--public-key", dev_keys / "release-signing.pub",
                           "--ca", dev_keys / "codesign.crt")
        assert r.exit_code == 0, r.output
        raw = (container / "enventa-connector" / "channels" / "stable.json").read_bytes()
        key.verify(raw, (container / "enventa-connector" / "channels" / "stable.json.sig").read_bytes(), "pointer")
        pointer = pointer_fmt.parse(raw)
        assert pointer.version == "1.4.0" and pointer.sequence == 1
        assert pointer.manifest_sha256 == hashlib.sha256((work / "manifest.json").read_bytes()).hexdigest()


def test_the_versions_inside_the_binaries_hold_the_manifest_to_its_word(released, dev_keys, tmp_path):
    from b2release.formats import manifest as manifest_fmt
    from b2release.formats.manifest import ZIP_MANIFEST, ZIP_SIGNATURE
    from b2release.formats.signature import load_signing_key
    from tests.helpers import rewrite_zip

    work, _, _ = released
    zip_path = work / "enventa-connector-1.4.0.zip"
    manifest_bytes = (work / "manifest.json").read_bytes()
    assert json.loads(manifest_bytes)["build"]["assemblies"] == ["Enventa.Connector", "Enventa.Connector.Cli"]
    r = run_subprocess("--json", "verify", zip_path, "--public-key", dev_keys / "release-signing.pub")
    assert r.exit_code == 0, r.output
    assert "2 stamped assemblies carry version 1.4.0" in json.loads(r.stdout)["checks"]
    # An insider relabels the release as 1.0.0 and signs the new manifest with the real key:
    # every signature holds, but the binaries still say 1.4.0.
    forged_manifest = manifest_fmt.parse(manifest_bytes)
    forged_manifest.version = "1.0.0"
    forged_bytes = forged_manifest.to_bytes()
    signature = load_signing_key(dev_keys / "release-signing.key").sign(forged_bytes)
    forged = tmp_path / "enventa-connector-1.0.0.zip"
    rewrite_zip(zip_path, forged, replace={ZIP_MANIFEST: forged_bytes, ZIP_SIGNATURE: signature})
    r = run_subprocess("verify", forged, "--public-key", dev_keys / "release-signing.pub")
    assert r.exit_code == 1, r.output
    assert "Enventa.Connector.Cli.exe carries version 1.4.0, but the manifest says 1.0.0" in r.stderr


def test_release_from_a_tag_to_one_channel_and_tenant_with_a_closing_summary(tmp_path, dev_keys):
    require_tool("xbuild")
    require_tool("osslsigncode")
    require_tool("nunit-console")
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "examples" / "enventa-connector", repo / "connector",
                    ignore=shutil.ignore_patterns("bin", "obj"))
    # a project path relative to the config's folder, and a relative store URL
    release_config(repo / "b2release.toml", dev_keys, Path("connector/Enventa.Connector.sln"),
                   tail='[store]\nurl = "file://releases"\ntenants = ["acme", "globex"]\n')
    (repo / ".gitignore").write_text("dist/\nreleases/\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "connector"], ["tag", "v2.1.0"]):
        subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
                       check=True)
    r = run_subprocess("--json", "release", "--version-from-tag", "--channel", "beta", "--tenant", "acme",
                       cwd=repo, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["version"] == "2.1.0" and doc["command"] == "release" and doc["status"] == "ok"
    store = repo / "releases"
    assert (store / "tenant-acme" / "enventa-connector" / "channels" / "beta.json").is_file()
    assert not (store / "tenant-globex").exists()  # --tenant narrowed the release to acme
    assert not (store / "tenant-acme" / "enventa-connector" / "channels" / "stable.json").exists()
    summary = doc["summary"]
    assert [s["stage"] for s in summary["stages"]][:2] == ["build", "test"]
    assert all(s["seconds"] is not None and s["seconds"] >= 0 for s in summary["stages"])
    files = {f["name"]: f for f in summary["files"]}
    zip_file = repo / "dist" / "enventa-connector-2.1.0.zip"
    assert files[zip_file.name]["size"] == zip_file.stat().st_size
    assert files[zip_file.name]["sha256"] == hashlib.sha256(zip_file.read_bytes()).hexdigest()
    # Where the one tenant downloads it: the real file in the store (relative store URLs resolved).
    assert list(summary["urls"]) == ["acme"]
    assert Path(summary["urls"]["acme"]).read_bytes() == zip_file.read_bytes()
    # The human run prints the same summary as tables.
    r = run_subprocess("release", "--version-from-tag", "--channel", "beta", "--tenant", "acme", "--from", "package",
                       cwd=repo, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert r.exit_code == 0, r.output
    assert "release files" in r.stderr and "enventa-connector-2.1.0.zip" in r.stderr
    # --channel with no stage that takes it.
    r = run_subprocess("release", "--version", "2.1.0", "--to", "test", "--channel", "beta", cwd=repo)
    assert r.exit_code == 2 and "--channel: no stage this release runs takes it" in r.stderr
