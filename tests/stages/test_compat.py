"""The compat stage: the public-API gate on real xbuild builds, alone and in `release`.

One xbuild run (a traversal project) builds the connector library of tests/apicompat in
version 1 (twice, from two folders) and one variant per kind of change; the stage tests
hand each variant to `compat` as if the build stage had produced it. The release chain
builds a small git project with the real build stage: 1.4.0, then a removed method.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from b2release.artifacts import BUILD_DIR, BuildRecord, Kind
from b2release.state import StageRecord, State
from tests.apicompat.conftest import CONNECTOR_VARIANTS, CSHARP
from tests.conftest import assert_user_error
from tests.fixtures.build import require_tool
from tests.fixtures.configs import release_config

pytestmark = pytest.mark.mono

PRODUCT = "enventa-connector"
CSPROJ = """<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="14.0" DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup>
    <Configuration Condition=" '$(Configuration)' == '' ">Release</Configuration>
    <OutputType>Library</OutputType>
    <AssemblyName>Enventa.Connector</AssemblyName>
    <TargetFrameworkVersion>v4.8</TargetFrameworkVersion>
    <OutputPath>bin\\Release\\</OutputPath>
    <DebugType>none</DebugType>
    <Deterministic>true</Deterministic>
  </PropertyGroup>
  <ItemGroup><Reference Include="System" /></ItemGroup>
  <ItemGroup>
    <Compile Include="Connector.cs" />
    <Compile Include="Shapes.cs" />
    <Compile Include="Version.cs" />
  </ItemGroup>
  <Import Project="$(MSBuildToolsPath)\\Microsoft.CSharp.targets" />
