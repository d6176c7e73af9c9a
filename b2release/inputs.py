"""A folder of prebuilt binaries as package entries (`package --input`, `sign --input`).

Every regular file under the folder becomes one entry named by its relative path, in
Unicode NFC (a package holds NFC names whatever the file system gave: macOS, for one,
hands out decomposed names). What a package may not hold is refused here, before any
work: symbolic links and special files (a package holds regular files only), names unsafe
on Windows or Linux, the reserved `.b2release/` folder, and names that collide on Windows.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

from b2release.errors import InputError
from b2release.formats.manifest import RESERVED_DIR
from b2release.formats.names import entry_path_problem, windows_name_key

Entries = list[tuple[str, Path]]  # (entry name, source file)


def collect_input_dir(root: Path) -> Entries:
    """Every regular file under root, sorted; symlinks, special files and unsafe names refused."""
    if not root.exists():
        raise InputError(f"input folder {root} does not exist")
    if not root.is_dir():
        raise InputError(f"input {root} is not a folder")
    files: Entries = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            mode = full.lstat().st_mode
            rel = full.relative_to(root).as_posix()
            if stat.S_ISLNK(mode):
                raise InputError(f"{full} is a symbolic link; packages hold regular files only")
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise InputError(f"{full} is not a regular file (device, socket or pipe); refusing to package it")
            files.append((unicodedata.normalize("NFC", rel), full))
    if not files:
        raise InputError(f"input folder {root} contains no files")
    return files


def check_entry_names(files: Entries) -> None:
    """Refuse names a package may not hold (see the module docstring)."""
    seen: dict[str, str] = {}
    for name, source in files:
        problem = entry_path_problem(name)
        if problem:
            raise InputError(f"{source}: name {name!r} {problem}; it would be unsafe in a package")
        if name.split("/")[0] == RESERVED_DIR:
            raise InputError(f"{source}: the folder {RESERVED_DIR}/ is reserved for the package's own metadata")
        key = windows_name_key(name)
        if key in seen:
            raise InputError(f"{source}: {name!r} and {seen[key]!r} are one name on Windows (case or Unicode "
                             "composition differs only)")
        seen[key] = name


def collect_entries(root: Path) -> Entries:
    """`collect_input_dir` + `check_entry_names`: the entries of an --input folder."""
    files = collect_input_dir(root)
    check_entry_names(files)
    return files
