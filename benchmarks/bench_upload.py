"""Upload speed: b2release upload vs the raw Azure SDK call, against a local Azurite.

The payload is a real package (Mono framework assemblies, packaged by b2release). Rows:
the plain SDK `upload_blob` of the same files into one container (the floor), b2release
upload to the release container only, and with 1 and 3 tenants (server-side copies: the
bytes the client sends stay the same). Prints a table; wall times are best of R runs,
each into fresh containers. Needs Azurite (`make tools`). Run: `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_package import build_payload  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from tests.fixtures.azurite import find_azurite, start_azurite, stop_azurite

    if find_azurite() is None:
        print("Azurite not found: run `make tools` first", file=sys.stderr)
        return 2
    from b2release.stages import keys

    with tempfile.TemporaryDirectory(prefix="b2release-bench-up-") as tmp:
        tmp_path = Path(tmp)
        files, size = build_payload(tmp_path / "payload", args.copies)
        keys.generate(tmp_path / "keys")
        key = str(tmp_path / "keys" / "release-signing.key")
        base_env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "PYTHONPATH": str(REPO)}
        work = tmp_path / "dist"
        subprocess.run([sys.executable, "-m", "b2release", "-q", "--work-dir", str(work), "package", "--input",
                        str(tmp_path / "payload"), "--name", "bench", "--version", "1.0.0", "--signing-key", key,
                        "--allow-unsigned"], cwd=tmp_path, check=True, env=base_env)
        release = [work / n for n in sorted(os.listdir(work)) if (work / n).is_file() and n != "state.json"]
        total = sum(p.stat().st_size for p in release)

        (tmp_path / "azurite").mkdir()
        server = start_azurite(tmp_path / "azurite")
        try:
            env = {**base_env, "AZURE_STORAGE_CONNECTION_STRING": server.connection_string,
                   "B2RELEASE_STORE_URL": "azure", "B2RELEASE_STORE_ALLOW_HTTP_EMULATOR": "true"}
            service = server.service()
            counter = [0]

            def raw_sdk() -> None:
                counter[0] += 1
                container = service.create_container(f"raw{counter[0]}")
                for path in release:
                    with open(path, "rb") as fh:
                        container.upload_blob(path.name, fh, max_concurrency=4)

            def b2(tenants: int) -> dict:
                counter[0] += 1
                run_env = {**env, "B2RELEASE_STORE_RELEASE_CONTAINER": f"rel{counter[0]}"}
                tenant_args = [a for i in range(tenants) for a in ("--tenant", f"t{counter[0]}x{i}")]
                proc = subprocess.run(
                    [sys.executable, "-m", "b2release", "-q", "--json", "--work-dir", str(work), "upload",
                     "--signing-key", key, "--channel", f"c{counter[0]}", *tenant_args],
                    check=True, env=run_env, capture_output=True, text=True, cwd=tmp_path)
                return json.loads(proc.stdout)

            def best(fn) -> tuple[float, object]:
                times, result = [], None
                for _ in range(args.runs):
                    start = time.perf_counter()
                    result = fn()
                    times.append(time.perf_counter() - start)
                return min(times), result

            raw_script = (
                "import os, sys\n"
                "from azure.storage.blob import BlobServiceClient\n"
                "svc = BlobServiceClient.from_connection_string(os.environ['AZURE_STORAGE_CONNECTION_STRING'])\n"
                "c = svc.create_container(sys.argv[1])\n"
                "for p in sys.argv[2:]:\n"
                "    with open(p, 'rb') as fh:\n"
                "        c.upload_blob(os.path.basename(p), fh, max_concurrency=4)\n"
            )

            def raw_sdk_process() -> None:
                counter[0] += 1
                subprocess.run([sys.executable, "-c", raw_script, f"rawp{counter[0]}", *map(str, release)],
                               check=True, env=env)

            rows = [("raw SDK upload_blob, in-process", *best(raw_sdk)),
                    ("raw SDK upload_blob, fresh python process", *best(raw_sdk_process))]
            for tenants in (0, 1, 3):
                rows.append((f"b2release upload, release + {tenants} tenant(s)", *best(lambda t=tenants: b2(t))))
        finally:
            stop_azurite(server)

        print(f"package: {files} assemblies, release files {total / 1e6:.1f} MB, Azurite on loopback, "
              f"best of {args.runs}")
        print(f"{'what':<45} {'seconds':>8} {'MB/s':>8} {'client MB sent':>15}")
        for name, seconds, result in rows:
            sent = result["bytes_sent"] if isinstance(result, dict) else total
            print(f"{name:<45} {seconds:>8.2f} {total / 1e6 / seconds:>8.1f} {sent / 1e6:>15.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