</Project>
"""
# Beside the connector: the signature shapes whose rendering the API files must get right.
SHAPES = """using System.Collections.Generic;
namespace Enventa.Connector
{
    public class Catalog<TItem> where TItem : class
    {
        public class Page { public TItem[] Items; public int? Next; }
        public bool TryFind<TKey>(TKey key, out TItem item) { item = null; return false; }
        public void Swap(ref int a, ref int b) { }
        public int[,] Grid(decimal? limit, List<int?> counts, params string[][] rows) { return null; }
    }
}
"""
SHAPE_LINES = [
    "type public class Enventa.Connector.Catalog<TItem> : object where TItem : class",
    "member Enventa.Connector.Catalog<TItem>: public bool TryFind<TKey>(TKey key, out TItem item)",
    "member Enventa.Connector.Catalog<TItem>: public void Swap(ref int a, ref int b)",
    "member Enventa.Connector.Catalog<TItem>: public int[,] Grid(decimal? limit, "
    "System.Collections.Generic.List<int?> counts, params string[][] rows)",
    "type public class Enventa.Connector.Catalog<TItem>+Page : object where TItem : class",
    "member Enventa.Connector.Catalog<TItem>+Page: public TItem[] Items",
    "member Enventa.Connector.Catalog<TItem>+Page: public int? Next",
]
VERSION_CS = '[assembly: System.Reflection.AssemblyInformationalVersion("{version}")]\n'
# The kinds the issue names, and what `compat` must say about each (1.4.0 -> 1.5.0).
KINDS = {
    "removed_method": ("Enventa.Connector.Client.Remove(int)", "member Enventa.Connector.Client: public void Remove(int id)",
                       None),
    "changed_parameter_type": ("Enventa.Connector.Client.Get(long)",
                               "member Enventa.Connector.Client: public Enventa.Connector.Order Get(int id)",
                               "member Enventa.Connector.Client: public Enventa.Connector.Order Get(long id)"),
    "changed_enum_value": ("Enventa.Connector.Status.Closed",
                           "member Enventa.Connector.Status: public const Enventa.Connector.Status Closed = 2",
                           "member Enventa.Connector.Status: public const Enventa.Connector.Status Closed = 3"),
    "new_interface_member": ("Enventa.Connector.IOrderSource.Reset()", None,
                             "member Enventa.Connector.IOrderSource: public void Reset()"),
    "reduced_visibility": ("Enventa.Connector.Client.Refresh()",
                           "member Enventa.Connector.Client: public virtual void Refresh()",
                           "member Enventa.Connector.Client: protected virtual void Refresh()"),
}


@pytest.fixture(autouse=True)
def _away_from_the_repo_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ./b2release.toml of the checkout must not apply


def write_project(folder: Path, connector_source: str, version: str = "0.0.0-dev") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Enventa.Connector.csproj").write_text(CSPROJ, encoding="utf-8")
    (folder / "Connector.cs").write_text(connector_source, encoding="utf-8")
    (folder / "Shapes.cs").write_text(SHAPES, encoding="utf-8")
    (folder / "Version.cs").write_text(VERSION_CS.format(version=version), encoding="utf-8")
    return folder / "Enventa.Connector.csproj"


def variant_source(name: str) -> str:
    text = (CSHARP / "Connector.cs").read_text(encoding="utf-8")
    for old, new in CONNECTOR_VARIANTS[name]:
        assert old in text, (name, old)
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    """{name: folder holding Enventa.Connector.dll}: v1 (1.4.0), its copy built elsewhere, each kind."""
    xbuild = require_tool("xbuild")
    root = tmp_path_factory.mktemp("compat-builds")
    projects = {"v1": write_project(root / "v1", variant_source("unchanged"), "1.4.0"),
                "v1-elsewhere": write_project(root / "elsewhere" / "deeper" / "v1", variant_source("unchanged"), "1.4.0")}
    for name in [*KINDS, "new_public_class", "unchanged"]:
        projects[name] = write_project(root / name, variant_source(name))
    items = "\n".join(f'    <P Include="{p}" />' for p in projects.values())
    (root / "all.proj").write_text(
        '<Project ToolsVersion="14.0" DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">\n'
        f'  <ItemGroup>\n{items}\n  </ItemGroup>\n'
        '  <Target Name="Build"><MSBuild Projects="@(P)" Properties="Configuration=Release" /></Target>\n</Project>\n',
        encoding="utf-8")
    proc = subprocess.run([xbuild, "/nologo", "/verbosity:quiet", "all.proj"], cwd=root, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {name: p.parent / "bin" / "Release" for name, p in projects.items()}


def as_built(work: Path, folder: Path, version: str) -> Path:
    """A work dir in which the build stage 'produced' the assemblies of `folder` (version stamped)."""
    state = State(work)
    (work / BUILD_DIR).mkdir(parents=True)
    outputs = []
    for dll in sorted(folder.glob("*.dll")):
        target = work / BUILD_DIR / dll.name
        shutil.copyfile(dll, target)
        art = state.record_artifact(Kind.BINARY, target, "build", extra={"name": dll.name})
        outputs.append({"name": dll.name, "sha256": art.sha256, "size": art.size})
    record = BuildRecord(version=version, source_dir=str(folder), tool="xbuild", outputs=outputs)
    state.record_run(StageRecord(stage="build", status="ok", data=record.to_dict()))
    state.save()
    return work


# --- each kind of change, named in the message --------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_breaking_kind_fails_a_minor_bump_naming_the_member_before_and_after(cli, tmp_path, builds, kind):
    target, before, after = KINDS[kind]
    work = as_built(tmp_path / "dist", builds[kind], "1.5.0")
    r = cli("--work-dir", work, "compat", "--against", builds["v1"])
    assert_user_error(r, 1, "1.4.0 -> 1.5.0 is a minor bump but breaking changes need a major bump (at least 2.0.0)",
                      target, f"before: {before or '-'}", f"after: {after or '-'}")
    assert 'hint: release 2.0.0 instead, or pass --allow-breaking --reason "..."' in r.stderr
    r = cli("--work-dir", work, "--json", "compat", "--against", builds["v1"])
    doc = r.json()["details"]
    assert doc["level"] == "breaking" and doc["required_bump"] == "major" and doc["actual_bump"] == "minor"
    assert [(c["kind"], c["target"], c["before"], c["after"]) for c in doc["changes"]] == [
        ("breaking", target, before, after)]
    # The notes are written for a failed check too (to read what broke).
    assert target in (work / "release-notes.md").read_text(encoding="utf-8")


def test_a_new_public_class_is_additive_a_minor_bump_passes_a_patch_does_not(cli, tmp_path, builds):
    work = as_built(tmp_path / "dist", builds["new_public_class"], "1.5.0")
    r = cli("--work-dir", work, "--json", "compat", "--against", builds["v1"])
    assert r.exit_code == 0, r.output
    doc = r.json()
    assert (doc["level"], doc["required_bump"], doc["actual_bump"], doc["ok"]) == ("additive", "minor", "minor", True)
    assert [(c["kind"], c["change"], c["target"]) for c in doc["changes"]] == [
        ("additive", "added", "Enventa.Connector.Invoice")]
    patch = as_built(tmp_path / "patch", builds["new_public_class"], "1.4.1")
    assert_user_error(cli("--work-dir", patch, "compat", "--against", builds["v1"]), 1,
                      "1.4.0 -> 1.4.1 is a patch bump but additive changes need a minor bump (at least 1.5.0)",
                      "Enventa.Connector.Invoice: new class (before: -; "
                      "after: type public class Enventa.Connector.Invoice : object)")


def test_unchanged_api_allows_a_patch_and_api_files_are_identical_across_build_folders(cli, tmp_path, builds):
    work = as_built(tmp_path / "dist", builds["unchanged"], "1.4.1")
    r = cli("--work-dir", work, "--json", "compat", "--against", builds["v1"])  # version from the assemblies
    assert r.exit_code == 0, r.output
    doc = r.json()
    assert (doc["previous_version"], doc["level"], doc["changes"]) == ("1.4.0", "none", [])
    assert [f["name"] for f in doc["api_files"]] == ["Enventa.Connector.api.txt"]
    one = cli("--work-dir", work, "--json", "compat", "--against", builds["v1"] / "Enventa.Connector.dll")
    assert one.exit_code == 0 and one.json()["previous_version"] == "1.4.0", one.output
    # Two builds of one source from two folders: byte-identical API files.
    texts = []
    for name in ("v1", "v1-elsewhere"):
        other = as_built(tmp_path / name, builds[name], "1.4.0")
        assert cli("--work-dir", other, "compat", "--against", builds["unchanged"], "--against-version", "1.3.0"
                   ).exit_code == 0
        texts.append((other / "api" / "Enventa.Connector.api.txt").read_bytes())
    assert texts[0] == texts[1] == (work / "api" / "Enventa.Connector.api.txt").read_bytes()
    lines = texts[0].decode("utf-8").splitlines()
    for line in SHAPE_LINES:
        assert line in lines


def test_options_are_checked_before_anything_runs(cli, tmp_path, builds):
    work = as_built(tmp_path / "dist", builds["unchanged"], "1.5.0")
    assert_user_error(cli("--work-dir", work, "compat", "--allow-breaking"), 2, "--allow-breaking needs --reason")
    assert_user_error(cli("--work-dir", work, "compat", "--reason", "x"), 2, "--reason goes with --allow-breaking")
    assert_user_error(cli("--work-dir", work, "compat", "--against", "1.x"), 2, "neither a version in the store")
    assert_user_error(cli("--work-dir", work, "compat", "--against", "1.4.0", "--against-version", "1.4.0"), 2,
                      "--against-version only goes with --against FOLDER")
    assert_user_error(cli("--work-dir", work, "compat", "--against", tmp_path / "nope", "--against-version", "1.4.0"),
                      2, "nope: no such folder or file")
    assert_user_error(cli("--work-dir", work, "compat", "--against", builds["unchanged"]), 2,
                      "cannot tell the version of the assemblies")
    assert_user_error(cli("--work-dir", tmp_path / "empty", "compat"), 2, "run `b2release build` first")
    # release: a bad compat option fails before the build runs.
    r = cli("--work-dir", tmp_path / "rel", "release", "--version", "1.5.0", "--allow-breaking")
    assert_user_error(r, 2, "--allow-breaking needs --reason")
    r = cli("--work-dir", tmp_path / "rel", "release", "--version", "1.5.0", "--to", "build", "--allow-breaking",
            "--reason", "why")
    assert_user_error(r, 2, "options for the compat stage were given, but this release does not run it")
    assert not (tmp_path / "rel").exists()


# --- in the chain: release 1.4.0, then a removed method -----------------------------------------
def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def chain(tmp_path, dev_keys):
    require_tool("xbuild")
    require_tool("osslsigncode")
    repo = tmp_path / "src"
    project = write_project(repo, variant_source("unchanged"))
    (repo / "Version.cs").unlink()  # the build stage stamps the version
    text = project.read_text(encoding="utf-8").replace('    <Compile Include="Version.cs" />\n', "")
    project.write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "connector 1.4")
    cfg = release_config(tmp_path / "b2release.toml", dev_keys, project, PRODUCT, scan="tool_licenses = false",
                         tail=f'[store]\nurl = "file://{tmp_path / "releases"}"\ntenants = ["acme"]\n'
                              '[cdn]\nprovider = "none"\n')
    return repo, cfg


def runs(work: Path) -> dict[str, str]:
    return {name: run["status"] for name, run in json.loads((work / "state.json").read_text())["runs"].items()}


def test_release_refuses_a_removed_method_in_a_minor_version_before_signing_or_uploading(cli, tmp_path, chain,
                                                                                         dev_keys):
    repo, cfg = chain
    store = tmp_path / "releases" / "releases" / PRODUCT

    def release(version: str, *args: str, work: str | None = None):
        return cli("--config", cfg, "--work-dir", tmp_path / (work or f"dist-{version}"), "--json", "release",
                   "--version", version, *args, env={"SOURCE_DATE_EPOCH": "1700000000"})

    # First release, empty store: the API is the baseline; the package carries it, verify accepts it.
    r = release("1.4.0")
    assert r.exit_code == 0, r.output
    compat = next(s for s in r.json()["stages"] if s["stage"] == "compat")
    assert compat["baseline"] is True and compat["previous_version"] is None
    work = tmp_path / "dist-1.4.0"
    manifest = json.loads((work / "manifest.json").read_text())
    assert manifest["compat"] == {"baseline": True}
    api = next(a for a in manifest["attachments"] if a["kind"] == "api")
    assert api["path"] == "Enventa.Connector.api.txt"
    with zipfile.ZipFile(work / f"{PRODUCT}-1.4.0.zip") as z:
        assert z.read(".b2release/Enventa.Connector.api.txt") == (work / "api" / "Enventa.Connector.api.txt").read_bytes()
    assert "api.txt" not in (work / "SHA256SUMS").read_text()  # inside the zip only
    assert not (work / "Enventa.Connector.api.txt").exists()
    verified = cli("verify", work, "--public-key", dev_keys / "release-signing.pub")
    assert verified.exit_code == 0, verified.output
    # The removed method, committed: 1.5.0 stops at compat, before scan/sign/package/upload.
    (repo / "Connector.cs").write_text(variant_source("removed_method"), encoding="utf-8")
    git(repo, "commit", "-qam", "drop Client.Remove")
    r = release("1.5.0")
    assert r.exit_code == 1, r.output
    error = r.json()
    assert error["details"]["stage"] == "compat" and error["details"]["completed"][0]["stage"] == "build"
    assert [(c["kind"], c["change"], c["target"]) for c in error["details"]["changes"]] == [
        ("breaking", "removed", "Enventa.Connector.Client.Remove(int)")]
    assert "release stopped at stage compat: API changes (1 breaking): 1.4.0 -> 1.5.0 is a minor bump" in error["message"]
    assert ("Enventa.Connector.Client.Remove(int): method removed (before: member Enventa.Connector.Client: "
            "public void Remove(int id); after: -)") in error["message"]
    assert runs(tmp_path / "dist-1.5.0") == {"build": "ok", "test": "skipped", "compat": "failed"}
    assert not (store / "1.5.0").exists()
    assert json.loads((store / "channels" / "stable.json").read_text())["version"] == "1.4.0"
    # 2.0.0: a major bump, passes (packaged, not uploaded, so 1.5.0 can still follow 1.4.0).
    r = release("2.0.0", "--to", "package")
    assert r.exit_code == 0, r.output
    m2 = json.loads((tmp_path / "dist-2.0.0" / "manifest.json").read_text())
    assert m2["compat"] == {"previous_version": "1.4.0", "level": "breaking", "required_bump": "major",
                            "actual_bump": "major", "changes": {"breaking": 1, "additive": 0, "none": 0}}
    # 1.5.0 with --allow-breaking --reason: passes, and the signed manifest says why.
    r = release("1.5.0", "--allow-breaking", "--reason", "INC-7: Remove was never called by tenants", work="dist-b")
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "dist-b" / "manifest.json").read_text())
    assert m["compat"]["allowed_breaking"] == {"reason": "INC-7: Remove was never called by tenants"}
    assert m["compat"]["level"] == "breaking" and m["compat"]["actual_bump"] == "minor"
    assert (store / "1.5.0" / "SHA256SUMS").is_file()
    notes = (tmp_path / "dist-b" / "release-notes.md").read_text(encoding="utf-8")
    assert notes.startswith(f"# {PRODUCT} 1.5.0\n")
    assert "### Breaking changes (1)" in notes and "Enventa.Connector.Client.Remove(int)" in notes
    assert "INC-7: Remove was never called by tenants" in notes
    assert "## Commits since 1.4.0" in notes and "drop Client.Remove" in notes and "connector 1.4" not in notes


# --- the previous release from the store, a zip or an older package ------------------------------
@pytest.fixture
def published(cli, tmp_path, builds, dev_keys, file_backend, monkeypatch):
    """1.4.0 of the v1 build checked (baseline), packaged and uploaded to a file:// store."""
    monkeypatch.setenv("B2RELEASE_PRODUCT_NAME", PRODUCT)
    monkeypatch.setenv("B2RELEASE_RELEASE_SIGNING_KEY", str(dev_keys / "release-signing.key"))
    work = as_built(tmp_path / "dist-1.4.0", builds["v1"], "1.4.0")
    for args in (["compat"], ["package", "--allow-unsigned"], ["upload"]):
        r = cli("--work-dir", work, *args, env={"SOURCE_DATE_EPOCH": "1700000000"})
        assert r.exit_code == 0, r.output
    return work


