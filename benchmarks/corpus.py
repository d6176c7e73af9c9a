"""Benchmark inputs, built once per machine under $B2RELEASE_BENCH_DIR (default <tmp>/b2release-bench).

- `mono_tree(copies)`: the real .NET assemblies of Mono's framework (/usr/lib/mono/4.5 and
  /usr/lib/mono/gac, each real file once: 4.5's symlinks point into the GAC), copied
  `copies` times into c0/, c1/, ... Four copies are ~250 MB and ~1,400 files, six copies
  package to ~127 MB.
- `big_tree()`: a ~2 GiB release of exactly 10,000 files: 24 large native-DLL-like files
  (64-120 MB: 20 compressible, PE-shaped; 4 incompressible, like embedded compressed
  resources), 200 real Mono assemblies, and 9,776 small XML/config files.

Each tree is written to a temp folder and renamed into place with a completion marker, so
an interrupted build is redone rather than half used.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

MONO = Path("/usr/lib/mono")
MONO_SOURCES = (MONO / "4.5", MONO / "gac")
BIG_FILES = 10_000
BIG_BYTES = 2 << 30
BIG_LARGE = 24
BIG_INCOMPRESSIBLE = 4
BIG_ASSEMBLIES = 200


def bench_dir() -> Path:
    path = Path(os.environ.get("B2RELEASE_BENCH_DIR") or Path(tempfile.gettempdir()) / "b2release-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def mono_assemblies() -> list[tuple[Path, Path]]:
    """(path relative to /usr/lib/mono, real file) of each distinct assembly, sorted."""
    seen: set[Path] = set()
    found: list[tuple[Path, Path]] = []
    for source in MONO_SOURCES:
        if not source.is_dir():
            continue
        for path in sorted(source.rglob("*")):
            if path.suffix.lower() not in (".dll", ".exe") or not path.is_file():
                continue
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                found.append((path.relative_to(MONO), real))
    if not found:
        sys.exit(f"no assemblies under {MONO}: install mono-runtime (Debian: apt-get install mono-devel)")
    return found


def _build(name: str, fill) -> Path:
    """bench_dir()/name/tree, made by fill(tree) unless its marker says it is complete."""
    target = bench_dir() / name
    if (target / ".complete").exists():
        return target / "tree"
    shutil.rmtree(target, ignore_errors=True)
    staging = bench_dir() / f".{name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    fill(staging / "tree")
    (staging / ".complete").write_text("ok\n")
    os.replace(staging, target)
    return target / "tree"


def mono_tree(copies: int) -> Path:
    def fill(tree: Path) -> None:
        for copy in range(copies):
            for rel, real in mono_assemblies():
                dest = tree / f"c{copy}" / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(real, dest)

    return _build(f"mono-{copies}x-v1", fill)


def _pe_like(rng: random.Random, size: int) -> bytes:
    """Bytes shaped like a native DLL: code-ish runs, symbol strings, tables, some noise."""
    out = bytearray(b"MZ" + bytes(58) + b"\x80\x00\x00\x00" + bytes(64) + b"PE\x00\x00")
    words = [rng.randbytes(rng.randint(2, 9)) for _ in range(4096)]
    names = [f"?{rng.choice(['Get', 'Set', 'Load', 'Free'])}{i}@Native@@QEAA".encode() for i in range(2048)]
    while len(out) < size:
        kind = rng.random()
        if kind < 0.55:
            out += b"".join(rng.choice(words) for _ in range(512))
        elif kind < 0.75:
            out += b"".join(rng.choice(names) + b"\x00" for _ in range(128))
        elif kind < 0.9:
            out += rng.randbytes(4096)
        else:
            out += bytes(rng.randrange(4) for _ in range(2048))
    return bytes(out[:size])


def big_tree() -> Path:
    def fill(tree: Path) -> None:
        rng = random.Random(20240601)
        small = tree / "config"
        small_count = BIG_FILES - BIG_LARGE - BIG_ASSEMBLIES
        small_bytes = 0
        for i in range(small_count):
            folder = small / f"d{i % 100:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            data = (f"<item id='{i}' name='n{rng.getrandbits(32):08x}'/>\n" * rng.randint(1, 200)).encode()
            (folder / f"f{i:05d}.xml").write_bytes(data)
            small_bytes += len(data)
        assemblies = mono_assemblies()
        for i in range(BIG_ASSEMBLIES):
            rel, real = assemblies[i % len(assemblies)]
            dest = tree / "managed" / f"a{i // len(assemblies)}" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(real, dest)
            small_bytes += real.stat().st_size
        # Large files share out what is left of 2 GiB, each 64-120 MB.
        weights = [rng.uniform(64, 120) for _ in range(BIG_LARGE)]
        budget = BIG_BYTES - small_bytes
        sizes = [int(budget * w / sum(weights)) for w in weights]
        block = _pe_like(rng, 8 << 20)
        native = tree / "native"
        native.mkdir(parents=True)
        for i, size in enumerate(sizes):
            noise = random.Random(i) if i < BIG_INCOMPRESSIBLE else None
            with open(native / f"lib{i:02d}.dll", "wb") as out:
                written = 0
                while written < size:
                    length = min(len(block), size - written)
                    if noise is not None:
                        piece = noise.randbytes(length)
                    else:  # rotated, so that files differ while staying DLL-shaped
                        start = (i * 7919 + written) % len(block)
                        piece = (block[start:] + block[:start])[:length]
                    out.write(piece)
                    written += length

    return _build("big-v2", fill)


def tree_size(tree: Path) -> tuple[int, int]:
    """(files, bytes) of a tree."""
    count = total = 0
    for dirpath, _dirs, names in os.walk(tree):
        for name in names:
            count += 1
            total += os.path.getsize(os.path.join(dirpath, name))
    return count, total
