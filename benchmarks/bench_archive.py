"""Benchmark the package writer and the strict reader against Info-ZIP + sha256sum.

    python benchmarks/bench_archive.py            # ~250 MB corpus from /usr/lib/mono
    python benchmarks/bench_archive.py --big      # adds a ~2 GiB case (large DLL-like files + 10,000 small files)

The corpus is built once (idempotently) under $B2RELEASE_BENCH_DIR or <tmp>/b2release-bench:
Mono's framework assemblies (/usr/lib/mono/4.5/*.dll) first, then the rest of /usr/lib/mono
by size, until ~1,000 files; if that is under ~250 MB the largest files are copied again
into a second folder. Every side runs in its own subprocess so that its peak RSS
(getrusage(RUSAGE_CHILDREN).ru_maxrss of that child alone) can be reported.

No assertion here: this prints a table. The goal for the writer is <= 0.15x the time of
`zip -X -r -6` + `sha256sum` with a zip no larger than Info-ZIP's; for --big, peak RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MONO = Path("/usr/lib/mono")
CORPUS_FILES = 1000
CORPUS_BYTES = 250_000_000
CORPUS_VERSION = "corpus-v1"
BIG_VERSION = "big-v1"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    label: str
    seconds: float
    peak_rss_mb: float
    output_bytes: int | None = None


def bench_dir() -> Path:
    base = os.environ.get("B2RELEASE_BENCH_DIR") or os.path.join(tempfile.gettempdir(), "b2release-bench")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mono_candidates() -> list[Path]:
    """Real files (symlinks resolved once): 4.5/*.dll first, then the rest by size, largest first."""
    seen: set[Path] = set()
    first: list[Path] = []
    for path in sorted((MONO / "4.5").glob("*.dll")):
        real = path.resolve()
        if real.is_file() and real not in seen:
            seen.add(real)
            first.append(real)
    rest: list[Path] = []
    for dirpath, _dirs, names in os.walk(MONO):
        for name in names:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                rest.append(real)
    rest.sort(key=lambda p: (-p.stat().st_size, str(p)))
    return first + rest


def build_corpus() -> Path:
    """The ~250 MB Mono tree; rebuilt only when its completion marker is missing."""
    target = bench_dir() / CORPUS_VERSION
    marker = target / ".complete"
    if marker.exists():
        return target / "tree"
    if not MONO.is_dir():
        sys.exit(f"{MONO} is missing: install mono-runtime (Debian) to build the benchmark corpus")
    shutil.rmtree(target, ignore_errors=True)
    tree = target / "tree"
    picked = _mono_candidates()[:CORPUS_FILES]
    total = 0
    for src in picked:
        dest = tree / src.relative_to(MONO)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        total += src.stat().st_size
    # Not enough distinct bytes on this machine: copy the largest files again.
    for src in sorted(picked, key=lambda p: -p.stat().st_size):
        if total >= CORPUS_BYTES:
            break
        dest = tree / "again" / src.relative_to(MONO)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        total += src.stat().st_size
    marker.write_text("ok\n")
    return tree


def _pe_like(rng: random.Random, size: int) -> bytes:
    """Bytes shaped like a native DLL: code-ish runs, tables, strings and incompressible blobs."""
    out = bytearray(b"MZ" + bytes(58) + b"\x80\x00\x00\x00" + bytes(64) + b"PE\x00\x00")
    words = [bytes(rng.getrandbits(8) for _ in range(rng.randint(2, 9))) for _ in range(4096)]
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


def build_big() -> Path:
    """~2 GiB: 24 large native-DLL-like files (64-120 MB) and 10,000 small files."""
    target = bench_dir() / BIG_VERSION
    marker = target / ".complete"
    if marker.exists():
        return target / "tree"
    shutil.rmtree(target, ignore_errors=True)
    tree = target / "tree"
    rng = random.Random(20240601)
    native = tree / "native"
    native.mkdir(parents=True)
    block = _pe_like(rng, 8 << 20)
    for i in range(24):
        size = rng.randint(64, 120) << 20
        with open(native / f"lib{i:02d}.dll", "wb") as out:
            written = 0
            while written < size:
                # Rotate the block so that files differ while staying DLL-shaped.
                piece = block[(i * 7919 + written) % len(block):] + block
                piece = piece[: min(len(block), size - written)]
                out.write(piece)
                written += len(piece)
    small = tree / "small"
    for i in range(10_000):
        folder = small / f"d{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.xml").write_bytes(
            (f"<item id='{i}' name='n{rng.getrandbits(32):08x}'/>\n" * rng.randint(1, 200)).encode()
        )
    marker.write_text("ok\n")
    return tree


# --- the sides, each run as `python bench_archive.py --side NAME ...` in a child ----------


def _files_of(tree: Path) -> list[tuple[str, Path]]:
    files = []
    for dirpath, dirs, names in os.walk(tree):
        dirs.sort()
        for name in sorted(names):
            path = Path(dirpath) / name
            files.append((path.relative_to(tree).as_posix(), path))
    return files


def side_writer(tree: Path, out: Path) -> None:
    sys.path.insert(0, str(REPO))
    from b2release.formats import archive

    with tempfile.TemporaryDirectory(prefix="bench-spool-", dir=out.parent) as spool:
        entries = archive.prepare_files(_files_of(tree), Path(spool))
        with open(out, "wb") as fh:
            archive.write(fh, entries, 1700000000)


def side_reader(zip_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from b2release.formats.archive_reader import PackageArchive, hash_entries

    archive = PackageArchive.open(zip_path)
    result = hash_entries(archive, archive.entries)
    assert len(result) == len(archive.entries)


def side_info_zip(tree: Path, out: Path) -> None:
    out.unlink(missing_ok=True)
    subprocess.run(["zip", "-X", "-r", "-6", "-q", str(out), "."], cwd=tree, check=True)
    _sha256sum_tree(tree)


def side_unzip(tree: Path, zip_path: Path) -> None:
    subprocess.run(["unzip", "-tq", str(zip_path)], check=True, stdout=subprocess.DEVNULL)
    _sha256sum_tree(tree)


def _sha256sum_tree(tree: Path) -> None:
    # find | xargs sha256sum: what a shell script would do to record the tree's digests.
    subprocess.run(
        f"find . -type f -print0 | xargs -0 sha256sum > {os.devnull}", shell=True, cwd=tree, check=True
    )


def run_side(*args: str) -> Row:
    """Run one side in a fresh child; wall time and that child's (and its children's) peak RSS."""
    code = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run([sys.executable, sys.argv[1], '--side', *sys.argv[2:]]).returncode\n"
        "dt = time.perf_counter() - t\n"
        "print(json.dumps({'rc': rc, 'seconds': dt, "
        "'rss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, __file__, *args], capture_output=True, text=True, check=True)
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    if doc["rc"] != 0:
        sys.exit(f"side {args} failed: {proc.stderr}")
    return Row(args[0], doc["seconds"], doc["rss_kb"] / 1024)


def _size(path: Path) -> int:
    return path.stat().st_size


def _tree_bytes(tree: Path) -> tuple[int, int]:
    files = _files_of(tree)
    return len(files), sum(p.stat().st_size for _, p in files)


def best_of(repeat: int, *args: str) -> Row:
    """The fastest of `repeat` runs (this machine's neighbours are noisy) and the highest peak RSS."""
    rows = [run_side(*args) for _ in range(repeat)]
    return Row(args[0], min(r.seconds for r in rows), max(r.peak_rss_mb for r in rows))


def compare(tree: Path, work: Path, label: str, repeat: int) -> None:
    count, total = _tree_bytes(tree)
    ours_zip, info_zip = work / "ours.zip", work / "infozip.zip"
    theirs = best_of(repeat, "info-zip", str(tree), str(info_zip))
    ours = best_of(repeat, "writer", str(tree), str(ours_zip))
    unzip = best_of(repeat, "unzip", str(tree), str(info_zip))
    reader = best_of(repeat, "reader", str(ours_zip))
    print(f"\n{label}: {count} files, {total / 1e6:.1f} MB (best of {repeat} runs)")
    print(f"{'side':44s} {'seconds':>8s} {'x':>6s} {'peak RSS MB':>12s} {'zip MB':>9s} {'ratio':>7s}")
    rows = [
        ("b2release writer (prepare + write)", ours, theirs, _size(ours_zip)),
        ("zip -X -r -6 + sha256sum", theirs, theirs, _size(info_zip)),
        ("b2release reader (open + hash_entries)", reader, unzip, None),
        ("unzip -tq + sha256sum", unzip, unzip, None),
    ]
    for name, row, base, size in rows:
        extra = f"{size / 1e6:9.1f} {size / total:7.4f}" if size is not None else ""
        print(f"{name:44s} {row.seconds:8.2f} {row.seconds / base.seconds:6.3f} {row.peak_rss_mb:12.1f} {extra}")
    print(f"zip size ours / Info-ZIP: {_size(ours_zip) / _size(info_zip):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", action="store_true", help="also run the ~2 GiB case (needs ~5 GB of disk)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the fastest counts (default 3)")
    parser.add_argument("--side", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        name, *rest = args.side
        sides = {"writer": side_writer, "reader": side_reader, "info-zip": side_info_zip, "unzip": side_unzip}
        sides[name](*map(Path, rest))
        return
    for tool in ("zip", "unzip", "sha256sum"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    sys.path.insert(0, str(REPO))
    from b2release.formats import archive

    print(f"compressor: {archive.COMPRESSOR}")
    with tempfile.TemporaryDirectory(prefix="bench-out-", dir=bench_dir()) as tmp:
        compare(build_corpus(), Path(tmp), "Mono corpus", args.repeat)
        if args.big:
            big_tree = build_big()
            Path(tmp, "ours.zip").unlink(missing_ok=True)
            compare(big_tree, Path(tmp), "big case", 1)


if __name__ == "__main__":
    main()