def test_compat_reads_the_previous_release_from_the_store_a_version_or_a_zip(cli, tmp_path, builds, published,
                                                                           other_keys, file_backend):
    work = as_built(tmp_path / "dist", builds["removed_method"], "1.5.0")
    zip_path = published / f"{PRODUCT}-1.4.0.zip"
    for against in ([], ["--against", "1.4.0"], ["--against", zip_path], ["--against", published]):
        r = cli("--work-dir", work, "--json", "compat", *against)
        assert r.exit_code == 1, (against, r.output)
        details = r.json()["details"]
        assert details["previous_version"] == "1.4.0", against
        assert [c["target"] for c in details["changes"]] == ["Enventa.Connector.Client.Remove(int)"]
    # Each source is verified before its API files are believed.
    assert_user_error(cli("--work-dir", work, "compat", "--against", zip_path, "--public-key",
                          other_keys / "release-signing.pub"), 1, f"{PRODUCT}-1.4.0.zip")
    sig = file_backend.open().root / "releases" / PRODUCT / "channels" / "stable.json.sig"
    sig.write_bytes(b"\x30\x00")
    assert_user_error(cli("--work-dir", work, "compat"), 1, "does not verify with the release public key")
    # Re-running the release the channel serves: the same API passes.
    again = as_built(tmp_path / "again", builds["v1"], "1.4.0")
    r = cli("--work-dir", again, "compat", "--against", "1.4.0")
    assert r.exit_code == 0 and f"1.4.0 is already released (releases/{PRODUCT}/1.4.0/) with the same public API" in r.stderr


