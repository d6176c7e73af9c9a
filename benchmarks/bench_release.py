"""Issue #16's table: b2release against the tools a shell script would use, in one run.

    python benchmarks/bench_release.py            # everything (`make bench`): corpus, then the 2 GiB case
    python benchmarks/bench_release.py --quick    # the corpus only (no 2 GiB case), best of 1
    python benchmarks/bench_release.py --only upload   # one group of rows (archive, help, upload)

Inputs (benchmarks/corpus.py, built once per machine): Mono's framework assemblies copied
four times (~250 MB, ~1,400 real .NET assemblies), six times for the upload row (a ~127 MB
package), and a ~2 GiB release of 10,000 files. Every side runs as its own fresh process
(`python -m b2release` of this checkout); its wall time is the best of R runs and its peak
RSS the largest of them (wait4, the number `/usr/bin/time -f %M` prints).

Rows: package vs `zip -X -r` (Info-ZIP's default level) + `sha256sum` of the tree, and the
zip's size against Info-ZIP's; verify (the release folder, as an auditor runs it) vs
`unzip -tq` + `sha256sum` of the tree; `--help` (the slowest of the top level and every
command's) vs `python -c "import typer"`; upload to Azurite vs the raw SDK's `upload_blob`
in a fresh process; fan-out to 50 tenants vs 1 tenant (the two taking turns on a fresh
emulator: Azurite keeps every blob in memory and slows as it fills). The goals are issue #16's: time
ratios on the corpus, peak RSS <= 150 MB for the 2 GiB case (its time ratios are shown).
No assertion: a table to read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import corpus  # noqa: E402
from benchmarks.measure import REPO, Run, b2release, b2release_env, best_of, run  # noqa: E402

PEAK_RSS_GOAL_MB = 150
RAW_UPLOAD = """
import os, sys
from azure.storage.blob import BlobServiceClient
service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
container = service.create_container(sys.argv[1])
for path in sys.argv[2:]:
    with open(path, "rb") as fh:
        container.upload_blob(os.path.basename(path), fh, max_concurrency=4)
"""
SHA256SUM_TREE = "find . -type f -print0 | xargs -0 sha256sum > /dev/null"


@dataclass(frozen=True)
class Row:
    case: str
    ours: float
    reference_name: str
    reference: float
    goal: str  # e.g. "<= 0.15x"
    met: bool
    ratio_text: str
    rss_mb: float | None = None
    unit: str = "s"

    def cells(self) -> list[str]:
        rss = f"{self.rss_mb:.0f}" if self.rss_mb is not None else ""
        return [self.case, f"{self.ours:.2f} {self.unit}", f"{self.reference_name}: {self.reference:.2f} {self.unit}",
                self.ratio_text, self.goal, "yes" if self.met else "NO", rss]


def ratio_row(case: str, ours: Run, ref_name: str, ref: Run, goal: float | None, rss_goal: float | None = None) -> Row:
    """A timed row; `goal` is the ratio to stay under (None: shown, not a goal), `rss_goal` in MB."""
    ratio = ours.seconds / ref.seconds
    met = (goal is None or ratio <= goal) and (rss_goal is None or ours.peak_rss_mb <= rss_goal)
    goals = ([f"<= {goal:.2f}x"] if goal is not None else []) + ([f"RSS <= {rss_goal:.0f} MB"] if rss_goal else [])
    return Row(case, ours.seconds, ref_name, ref.seconds, ", ".join(goals), met, f"{ratio:.2f}x", ours.peak_rss_mb)


class Release:
    """Keys, a work dir per tree, and the commands run on them."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.keys = scratch / "keys"
        run(b2release("-q", "keys", "generate", "--out", str(self.keys)), env=b2release_env())
        self.key = str(self.keys / "release-signing.key")
        self.public = str(self.keys / "release-signing.pub")
        # Warm up on a tiny tree: every module's bytecode cached before anything is timed.
        tiny = scratch / "warm-up"
        tiny.mkdir()
        (tiny / "a.txt").write_text("warm up\n" * 100)
        self.package(tiny, scratch / "work-warm-up")
        self.verify(scratch / "work-warm-up")

    def package(self, tree: Path, work: Path) -> Run:
        shutil.rmtree(work, ignore_errors=True)
        return run(b2release("-q", "--work-dir", str(work), "package", "--input", str(tree), "--name", "bench",
                             "--version", "1.0.0", "--signing-key", self.key, "--allow-unsigned"),
                   cwd=self.scratch, env=b2release_env())

    def verify(self, work: Path) -> Run:
        return run(b2release("-q", "verify", str(work), "--public-key", self.public), cwd=self.scratch,
                   env=b2release_env())


