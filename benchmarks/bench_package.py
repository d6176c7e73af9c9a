"""Packaging speed: b2release package vs `zip` + `sha256sum` on real .NET assemblies.

Payload: the Mono framework assemblies on this machine (/usr/lib/mono/4.5 and
/usr/lib/mono/gac, real PE files), copied N times to reach a realistic size. Prints a
table of wall times (best of R runs). Run with `make bench` or
`python benchmarks/bench_package.py [--copies N] [--runs R]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCES = [Path("/usr/lib/mono/4.5"), Path("/usr/lib/mono/gac")]


def build_payload(dest: Path, copies: int) -> tuple[int, int]:
    files = 0
    size = 0
    for copy in range(copies):
        for source in SOURCES:
            if not source.is_dir():
                continue
            for path in sorted(source.rglob("*")):
                if path.is_file() and not path.is_symlink() and path.suffix in (".dll", ".exe"):
                    rel = path.relative_to(source.parent)
                    target = dest / f"c{copy}" / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                    files += 1
                    size += path.stat().st_size
    return files, size


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not any(s.is_dir() for s in SOURCES):
        print("no Mono assemblies found (apt-get install mono-devel)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from b2release.stages import keys

    with tempfile.TemporaryDirectory(prefix="b2release-bench-") as tmp:
        tmp_path = Path(tmp)
        payload = tmp_path / "payload"
        files, size = build_payload(payload, args.copies)
        keys.generate(tmp_path / "keys")
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        b2 = [sys.executable, "-m", "b2release", "-q", "--work-dir", str(tmp_path / "dist"), "package",
              "--input", str(payload), "--name", "bench", "--version", "1.0.0",
              "--signing-key", str(tmp_path / "keys" / "release-signing.key"), "--allow-unsigned"]

        def run_b2release() -> None:
            subprocess.run(b2, check=True, env=env, cwd=tmp_path)

        def run_zip() -> None:
            out = tmp_path / "ref.zip"
            out.unlink(missing_ok=True)
            subprocess.run(["zip", "-q", "-X", "-r", "-9", str(out), "."], check=True, cwd=payload)
            subprocess.run(["sha256sum", str(out)], check=True, stdout=subprocess.DEVNULL)

        def run_zip_fast() -> None:
            out = tmp_path / "ref6.zip"
            out.unlink(missing_ok=True)
            subprocess.run(["zip", "-q", "-X", "-r", "-6", str(out), "."], check=True, cwd=payload)
            subprocess.run(["sha256sum", str(out)], check=True, stdout=subprocess.DEVNULL)

        rows = [
            ("b2release package (deflate -6, parallel, sign)", best_of(args.runs, run_b2release),
             (tmp_path / "dist" / "bench-1.0.0.zip").stat().st_size),
            ("zip -9 -X -r + sha256sum", best_of(args.runs, run_zip), (tmp_path / "ref.zip").stat().st_size),
            ("zip -6 -X -r + sha256sum", best_of(args.runs, run_zip_fast), (tmp_path / "ref6.zip").stat().st_size),
        ]
        print(f"payload: {files} assemblies, {size / 1e6:.1f} MB, {os.cpu_count()} CPUs, best of {args.runs}")
        print(f"{'tool':<50} {'seconds':>8} {'MB/s':>8} {'zip MB':>8}")
        for name, seconds, out_size in rows:
            print(f"{name:<50} {seconds:>8.2f} {size / 1e6 / seconds:>8.1f} {out_size / 1e6:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