def test_a_release_packaged_before_api_files_is_compared_by_its_assemblies(cli, tmp_path, builds, dev_keys):
    old = tmp_path / "old"
    r = cli("--work-dir", old, "package", "--input", builds["v1"], "--name", PRODUCT, "--version", "1.4.0",
            "--signing-key", dev_keys / "release-signing.key", "--allow-unsigned")
    assert r.exit_code == 0, r.output
    assert "attachments" not in json.loads((old / "manifest.json").read_text())
    work = as_built(tmp_path / "dist", builds["removed_method"], "2.0.0")
    r = cli("--work-dir", work, "--json", "compat", "--against", old / f"{PRODUCT}-1.4.0.zip", "--public-key",
            dev_keys / "release-signing.pub")
    assert r.exit_code == 0, r.output
    doc = r.json()
    assert "packaged before releases carried API files: comparing with the assemblies in its package" in r.stderr
    assert doc["warnings"] and doc["level"] == "breaking" and doc["actual_bump"] == "major"


def test_the_api_files_in_the_package_are_under_the_manifest_signature(cli, tmp_path, published, dev_keys):
    from b2release.formats import archive
    from b2release.formats.archive_reader import PackageArchive

    zip_path = published / f"{PRODUCT}-1.4.0.zip"
    entry = ".b2release/Enventa.Connector.api.txt"
    with PackageArchive.open(zip_path) as pkg:  # a well-formed zip with one API line changed
        entries = [archive.prepare_bytes(e.name, pkg.read(e, 1 << 26).replace(b"Remove(int id)", b"Remove2(int id)")
                                         if e.name == entry else pkg.read(e, 1 << 26)) for e in pkg.entries]
    forged = tmp_path / "forged.zip"
    with open(forged, "wb") as out:
        archive.write(out, entries, 1700000000)
    assert_user_error(cli("verify", forged, "--public-key", dev_keys / "release-signing.pub"), 1, entry)


