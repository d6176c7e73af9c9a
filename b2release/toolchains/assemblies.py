""".NET assembly identity from the metadata tables (ECMA-335 partition II), read in Python.

What the build's output selection and the test stage need to know about a DLL or EXE,
without running anything:

* its own name and version (the `Assembly` table);
* the assemblies it references, with versions (`AssemblyRef`): a test assembly references
  `nunit.framework`, `xunit.core` or an MSTest framework, and which NUnit it references
  decides between nunit-console (2.x) and nunit3-console;
* whether it is a *reference assembly* (`[assembly: ReferenceAssembly]`, what the .NET
  Framework reference assemblies and the SDK's `ref/` folder hold): metadata only, it
  cannot run, so it never ships.

Only the headers and the metadata tables are read; every offset is bounds-checked and a
file that is not a .NET image (a native DLL, a text file named .dll, a truncated file)
gives None, never an exception.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 512 * 1024 * 1024  # larger files are not assemblies we judge
_DIR_CLR = 14
_METADATA_SIGNATURE = 0x424A5342  # "BSJB"

# Coded indices (II.24.2.6): tag bits and the tables they may point at (None: unused tag).
_CODED: dict[str, tuple[int, tuple[int | None, ...]]] = {
    "TypeDefOrRef": (2, (0x02, 0x01, 0x1B)),
    "HasConstant": (2, (0x04, 0x08, 0x17)),
    "HasCustomAttribute": (5, (0x06, 0x04, 0x01, 0x02, 0x08, 0x09, 0x0A, 0x00, 0x0E, 0x17, 0x14, 0x11, 0x1A,
                               0x1B, 0x20, 0x23, 0x26, 0x27, 0x28, 0x2A, 0x2C, 0x2B)),
    "HasFieldMarshal": (1, (0x04, 0x08)),
    "HasDeclSecurity": (2, (0x02, 0x06, 0x20)),
    "MemberRefParent": (3, (0x02, 0x01, 0x1A, 0x06, 0x1B)),
    "HasSemantics": (1, (0x14, 0x17)),
    "MethodDefOrRef": (1, (0x06, 0x0A)),
    "MemberForwarded": (1, (0x04, 0x06)),
    "Implementation": (2, (0x26, 0x23, 0x27)),
    "CustomAttributeType": (3, (None, None, 0x06, 0x0A, None)),
    "ResolutionScope": (2, (0x00, 0x1A, 0x23, 0x01)),
    "TypeOrMethodDef": (1, (0x02, 0x06)),
}
# Table schemas up to AssemblyRef (0x23), enough to locate every table we read.
# Column kinds: 1/2/4 fixed size, "S" string, "G" guid, "B" blob heap index,
# an int > 0x100 is "index into table (value - 0x100)", any other str a coded index.
_T = 0x100
_SCHEMA: dict[int, tuple] = {
    0x00: (2, "S", "G", "G", "G"),
    0x01: ("ResolutionScope", "S", "S"),
    0x02: (4, "S", "S", "TypeDefOrRef", _T + 0x04, _T + 0x06),
    0x03: (_T + 0x04,),
    0x04: (2, "S", "B"),
    0x05: (_T + 0x06,),
    0x06: (4, 2, 2, "S", "B", _T + 0x08),
    0x07: (_T + 0x08,),
    0x08: (2, 2, "S"),
    0x09: (_T + 0x02, "TypeDefOrRef"),
    0x0A: ("MemberRefParent", "S", "B"),
    0x0B: (1, 1, "HasConstant", "B"),
    0x0C: ("HasCustomAttribute", "CustomAttributeType", "B"),
    0x0D: ("HasFieldMarshal", "B"),
    0x0E: (2, "HasDeclSecurity", "B"),
    0x0F: (2, 4, _T + 0x02),
    0x10: (4, _T + 0x04),
    0x11: ("B",),
    0x12: (_T + 0x02, _T + 0x14),
    0x13: (_T + 0x14,),
    0x14: (2, "S", "TypeDefOrRef"),
    0x15: (_T + 0x02, _T + 0x17),
    0x16: (_T + 0x17,),
    0x17: (2, "S", "B"),
    0x18: (2, _T + 0x06, "HasSemantics"),
    0x19: (_T + 0x02, "MethodDefOrRef", "MethodDefOrRef"),
    0x1A: ("S",),
    0x1B: ("B",),
    0x1C: (2, "MemberForwarded", "S", _T + 0x1A),
    0x1D: (4, _T + 0x04),
    0x1E: (4, 4),
    0x1F: (4,),
    0x20: (4, 2, 2, 2, 2, 4, "B", "S", "S"),
    0x21: (4,),
    0x22: (4, 4, 4),
    0x23: (2, 2, 2, 2, 4, "B", "S", "S", "B"),
}
_TYPEREF, _TYPEDEF, _METHODDEF, _MEMBERREF, _CUSTOMATTR, _ASSEMBLY, _ASSEMBLYREF = 0x01, 0x02, 0x06, 0x0A, 0x0C, 0x20, 0x23


class _Bad(Exception):
    """The file is not a well-formed .NET image (internal: becomes None)."""


@dataclass(frozen=True)
class Reference:
    name: str
    version: str  # "2.6.4.0"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


@dataclass(frozen=True)
class AssemblyInfo:
    name: str
    version: str
    culture: str = ""
    references: tuple[Reference, ...] = field(default_factory=tuple)
    reference_assembly: bool = False  # [assembly: ReferenceAssembly]: metadata only

    def reference(self, name: str) -> Reference | None:
        low = name.lower()
        return next((r for r in self.references if r.name.lower() == low), None)


def read(path: Path) -> AssemblyInfo | None:
    """The identity of the .NET assembly at `path`, or None if it is not one."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return _Reader(data).info()
    except (_Bad, struct.error, IndexError, ValueError, UnicodeDecodeError):
        return None


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        meta = self._metadata_offset()
        self._streams(meta)
        self._tables()

    # --- PE and metadata root -------------------------------------------------------------
    def _u(self, fmt: str, offset: int) -> tuple:
        if offset < 0 or offset + struct.calcsize(fmt) > len(self.data):
            raise _Bad("out of bounds")
        return struct.unpack_from(fmt, self.data, offset)

    def _metadata_offset(self) -> int:
        if self.data[:2] != b"MZ":
            raise _Bad("no MZ header")
        (lfanew,) = self._u("<I", 0x3C)
        if self.data[lfanew:lfanew + 4] != b"PE\0\0":
            raise _Bad("no PE signature")
        _machine, sections, _ts, _sym, _nsym, opt_size, _chars = self._u("<HHIIIHH", lfanew + 4)
        opt = lfanew + 24
        (magic,) = self._u("<H", opt)
        count_at, dirs_at = {0x10B: (opt + 92, opt + 96), 0x20B: (opt + 108, opt + 112)}.get(magic, (0, 0))
        if not count_at:
            raise _Bad("unknown optional header")
        (dir_count,) = self._u("<I", count_at)
        if dir_count <= _DIR_CLR:
            raise _Bad("no CLR directory")
        clr_rva, clr_size = self._u("<II", dirs_at + 8 * _DIR_CLR)
        if not clr_rva or clr_size < 16:
            raise _Bad("not a .NET image")
        self._sections = [self._u("<IIII", opt + opt_size + 40 * i + 8) for i in range(sections)]
        clr = self._offset(clr_rva)
        meta_rva, _meta_size = self._u("<II", clr + 8)
        return self._offset(meta_rva)

    def _offset(self, rva: int) -> int:
        for vsize, va, raw_size, raw_ptr in self._sections:
            if va <= rva < va + max(vsize, raw_size):
                return rva - va + raw_ptr
        raise _Bad("RVA outside every section")

    def _streams(self, meta: int) -> None:
        (signature,) = self._u("<I", meta)
        if signature != _METADATA_SIGNATURE:
            raise _Bad("no metadata signature")
        (length,) = self._u("<I", meta + 12)
        at = meta + 16 + length
        _flags, count = self._u("<HH", at)
        at += 4
        self.heaps: dict[str, tuple[int, int]] = {}
        for _ in range(count):
            offset, size = self._u("<II", at)
            end = self.data.index(b"\0", at + 8)
            name = self.data[at + 8:end].decode("ascii")
            at = (end + 4) & ~3
            self.heaps[name] = (meta + offset, size)
        if "#~" not in self.heaps or "#Strings" not in self.heaps:
            raise _Bad("no compressed metadata tables")

    # --- tables ---------------------------------------------------------------------------
    def _tables(self) -> None:
        base, _size = self.heaps["#~"]
        heap_sizes = self._u("<B", base + 6)[0]
        (valid,) = self._u("<Q", base + 8)
        self.rows = [0] * 64
        at = base + 24
        for table in range(64):
            if valid >> table & 1:
                (self.rows[table],) = self._u("<I", at)
                at += 4
        self.string_size = 4 if heap_sizes & 1 else 2
        self.guid_size = 4 if heap_sizes & 2 else 2
        self.blob_size = 4 if heap_sizes & 4 else 2
        self.table_at: dict[int, int] = {}
        self.layout: dict[int, struct.Struct] = {}
        for table in range(0x24):
            if not self.rows[table]:
                continue
            if table not in _SCHEMA:
                raise _Bad(f"unknown table {table:#x}")
            self.table_at[table] = at
            self.layout[table] = struct.Struct("<" + "".join(
                {1: "B", 2: "H", 4: "I"}[self._column_size(c)] for c in _SCHEMA[table]))
            at += self.layout[table].size * self.rows[table]

    def _column_size(self, kind) -> int:
        if kind in (1, 2, 4):
            return kind
        if kind == "S":
            return self.string_size
        if kind == "G":
            return self.guid_size
        if kind == "B":
            return self.blob_size
        if isinstance(kind, int):
            return 2 if self.rows[kind - _T] < 1 << 16 else 4
        bits, tables = _CODED[kind]
        largest = max(self.rows[t] for t in tables if t is not None)
        return 2 if largest < 1 << (16 - bits) else 4

    def row(self, table: int, index: int) -> list[int]:
        """Row `index` (1-based) of `table` as raw column values."""
        if not 1 <= index <= self.rows[table]:
            raise _Bad(f"row {index} of table {table:#x} does not exist")
        layout = self.layout[table]
        at = self.table_at[table] + (index - 1) * layout.size
        if at + layout.size > len(self.data):
            raise _Bad("table outside the file")
        return list(layout.unpack_from(self.data, at))

    def string(self, index: int) -> str:
        base, size = self.heaps["#Strings"]
        if index >= size:
            raise _Bad("string index out of range")
        end = self.data.index(b"\0", base + index, base + size)
        return self.data[base + index:end].decode("utf-8")

    # --- what we want to know -------------------------------------------------------------
    def info(self) -> AssemblyInfo:
        if not self.rows[_ASSEMBLY]:
            raise _Bad("a module, not an assembly")
        _hash, major, minor, build, rev, _flags, _key, name, culture = self.row(_ASSEMBLY, 1)
        refs = []
        for i in range(1, self.rows[_ASSEMBLYREF] + 1):
            r_major, r_minor, r_build, r_rev, _f, _k, r_name, _c, _h = self.row(_ASSEMBLYREF, i)
            refs.append(Reference(self.string(r_name), f"{r_major}.{r_minor}.{r_build}.{r_rev}"))
        return AssemblyInfo(name=self.string(name), version=f"{major}.{minor}.{build}.{rev}",
                            culture=self.string(culture), references=tuple(refs),
                            reference_assembly=self._has_reference_assembly_attribute())

    def _has_reference_assembly_attribute(self) -> bool:
        for i in range(1, self.rows[_CUSTOMATTR] + 1):
            parent, ctor, _value = self.row(_CUSTOMATTR, i)
            if parent & 0x1F != 14 or parent >> 5 != 1:  # HasCustomAttribute tag 14: the Assembly row
                continue
            if self._attribute_type(ctor) == ("System.Runtime.CompilerServices", "ReferenceAssemblyAttribute"):
                return True
        return False

    def _attribute_type(self, ctor: int) -> tuple[str, str] | None:
        tag, index = ctor & 7, ctor >> 3
        if tag == 3:  # MemberRef -> its parent type
            parent = self.row(_MEMBERREF, index)[0]
            if parent & 7 == 1:  # TypeRef
                _scope, type_name, namespace = self.row(_TYPEREF, parent >> 3)
                return self.string(namespace), self.string(type_name)
            if parent & 7 == 0:  # TypeDef
                return self._typedef_name(parent >> 3)
            return None
        if tag == 2:  # MethodDef: the attribute is defined in this assembly (mscorlib, netstandard)
            owner = 0
            for t in range(1, self.rows[_TYPEDEF] + 1):
                if self.row(_TYPEDEF, t)[5] <= index:
                    owner = t
            return self._typedef_name(owner) if owner else None
        return None

    def _typedef_name(self, index: int) -> tuple[str, str]:
        _flags, type_name, namespace, _extends, _fields, _methods = self.row(_TYPEDEF, index)
        return self.string(namespace), self.string(type_name)