def info_zip(tree: Path, out: Path) -> Run:
    out.unlink(missing_ok=True)
    return run(["sh", "-c", f"zip -X -r -q '{out}' . && {SHA256SUM_TREE}"], cwd=tree)


def unzip_test(tree: Path, zip_path: Path) -> Run:
    return run(["sh", "-c", f"unzip -tq '{zip_path}' > /dev/null && {SHA256SUM_TREE}"], cwd=tree)


def archive_rows(label: str, tree: Path, release: Release, repeat: int) -> list[Row]:
    work = release.scratch / f"work-{label}"
    ref_zip = release.scratch / f"infozip-{label}.zip"
    ours = best_of(repeat, lambda: release.package(tree, work))
    ref = best_of(repeat, lambda: info_zip(tree, ref_zip))
    ours_zip = work / "bench-1.0.0.zip"
    size_ratio = ours_zip.stat().st_size / ref_zip.stat().st_size
    verify = best_of(repeat, lambda: release.verify(work))
    unzip = best_of(repeat, lambda: unzip_test(tree, ref_zip))
    # The time goals are the corpus's; at 2 GiB the goal is flat memory (the ratio is shown).
    big = label == "2 GiB"
    rss_goal = PEAK_RSS_GOAL_MB if big else None
    rows = [
        ratio_row(f"package ({label})", ours, "zip -X -r + sha256sum", ref, None if big else 0.15, rss_goal),
        Row(f"zip size ({label})", ours_zip.stat().st_size / 1e6, "Info-ZIP", ref_zip.stat().st_size / 1e6,
            "<= 1.00x", size_ratio <= 1.0, f"{size_ratio:.3f}x", unit="MB"),
        ratio_row(f"verify ({label})", verify, "unzip -tq + sha256sum", unzip, None if big else 0.25, rss_goal),
    ]
    ref_zip.unlink(missing_ok=True)
    return rows


def command_paths() -> list[list[str]]:
    """Every command's path (`keys generate`, ...), read from the Typer app itself."""
    import typer

    import b2release.cli
    from b2release.cli import app

    getattr(b2release.cli, "load_all", lambda: None)()  # before lazy loading, importing the CLI loaded all
    paths: list[list[str]] = []

    def walk(command, prefix: list[str]) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def help_row(rounds: int) -> Row:
    """The slowest `--help` against Typer's import, by CPU time (user + system) of each fresh
    process, fastest of `rounds`. Start-up is tens of milliseconds and a neighbour's load
    shifts wall time by as much; taking the slowest of ~30 commands by wall time then
    measures the noise (Typer's import against itself: up to 1.28x). CPU time is what the
    process itself spent; the wall times are shown beside it."""
    env = b2release_env()
    sides = {"": [sys.executable, "-c", "import typer"]}
    sides.update({" ".join(path) or "(top level)": b2release(*path, "--help") for path in [[], *command_paths()]})
    for args in sides.values():  # warm up: bytecode written, files cached
        run(args, env=env)
    best: dict[str, Run] = {}
    for _ in range(rounds):
        for name, args in sides.items():
            timed = run(args, env=env)
            if name not in best or timed.cpu_seconds < best[name].cpu_seconds:
                best[name] = timed
    typer_alone = best.pop("")
    which = max(best, key=lambda name: best[name].cpu_seconds)
    ours = Run(best[which].cpu_seconds, best[which].peak_rss_mb)
    row = ratio_row("--help, slowest command", ours, 'python -c "import typer"', Run(typer_alone.cpu_seconds, 0), 1.10)
    return Row(f"{row.case}: {which} (CPU time; wall {best[which].seconds:.3f} s vs {typer_alone.seconds:.3f} s)",
               row.ours, row.reference_name, row.reference, row.goal, row.met, row.ratio_text, row.rss_mb)