@pytest.mark.parametrize(("path", "ok"), [
    ("sbom.cdx.json", True), ("Enventa.Connector.api.txt", True), ("api/Enventa.Connector.api.txt", False),
    ("../a.api.txt", False), ("CON.api.txt", False), ("a\u202e.api.txt", False), ("", False), ("..", False),
])
def test_manifest_attachments_are_flat_safe_names(path, ok):
    from b2release.errors import VerificationError
    from b2release.formats.manifest import Manifest, parse

    attachment = {"path": path, "kind": "api", "size": 1, "sha256": "a" * 64}
    raw = Manifest("p", "1.0.0", "b" * 64, [], attachments=[attachment], compat={"baseline": True}).to_bytes()
    if ok:
        assert parse(raw).attachments == [attachment] and parse(raw).compat == {"baseline": True}
    else:
        with pytest.raises(VerificationError, match="bad attachment"):
            parse(raw, "m.json")


def test_package_refuses_api_files_that_do_not_describe_the_binaries_it_packages(cli, tmp_path, builds, dev_keys):
    work = as_built(tmp_path / "dist", builds["v1"], "1.4.0")
    assert cli("--work-dir", work, "compat", "--against", builds["unchanged"], "--against-version", "1.3.0"
               ).exit_code == 0
    state = State(work)  # another binary in its place, as `sign --input` would record it
    shutil.copyfile(builds["removed_method"] / "Enventa.Connector.dll", work / BUILD_DIR / "Enventa.Connector.dll")
    state.record_artifact(Kind.BINARY, work / BUILD_DIR / "Enventa.Connector.dll", "sign",
                          extra={"name": "Enventa.Connector.dll"})
    state.save()
    args = ["--work-dir", work, "package", "--name", PRODUCT, "--signing-key", dev_keys / "release-signing.key",
            "--allow-unsigned"]
    assert_user_error(cli(*args), 1, "API files do not describe the binaries being packaged (Enventa.Connector.api.txt)")
    assert cli("--work-dir", work, "compat", "--against", builds["unchanged"], "--against-version", "1.3.0"
               ).exit_code == 1  # the removal, now seen by compat
    assert_user_error(cli(*args), 1, "comes from the last compat run, which failed")
