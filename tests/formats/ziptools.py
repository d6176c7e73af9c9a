"""Other zip readers for differential tests: Info-ZIP `unzip` and .NET (Mono) System.IO.Compression.

Each returns what that reader extracts: a list of (name, sha256, size) in the reader's
order, or an `Unreadable` with the reader's complaint. The C# reader (zipreader.cs beside
this file) is compiled with `mcs` once per test session into a temp dir and given many
archives per run, because Mono's start-up dominates otherwise.

A missing tool skips the test with the reason, except under CI (env var CI set), where it fails.
"""

from __future__ import annotations

import atexit
import base64
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from b2release.formats.archive_reader import PackageArchive

HERE = Path(__file__).resolve().parent
Listing = list[tuple[str, str, int]]  # (name, sha256, size) per entry, in the reader's order


@dataclass(frozen=True)
class Unreadable:
    reader: str
    message: str


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is not installed (apt-get install {'mono-devel' if tool in ('mono', 'mcs') else tool})"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must have it")
        pytest.skip(reason)
    return path


def ours(path: Path) -> Listing | Unreadable:
    """Our strict reader, streaming every entry (so CRC and size are checked too)."""
    from b2release.errors import VerificationError

    try:
        with PackageArchive.open(path) as archive:
            listing = []
            for entry in archive.entries:
                digest = hashlib.sha256()
                for chunk in archive.stream(entry):
                    digest.update(chunk)
                listing.append((entry.name, digest.hexdigest(), entry.size))
            return listing
    except VerificationError as exc:
        return Unreadable("b2release", exc.message)


def unzip(path: Path) -> Listing | Unreadable:
    """Names from `unzip -Z1`, bytes from extracting into a fresh folder (what an installer script gets)."""
    need("unzip")
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    listed = subprocess.run(["unzip", "-Z1", str(path)], capture_output=True, env=env)
    if listed.returncode != 0:
        return Unreadable("unzip", (listed.stdout + listed.stderr).decode("utf-8", "replace").strip())
    names = listed.stdout.decode("utf-8", "surrogateescape").split("\n")[:-1]  # not splitlines: U+0085 is a name
    with tempfile.TemporaryDirectory(prefix="unzip-") as tmp:
        proc = subprocess.run(["unzip", "-qq", "-o", str(path), "-d", tmp], capture_output=True, env=env)
        if proc.returncode != 0:
            return Unreadable("unzip", (proc.stdout + proc.stderr).decode("utf-8", "replace").strip())
        listing = []
        for name in names:
            data = (Path(tmp) / name).read_bytes()
            listing.append((name, hashlib.sha256(data).hexdigest(), len(data)))
        extracted = sorted(p.relative_to(tmp).as_posix() for p in Path(tmp).rglob("*") if p.is_file())
        if extracted != sorted(names):
            return Unreadable("unzip", f"extracted files {extracted} differ from the listing {names}")
        return listing


@functools.lru_cache(maxsize=1)
def _mono_reader() -> Path:
    mcs = need("mcs")
    need("mono")
    out_dir = Path(tempfile.mkdtemp(prefix="b2release-zipreader-"))
    atexit.register(shutil.rmtree, out_dir, True)
    exe = out_dir / "zipreader.exe"
    proc = subprocess.run(
        [mcs, "-nologo", f"-out:{exe}", "-r:System.IO.Compression.dll", "-r:System.IO.Compression.FileSystem.dll",
         str(HERE / "zipreader.cs")],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"mcs could not build zipreader.cs: {proc.stdout}{proc.stderr}")
    return exe


def dotnet(paths: list[Path]) -> list[Listing | Unreadable]:
    """What Mono's System.IO.Compression.ZipFile reads from each archive (one mono run for all)."""
    exe = _mono_reader()
    if not paths:
        return []
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as listfile:
        listfile.write("".join(f"{p}\n" for p in paths))
    try:
        proc = subprocess.run(["mono", str(exe), listfile.name], capture_output=True, timeout=600)
    finally:
        os.unlink(listfile.name)
    if proc.returncode != 0:
        pytest.fail(f"zipreader.exe failed: {proc.stderr.decode('utf-8', 'replace')}")
    results: list[Listing | Unreadable] = []
    for line in proc.stdout.decode("utf-8").splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "A":
            results.append([])
        elif kind == "E":
            name, size, digest = rest.split(" ")
            current = results[-1]
            assert isinstance(current, list)
            current.append((base64.b64decode(name).decode("utf-8"), digest, int(size)))
        elif kind == "X":
            results[-1] = Unreadable(".NET", base64.b64decode(rest).decode("utf-8"))
    assert len(results) == len(paths), proc.stdout[-2000:]
    return results