def upload_rows(release: Release, repeat: int, work: Path, label: str, fan_out: bool) -> list[Row]:
    from tests.fixtures.azurite import find_azurite, start_azurite, stop_azurite

    if find_azurite() is None:
        print("(no Azurite: `make tools`; upload rows skipped)", file=sys.stderr)
        return []
    files = [work / n for n in sorted(os.listdir(work)) if (work / n).is_file() and n != "state.json"]
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    counter = [0]

    def emulator() -> tuple[Any, dict[str, str]]:
        # A fresh emulator per comparison: Azurite keeps every blob in memory, and a run
        # after many uploads is slower than one after few, whatever it does.
        folder = release.scratch / f"azurite-{counter[0]}"
        folder.mkdir(exist_ok=True)
        server = start_azurite(folder)
        return server, b2release_env(AZURE_STORAGE_CONNECTION_STRING=server.connection_string,
                                     B2RELEASE_STORE_URL="azure", B2RELEASE_STORE_ALLOW_HTTP_EMULATOR="true")

    def upload(env: dict[str, str], tenants: int) -> Run:
        counter[0] += 1
        tenant_args = [a for i in range(tenants) for a in ("--tenant", f"t{counter[0]}x{i}")]
        return run(b2release("-q", "--json", "--work-dir", str(work), "upload", "--signing-key", release.key,
                             "--channel", f"c{counter[0]}", *tenant_args), cwd=release.scratch, capture=True,
                   env={**env, "B2RELEASE_STORE_RELEASE_CONTAINER": f"rel{counter[0]}"})

    def raw(env: dict[str, str]) -> Run:
        counter[0] += 1
        return run([sys.executable, "-c", RAW_UPLOAD, f"raw{counter[0]}", *map(str, files)], env=env)

    server, env = emulator()
    try:
        ours, ref = best_of(repeat, lambda: upload(env, 0)), best_of(repeat, lambda: raw(env))
    finally:
        stop_azurite(server)
    ratio = ours.seconds / ref.seconds
    big = label == "2 GiB"
    goal = f"RSS <= {PEAK_RSS_GOAL_MB} MB" if big else ">= 1.30x faster"
    met = ours.peak_rss_mb <= PEAK_RSS_GOAL_MB if big else ratio <= 1 / 1.3
    rows = [Row(f"upload {size_mb:.0f} MB to Azurite ({label})", ours.seconds, "raw SDK upload_blob, fresh process",
                ref.seconds, goal, met, f"{1 / ratio:.2f}x faster", ours.peak_rss_mb)]
    if fan_out:
        # 1 and 50 tenants taking turns on one fresh emulator, so neither side meets a fuller store.
        server, env = emulator()
        try:
            pairs = [(upload(env, 1), upload(env, 50)) for _ in range(max(1, repeat))]
        finally:
            stop_azurite(server)
        one = min((p[0] for p in pairs), key=lambda r: r.seconds)
        fifty = min((p[1] for p in pairs), key=lambda r: r.seconds)
        sent_one = json.loads(one.stdout)["bytes_sent"]
        sent_fifty = json.loads(fifty.stdout)["bytes_sent"]
        ratio = fifty.seconds / one.seconds
        rows.append(Row(f"fan-out, 50 tenants (client bytes {sent_fifty / sent_one:.2f}x)", fifty.seconds,
                        "1 tenant", one.seconds, "<= 1.50x, bytes 1.00x",
                        ratio <= 1.5 and sent_fifty == sent_one, f"{ratio:.2f}x",
                        max(p[1].peak_rss_mb for p in pairs)))
    return rows


def print_table(rows: list[Row]) -> None:
    header = ["case", "b2release", "reference", "ratio", "goal", "met", "peak RSS MB"]
    table = [header] + [r.cells() for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in table[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the corpus only, best of 1 (no 2 GiB case)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side on the corpus; the fastest counts")
    parser.add_argument("--only", choices=["archive", "help", "upload"], help="one group of rows (corpus only)")
    args = parser.parse_args()
    for tool in ("zip", "unzip", "sha256sum"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    repeat = 1 if args.quick else args.repeat
    trees = {"corpus": corpus.mono_tree(4), "upload": corpus.mono_tree(6)}
    if not args.quick and args.only is None:
        trees["2 GiB"] = corpus.big_tree()
    for label, tree in trees.items():
        count, total = corpus.tree_size(tree)
        print(f"{label}: {tree} ({count:,} files, {total / 1e6:,.0f} MB)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, checkout {REPO}, best of {repeat} "
          f"(2 GiB case: best of 1)")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-release-", dir=corpus.bench_dir()) as tmp:
        release = Release(Path(tmp))
        if args.only in (None, "archive"):
            rows += archive_rows("corpus", trees["corpus"], release, repeat)
        if args.only in (None, "help"):
            rows.append(help_row(30 if repeat > 1 else 10))
        if args.only in (None, "upload"):
            release.package(trees["upload"], release.scratch / "work-upload")
            rows += upload_rows(release, repeat, release.scratch / "work-upload", "corpus x6", fan_out=True)
        shutil.rmtree(release.scratch / "work-corpus", ignore_errors=True)
        if "2 GiB" in trees:
            rows += archive_rows("2 GiB", trees["2 GiB"], release, 1)
            rows += upload_rows(release, 1, release.scratch / "work-2 GiB", "2 GiB", fan_out=False)
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
