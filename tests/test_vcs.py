"""vcs.version_from_tag on real git checkouts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from b2release.errors import UsageError
from b2release.vcs import version_from_tag


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
                   check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "A.csproj").write_text("<Project />\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "one")
    return root


def test_a_v_tag_on_head_gives_the_version_from_any_folder_of_the_checkout(checkout):
    git(checkout, "tag", "v1.4.0")
    git(checkout, "tag", "deployed-2026-12-01")  # not a version tag: ignored
    assert version_from_tag(checkout) == "1.4.0"
    assert version_from_tag(checkout / "src" / "A.csproj") == "1.4.0"
    git(checkout, "tag", "1.4.0")  # the same version twice is not ambiguous
    assert version_from_tag(checkout) == "1.4.0"


def test_prerelease_tags(checkout):
    git(checkout, "tag", "v2.0.0-rc.1")
    assert version_from_tag(checkout) == "2.0.0-rc.1"


@pytest.mark.parametrize("setup, needle", [
    (lambda root: None, "has no version tag"),
    (lambda root: git(root, "tag", "release-candidate"), "its tags: release-candidate"),
    (lambda root: (git(root, "tag", "v1.0.0"), git(root, "tag", "v1.1.0")), "several version tags (v1.0.0, v1.1.0)"),
    (lambda root: (git(root, "tag", "v1.0.0"), (root / "src" / "A.csproj").write_text("<Project>x</Project>")),
     "tracked files in"),
])
def test_refusals_say_what_to_do(checkout, setup, needle):
    setup(checkout)
    with pytest.raises(UsageError, match="--version-from-tag") as exc:
        version_from_tag(checkout)
    assert needle in exc.value.message


def test_untracked_files_do_not_count_as_changes(checkout):
    git(checkout, "tag", "v1.0.0")
    (checkout / "dist").mkdir()
    (checkout / "dist" / "state.json").write_text("{}")
    assert version_from_tag(checkout) == "1.0.0"


def test_not_a_checkout(tmp_path):
    with pytest.raises(UsageError, match="not in a git checkout"):
        version_from_tag(tmp_path)
