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
from b2release.formats.names import NameSet, entry_name_problem

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
    """Refuse names a package may not hold (see the module docstring): the package writer's
    and the strict reader's own rules (formats.names), named here with the source file."""
    seen = NameSet()
    for name, source in files:
        if name.split("/")[0] == RESERVED_DIR:
            raise InputError(f"{source}: the folder {RESERVED_DIR}/ is reserved for the package's own metadata")
        problem = entry_name_problem(name) or seen.add(name)
        if problem == "appears twice":  # two files on disk, one name once in Unicode NFC
            problem = "is the name of another file too once written in Unicode NFC (one name on Windows)"
        if problem:
            raise InputError(f"{source}: name {name!r} {problem}; a package cannot hold it")


def collect_entries(root: Path) -> Entries:
    """`collect_input_dir` + `check_entry_names`: the entries of an --input folder."""
    files = collect_input_dir(root)
    check_entry_names(files)
    return files
