"""b2release.context: the fallback chain of every answer stages share, and the work dir check."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from b2release import config as config_mod
from b2release.artifacts import BuildRecord, PackageRecord, Record, UploadRecord
from b2release.config import Config
from b2release.context import FIXED_EPOCH, Context
from b2release.errors import KeyFileError, UsageError
from b2release.state import StageRecord, State

COMMIT_EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z
OTHER_COMMIT_EPOCH = 1_600_000_000


def write_state(work: Path, *records: Record, status: str = "ok") -> None:
    """A work dir whose state.json holds a run of each record's stage."""
    state = State(work)
    for record in records:
        state.record_run(StageRecord(stage=record.STAGE, status=status, data=record.to_dict()))
    state.save()


def context(work: Path, **config_values: str) -> Context:
    cfg = Config()
    for dotted, value in config_values.items():
        cfg.set(dotted.replace("__", "."), value, base=work.parent)
    return Context(config=cfg, work_dir=work)


def git_repo(path: Path, epoch: int) -> Path:
    """A git repository with one commit whose committer time is `epoch`."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_COMMITTER_DATE": f"@{epoch} +0000", "GIT_AUTHOR_DATE": f"@{epoch} +0000",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(path)}
    (path / "a.txt").write_text("a\n")
    for args in (["init", "-q"], ["add", "a.txt"],
                 ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                  "commit", "-q", "-m", "one"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, env=env, capture_output=True)
    return path


# --- product_name -----------------------------------------------------------------------------
def test_product_name_override_beats_config_and_records(tmp_path):
    write_state(tmp_path / "w", PackageRecord(product="packaged"), UploadRecord(product="uploaded"))
    ctx = context(tmp_path / "w", product__name="configured")
    assert ctx.product_name("from-flag") == "from-flag"
    assert ctx.product_name() == "configured"


def test_product_name_falls_back_to_the_packaged_then_the_uploaded_product(tmp_path):
    write_state(tmp_path / "a", PackageRecord(product="packaged"), UploadRecord(product="uploaded"))
    assert context(tmp_path / "a").product_name() == "packaged"
    write_state(tmp_path / "b", UploadRecord(product="uploaded"))
    assert context(tmp_path / "b").product_name() == "uploaded"


def test_product_name_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config_mod.load(None, environ={"B2RELEASE_PRODUCT_NAME": "env-product"})
    assert Context(config=cfg, work_dir=tmp_path / "w").product_name() == "env-product"


def test_product_name_missing_everywhere(tmp_path):
    with pytest.raises(UsageError) as info:
        context(tmp_path / "w").product_name()
    assert "no product name" in info.value.message
    assert "--name" in info.value.message and "[product] name" in info.value.message
    assert "B2RELEASE_PRODUCT_NAME" in info.value.message
    assert not (tmp_path / "w").exists()  # asking creates nothing


def test_product_name_is_validated_whichever_source_it_came_from(tmp_path):
    write_state(tmp_path / "w", PackageRecord(product="Bad Name"))
    with pytest.raises(UsageError, match="invalid product name 'Bad Name'"):
        context(tmp_path / "w").product_name()
    with pytest.raises(UsageError, match="invalid product name"):
        context(tmp_path / "x").product_name("../escape")


def test_a_failed_package_run_gives_no_product(tmp_path):
    write_state(tmp_path / "w", PackageRecord(product="packaged"), status="failed")
    with pytest.raises(UsageError, match="no product name"):
        context(tmp_path / "w").product_name()


# --- release_version --------------------------------------------------------------------------
def test_release_version_override_then_requested_then_built(tmp_path):
    write_state(tmp_path / "w", BuildRecord(version="1.0.0"))
    ctx = context(tmp_path / "w")
    assert ctx.release_version() == "1.0.0"
    ctx.requested_version = "2.0.0"
    assert ctx.release_version() == "2.0.0"
    assert ctx.release_version("3.0.0-rc.1") == "3.0.0-rc.1"


def test_release_version_missing(tmp_path):
    with pytest.raises(UsageError) as info:
        context(tmp_path / "w").release_version()
    assert info.value.message == "no version: pass --version X.Y.Z (or run build with --version first)"


def test_a_failed_build_run_gives_no_version(tmp_path):
    write_state(tmp_path / "w", BuildRecord(version="1.0.0"), status="failed")
    with pytest.raises(UsageError, match="no version"):
        context(tmp_path / "w").release_version()
    write_state(tmp_path / "s", BuildRecord(version="1.0.0"), status="skipped")
    with pytest.raises(UsageError, match="no version"):
        context(tmp_path / "s").release_version()


def test_release_version_is_validated(tmp_path):
    write_state(tmp_path / "w", BuildRecord(version="1.0"))
    with pytest.raises(UsageError, match="invalid version '1.0'"):
        context(tmp_path / "w").release_version()
    with pytest.raises(UsageError, match="leading 'v'"):
        context(tmp_path / "w").release_version("v1.0.0")


# --- signing_key / public_key -----------------------------------------------------------------
def test_signing_key_override_beats_config(tmp_path, dev_keys, other_keys):
    ctx = context(tmp_path / "w", release__signing_key=str(other_keys / "release-signing.key"))
    configured = ctx.signing_key()
    flagged = ctx.signing_key(dev_keys / "release-signing.key")
    assert configured.path == other_keys / "release-signing.key"
    assert flagged.path == dev_keys / "release-signing.key"
    assert configured.key_id != flagged.key_id


def test_public_key_override_beats_config(tmp_path, dev_keys, other_keys):
    ctx = context(tmp_path / "w", release__public_key=str(other_keys / "release-signing.pub"))
    assert ctx.public_key().key_id == ctx.signing_key(other_keys / "release-signing.key").key_id
    assert ctx.public_key(dev_keys / "release-signing.pub").path == dev_keys / "release-signing.pub"


def test_relative_key_paths_in_config_resolve_against_their_base(tmp_path, dev_keys):
    base = dev_keys.parent
    cfg = Config()
    cfg.set("release.public_key", f"{dev_keys.name}/release-signing.pub", base=base)
    assert Context(config=cfg, work_dir=tmp_path / "w").public_key().path == dev_keys / "release-signing.pub"


def test_no_keys_configured(tmp_path):
    ctx = context(tmp_path / "w")
    with pytest.raises(UsageError) as info:
        ctx.signing_key()
    assert info.value.message == "no release signing key: pass --signing-key F or set [release] signing_key"
    with pytest.raises(UsageError) as info:
        ctx.public_key()
    assert info.value.message == "no public key: pass --public-key F or set [release] public_key"


def test_a_configured_key_that_does_not_exist_names_the_file(tmp_path):
    ctx = context(tmp_path / "w", release__signing_key=str(tmp_path / "missing.key"))
    with pytest.raises(KeyFileError, match="missing.key does not exist"):
        ctx.signing_key()


# --- source_epoch -----------------------------------------------------------------------------
def test_source_date_epoch_wins(tmp_path, monkeypatch):
    repo = git_repo(tmp_path / "repo", COMMIT_EPOCH)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")
    assert context(tmp_path / "w").source_epoch(repo) == (1234567890, "SOURCE_DATE_EPOCH")


@pytest.mark.parametrize("raw", ["1.5", "-1", "yesterday", " 12"])
def test_source_date_epoch_must_be_whole_seconds(tmp_path, monkeypatch, raw):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", raw)
    with pytest.raises(UsageError) as info:
        context(tmp_path / "w").source_epoch()
    assert "SOURCE_DATE_EPOCH must be a whole number of seconds" in info.value.message
    assert repr(raw) in info.value.message


def test_an_empty_source_date_epoch_counts_as_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")
    assert context(tmp_path / "w").source_epoch() == (FIXED_EPOCH, "fixed")


def test_the_commit_time_of_the_given_tree(tmp_path):
    repo = git_repo(tmp_path / "repo", COMMIT_EPOCH)
    (repo / "sub").mkdir()
    ctx = context(tmp_path / "w")
    assert ctx.source_epoch(repo) == (COMMIT_EPOCH, "git")
    assert ctx.source_epoch(repo / "sub") == (COMMIT_EPOCH, "git")  # any folder inside the repository


def test_the_given_tree_beats_the_recorded_source_tree(tmp_path):
    given = git_repo(tmp_path / "given", COMMIT_EPOCH)
    recorded = git_repo(tmp_path / "recorded", OTHER_COMMIT_EPOCH)
    write_state(tmp_path / "w", BuildRecord(version="1.0.0", source_dir=str(recorded)))
    ctx = context(tmp_path / "w")
    assert ctx.source_epoch(given) == (COMMIT_EPOCH, "git")
    assert ctx.source_epoch() == (OTHER_COMMIT_EPOCH, "git")


def test_a_given_tree_outside_git_falls_back_to_the_recorded_source_tree(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    recorded = git_repo(tmp_path / "recorded", OTHER_COMMIT_EPOCH)
    write_state(tmp_path / "w", BuildRecord(version="1.0.0", source_dir=str(recorded)))
    assert context(tmp_path / "w").source_epoch(plain) == (OTHER_COMMIT_EPOCH, "git")


def test_the_recorded_source_tree_of_a_failed_build_is_not_used(tmp_path):
    recorded = git_repo(tmp_path / "recorded", OTHER_COMMIT_EPOCH)
    write_state(tmp_path / "w", BuildRecord(version="1.0.0", source_dir=str(recorded)), status="failed")
    assert context(tmp_path / "w").source_epoch() == (FIXED_EPOCH, "fixed")


def test_fixed_1980_epoch_when_nothing_is_known(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert FIXED_EPOCH == 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry holds
    ctx = context(tmp_path / "w")
    assert ctx.source_epoch() == (FIXED_EPOCH, "fixed")
    assert ctx.source_epoch(plain) == (FIXED_EPOCH, "fixed")
    assert ctx.source_epoch(tmp_path / "does-not-exist") == (FIXED_EPOCH, "fixed")


# --- state ------------------------------------------------------------------------------------
def test_state_refuses_a_work_dir_that_is_a_file(tmp_path):
    work = tmp_path / "dist"
    work.write_text("not a folder")
    ctx = context(work)
    with pytest.raises(UsageError) as info:
        _ = ctx.state
    assert info.value.message == f"work dir {work} exists and is not a directory"
    assert work.read_text() == "not a folder"


def test_state_is_loaded_once_and_cached(tmp_path):
    write_state(tmp_path / "w", BuildRecord(version="1.0.0"))
    ctx = context(tmp_path / "w")
    assert ctx.state is ctx.state
    assert ctx.release_version() == "1.0.0"
    write_state(tmp_path / "w", BuildRecord(version="9.9.9"))  # another process rewrites it
    assert ctx.release_version() == "1.0.0"  # this command keeps the state it started with


def test_a_missing_work_dir_is_not_created_by_reading(tmp_path):
    ctx = context(tmp_path / "w")
    assert ctx.state.runs == {}
    assert not (tmp_path / "w").exists()
