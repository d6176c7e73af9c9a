"""inputs: a folder of prebuilt binaries as package entries."""

from __future__ import annotations

import pytest

from b2release.errors import InputError
from b2release.inputs import collect_entries


def test_entry_names_are_nfc_and_windows_collisions_refused(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    (root / "cafe\u0301.dll").write_bytes(b"MZ")  # decomposed, as macOS writes it
    (root / "straße.txt").write_text("a")
    (root / "strasse.txt").write_text("b")  # a different name on Windows: allowed
    names = [name for name, _ in collect_entries(root)]
    assert "caf\u00e9.dll" in names and "cafe\u0301.dll" not in names
    assert {"straße.txt", "strasse.txt"} <= set(names)
    (root / "caf\u00e9.dll").write_bytes(b"MZ")  # the composed twin: one name on Windows
    with pytest.raises(InputError, match="one name on Windows"):
        collect_entries(root)
