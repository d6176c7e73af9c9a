"""API extraction speed and memory: b2release.apicompat vs Mono's monodis on real assemblies.

Input: every assembly in /usr/lib/mono/4.5/*.dll (the Mono framework: real, large metadata,
mscorlib alone has 2,900 types and 27,000 methods). Each side runs as its own subprocess;
wall time is the best of R runs, peak RSS is the largest resident set of that subprocess
tree (os.wait4, the same number `/usr/bin/time -f %M` prints).

Rows:
  b2release apicompat      read every file, write every <Assembly>.api.txt (one process)
  monodis, same tables     `monodis --typedef/--method/--fields/--param/--property/--event/
                           --constant/--customattr/--interface/--genericpar FILE`: dumps of
                           the tables the extractor reads, with decoded signatures; the closest
                           equivalent (monodis takes one table option per run)
  monodis full             `monodis FILE > /dev/null`: the whole disassembly, IL bodies too

Run: `python benchmarks/bench_api.py [--runs R] [--glob PATTERN]`.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MONODIS_TABLES = ("--typedef", "--method", "--fields", "--param", "--property", "--event", "--constant",
                  "--customattr", "--interface", "--genericpar")

# One file at a time (a generator into write_api_files), as a build with many assemblies would.
EXTRACT = """
import sys
from pathlib import Path
from b2release.apicompat import read_assembly, write_api_files
out = Path(sys.argv[1])
def surfaces():
    for name in sys.argv[2:]:
        result = read_assembly(name)
        if result.surface is not None:
            yield result.surface
written = write_api_files(surfaces(), out)
print(sum(p.read_bytes().count(b"\\n") - 1 for p in written))
"""


def run_measured(args: list[str], env: dict[str, str] | None = None, stdout=subprocess.DEVNULL) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in KiB, stdout text) of one subprocess tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} failed with exit code {proc.returncode}")
    return elapsed, usage.ru_maxrss, out  # ru_maxrss is KiB on Linux


def best_of(runs: int, args: list[str], env: dict[str, str] | None = None,
            stdout=subprocess.DEVNULL) -> tuple[float, int, str]:
    results = [run_measured(args, env, stdout) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def shell_loop(commands: list[str]) -> list[str]:
    # One shell runs every monodis call, so process start-up counts the way it does for a user.
    return ["sh", "-c", "\n".join(commands)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="best of R runs per row (default 1)")
    parser.add_argument("--glob", default="/usr/lib/mono/4.5/*.dll")
    args = parser.parse_args()
    files = sorted(glob.glob(args.glob))
    monodis = shutil.which("monodis")
    if not files or monodis is None:
        print("needs Mono: monodis and the framework assemblies (apt-get install mono-devel mono-utils)",
              file=sys.stderr)
        return 2
    size = sum(os.path.getsize(f) for f in files)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        seconds, rss, out = best_of(args.runs, [sys.executable, "-c", EXTRACT, tmp, *files], env,
                                    stdout=subprocess.PIPE)
        rows.append(("b2release apicompat (dnfile, all files, writes .api.txt)", seconds, rss,
                     f"{int(out.strip()):,} API lines"))
    quoted = [f"'{f}'" for f in files]
    tables = shell_loop([f"{monodis} {opt} {f} >/dev/null 2>&1" for f in quoted for opt in MONODIS_TABLES])
    seconds, rss, _ = best_of(args.runs, tables)
    rows.append((f"monodis, same {len(MONODIS_TABLES)} tables ({len(files) * len(MONODIS_TABLES)} runs)", seconds, rss,
                 "table dumps"))
    full = shell_loop([f"{monodis} {f} >/dev/null 2>&1" for f in quoted])
    seconds, rss, _ = best_of(args.runs, full)
    rows.append((f"monodis full disassembly ({len(files)} runs)", seconds, rss, "IL bodies too"))

    print(f"input: {len(files)} assemblies, {size / 1e6:.1f} MB ({args.glob}), {os.cpu_count()} CPUs, "
          f"best of {args.runs}")
    print(f"| {'tool':<58} | {'seconds':>7} | {'peak RSS MB':>11} | {'output':<18} |")
    print(f"|{'-' * 60}|{'-' * 8}:|{'-' * 12}:|{'-' * 20}|")
    for name, seconds, rss, what in rows:
        print(f"| {name:<58} | {seconds:>7.2f} | {rss / 1024:>11.1f} | {what:<18} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
