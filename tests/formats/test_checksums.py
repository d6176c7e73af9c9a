import subprocess

import pytest

from b2release.errors import VerificationError
from b2release.formats import checksums


def test_render_is_sha256sum_compatible_and_sorted(tmp_path):
    (tmp_path / "b.txt").write_bytes(b"b")
    (tmp_path / "a.txt").write_bytes(b"a")
    import hashlib

    sums = {n: hashlib.sha256(n[0].encode()).hexdigest() for n in ("b.txt", "a.txt")}
    data = checksums.render(sums)
    assert data.decode().splitlines()[0].endswith("  a.txt")
    assert data.endswith(b"\n") and b"\r" not in data
    (tmp_path / "SHA256SUMS").write_bytes(data)
    proc = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert checksums.parse(data) == sums


@pytest.mark.parametrize(
    "text,needle",
    [
        ("zz  a\n", "line 1"),
        ("%s  ../etc/passwd\n" % ("0" * 64), "outside the folder"),
        ("%s  a\n%s  a\n" % ("0" * 64, "1" * 64), "twice"),
    ],
)
def test_parse_rejects_bad_lines(text, needle):
    with pytest.raises(VerificationError, match=needle):
        checksums.parse(text.encode())
