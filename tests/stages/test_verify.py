import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from b2release.formats.manifest import ZIP_MANIFEST, ZIP_SIGNATURE
from tests.conftest import REPO, assert_user_error
from tests.formats.zipkit import Layout
from tests.helpers import package_dir, rewrite_zip

ZIP = "enventa-connector-1.2.3.zip"


@pytest.fixture
def release(cli, tmp_path, dev_keys, sample_input) -> Path:
    return package_dir(cli, tmp_path, dev_keys, sample_input)


def verify(cli, path, keys):
    return cli("verify", path, "--public-key", keys / "release-signing.pub")


def test_intact_zip_and_folder_verify(cli, release, dev_keys):
    r = cli("--json", "verify", release / ZIP, "--public-key", dev_keys / "release-signing.pub")
    assert r.exit_code == 0, r.output
    doc = r.json()
    assert doc["verified"] is True and doc["product"] == "enventa-connector" and doc["version"] == "1.2.3"
    assert doc["files"] == 3 and len(doc["key_id"]) == 64
    assert "verified enventa-connector 1.2.3" in r.stderr
    r = verify(cli, release, dev_keys)
    assert r.exit_code == 0, r.output


def test_verify_opens_no_socket(cli, release, dev_keys, monkeypatch):
    def no_socket(*a, **k):
        raise AssertionError("verify opened a socket")

    monkeypatch.setattr(socket, "socket", no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    assert verify(cli, release / ZIP, dev_keys).exit_code == 0
    assert verify(cli, release, dev_keys).exit_code == 0


def _flip_byte_in_entry(zip_path: Path, name: str) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo(name)
    data = bytearray(zip_path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0x01
    zip_path.write_bytes(bytes(data))


def test_changed_byte_in_payload_entry(cli, release, dev_keys):
    _flip_byte_in_entry(release / ZIP, "README.txt")
    assert_user_error(verify(cli, release / ZIP, dev_keys), 1, "README.txt")


def test_changed_entry_with_consistent_crc(cli, release, dev_keys, tmp_path):
    bad = tmp_path / "bad.zip"
    rewrite_zip(release / ZIP, bad, replace={"README.txt": b"evil"})
    assert_user_error(verify(cli, bad, dev_keys), 1, "README.txt", "does not match the manifest")


def test_entry_added(cli, release, dev_keys, tmp_path):
    bad = tmp_path / "bad.zip"
    rewrite_zip(release / ZIP, bad, add={"payload.dll": b"MZ..."})
    assert_user_error(verify(cli, bad, dev_keys), 1, "payload.dll", "not listed")


def test_entry_missing(cli, release, dev_keys, tmp_path):
    bad = tmp_path / "bad.zip"
    rewrite_zip(release / ZIP, bad, drop={"tools/settings.json"})
    assert_user_error(verify(cli, bad, dev_keys), 1, "tools/settings.json", "missing")


def test_entry_duplicated(cli, release, dev_keys, tmp_path):
    bad = tmp_path / "bad.zip"
    layout = Layout.parse((release / ZIP).read_bytes())
    layout.add_entry(b"README.txt", b"second copy")
    bad.write_bytes(layout.build())
    assert_user_error(verify(cli, bad, dev_keys), 1, "README.txt", "appears twice")


def test_changed_manifest(cli, release, dev_keys, tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(release / ZIP) as zf:
        manifest = json.loads(zf.read(ZIP_MANIFEST))
    manifest["version"] = "9.9.9"
    rewrite_zip(release / ZIP, bad, replace={ZIP_MANIFEST: json.dumps(manifest).encode()})
    assert_user_error(verify(cli, bad, dev_keys), 1, "manifest.json", "signature does not verify")


def test_signature_by_another_key(cli, tmp_path, other_keys, dev_keys, sample_input):
    work = package_dir(cli, tmp_path, other_keys, sample_input, work=tmp_path / "other")
    assert_user_error(verify(cli, work / ZIP, dev_keys), 1, "signature does not verify")
    assert_user_error(verify(cli, work, dev_keys), 1, "signature does not verify")


def test_missing_signature_entry(cli, release, dev_keys, tmp_path):
    bad = tmp_path / "bad.zip"
    rewrite_zip(release / ZIP, bad, drop={ZIP_SIGNATURE})
    assert_user_error(verify(cli, bad, dev_keys), 1, "not a b2release package")


def test_truncated_and_non_zip(cli, release, dev_keys, tmp_path):
    truncated = tmp_path / "t.zip"
    truncated.write_bytes((release / ZIP).read_bytes()[:-40])
    assert_user_error(verify(cli, truncated, dev_keys), 1, "t.zip", "does not end with an end-of-central-directory record")
    text = tmp_path / "n.zip"
    text.write_text("hello")
    assert_user_error(verify(cli, text, dev_keys), 1, "n.zip")


@pytest.mark.parametrize(
    "name,needle",
    [("/etc/cron.d/x", "absolute"), ("../../evil.dll", ".."), ("tools\\evil.dll", "backslash"),
     ("C:/Windows/evil.dll", "drive letter")],
)
def test_unsafe_entry_paths(cli, release, dev_keys, tmp_path, name, needle):
    bad = tmp_path / "bad.zip"
    layout = Layout.parse((release / ZIP).read_bytes())
    layout.add_entry(name.encode(), b"x")
    bad.write_bytes(layout.build())
    assert_user_error(verify(cli, bad, dev_keys), 1, needle)


def test_folder_checksums_mismatch(cli, release, dev_keys):
    sums = release / "SHA256SUMS"
    lines = sums.read_text().splitlines()
    lines[0] = "0" * 64 + lines[0][64:]
    sums.write_text("\n".join(lines) + "\n")
    assert_user_error(verify(cli, release, dev_keys), 1, "does not match SHA256SUMS")


def test_folder_zip_replaced(cli, release, dev_keys, tmp_path):
    """A zip swapped in the folder (with SHA256SUMS fixed up) is still caught via the manifest."""
    import hashlib

    _flip_byte_in_entry(release / ZIP, "README.txt")
    sums = release / "SHA256SUMS"
    digest = hashlib.sha256((release / ZIP).read_bytes()).hexdigest()
    sums.write_text("".join(
        (digest + "  " + line.split("  ")[1] if line.endswith(ZIP) else line) + "\n"
        for line in sums.read_text().splitlines()
    ))
    assert_user_error(verify(cli, release, dev_keys), 1, "README.txt")


def test_folder_without_sums(cli, tmp_path, dev_keys):
    (tmp_path / "empty").mkdir()
    assert_user_error(verify(cli, tmp_path / "empty", dev_keys), 1, "SHA256SUMS")


def test_user_errors(cli, release, dev_keys, tmp_path):
    assert_user_error(verify(cli, tmp_path / "missing.zip", dev_keys), 2, "does not exist")
    r = cli("verify", release / ZIP, "--public-key", tmp_path / "nokey.pub")
    assert_user_error(r, 2, "nokey.pub")
    r = cli("verify", release / ZIP, cwd=tmp_path)
    assert_user_error(r, 2, "--public-key")


def test_verify_json_error_document(cli, release, dev_keys, tmp_path):
    bad = tmp_path / "bad.zip"
    rewrite_zip(release / ZIP, bad, replace={"README.txt": b"evil"})
    r = cli("--json", "verify", bad, "--public-key", dev_keys / "release-signing.pub")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 1 and "README.txt" in doc["message"]


# VmHWM (the peak RSS of this process image), not ru_maxrss: Linux carries ru_maxrss over
# exec from the parent, so a child would report the test runner's own peak.
PEAK_RSS = """
import sys
from b2release.cli import main
code = main(sys.argv[1:])
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1]
print("PEAK_KB", hwm, file=sys.stderr)
sys.exit(code)
"""


def _verify_peak_kb(work, dev_keys) -> int:
    """Peak RSS in KiB of a fresh process that verifies `work`."""
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, "verify", str(work), "--public-key",
                           str(dev_keys / "release-signing.pub")], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stderr.rsplit("PEAK_KB", 1)[1].split()[0])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_verify_streams_large_entry(cli, tmp_path, dev_keys, sample_input):
    """A 64 MiB incompressible entry verifies with flat memory: its peak RSS is within 24 MiB of
    verifying a small package, which reading the entry whole (64 MiB) could not be."""
    big = tmp_path / "big"
    big.mkdir()
    with open(big / "blob.bin", "wb") as fh:
        for _ in range(64):
            fh.write(os.urandom(1 << 20))
    work = package_dir(cli, tmp_path, dev_keys, big, work=tmp_path / "bigdist")
    small = package_dir(cli, tmp_path, dev_keys, sample_input, work=tmp_path / "smalldist")
    assert verify(cli, work, dev_keys).exit_code == 0
    grown = _verify_peak_kb(work, dev_keys) - _verify_peak_kb(small, dev_keys)
    assert grown < 24 * 1024, f"verifying a 64 MiB entry raised the peak RSS by {grown} KiB"
    shutil.rmtree(big)


def _set_in_every_header(zip_path: Path, name: str, offset_local: int, offset_central: int, value: bytes) -> None:
    """Overwrite a field of `name`'s local header and central record (offsets from each header's start)."""
    data = bytearray(zip_path.read_bytes())
    raw = name.encode()
    for signature, offset in ((b"PK\x03\x04", offset_local), (b"PK\x01\x02", offset_central)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(raw)] == raw:
                data[start + offset:start + offset + len(value)] = value
            start += 4
    zip_path.write_bytes(bytes(data))


@pytest.mark.parametrize(("local", "central", "value"), [
    (8, 10, struct.pack("<H", 99)),  # compression method 99 (AES): zipfile raised NotImplementedError
    (6, 8, struct.pack("<H", 0x0001)),  # the encryption flag: zipfile raised RuntimeError
])
def test_unsupported_method_or_encryption_is_exit_1_not_a_traceback(cli, release, dev_keys, local, central, value):
    zip_path = release / ZIP
    _set_in_every_header(zip_path, "Enventa.Connector.dll", local, central, value)
    assert_user_error(verify(cli, zip_path, dev_keys), 1, ZIP)
