"""Reading the ECMA-335 metadata tables of one file, with dnfile.

dnfile parses the PE image, the CLR header, the stream headers, the #~ table header
(row counts, heap index sizes) and locates every table. Row decoding is done here in bulk:
dnfile builds a Python object per row (about 14 us each, several seconds for mscorlib),
while `struct.iter_unpack` over a table's bytes takes milliseconds. The column layout
comes from ECMA-335 II.22 / II.24.2.6 and is checked against dnfile's row size for
every table read, so a disagreement is caught instead of producing garbage.

`open_metadata` returns None for a PE file without a CLR header (a native DLL) and raises
`MetadataError` for anything malformed; `extract.py` turns that into an InputError.
dnfile is imported only here, when a binary is read: comparing API text files does not
need it.
"""

from __future__ import annotations

import contextlib
import logging
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from .signatures import SignatureError, read_blob

if TYPE_CHECKING:
    import dnfile


class MetadataError(Exception):
    """The file is a PE image whose .NET metadata cannot be read."""


class NotAPEFile(MetadataError):
    """dnfile (pefile) could not parse the file as a PE image at all."""


# Table numbers (II.22).
MODULE = 0x00
TYPEREF = 0x01
TYPEDEF = 0x02
FIELD_PTR = 0x03
FIELD = 0x04
METHOD_PTR = 0x05
METHODDEF = 0x06
PARAM_PTR = 0x07
PARAM = 0x08
INTERFACEIMPL = 0x09
MEMBERREF = 0x0A
CONSTANT = 0x0B
CUSTOMATTRIBUTE = 0x0C
DECLSECURITY = 0x0E
STANDALONESIG = 0x11
EVENTMAP = 0x12
EVENT_PTR = 0x13
EVENT = 0x14
PROPERTYMAP = 0x15
PROPERTY_PTR = 0x16
PROPERTY = 0x17
METHODSEMANTICS = 0x18
MODULEREF = 0x1A
TYPESPEC = 0x1B
ASSEMBLY = 0x20
ASSEMBLYREF = 0x23
FILE = 0x26
EXPORTEDTYPE = 0x27
MANIFESTRESOURCE = 0x28
NESTEDCLASS = 0x29
GENERICPARAM = 0x2A
METHODSPEC = 0x2B
GENERICPARAMCONSTRAINT = 0x2C

# Coded indexes (II.24.2.6): tag bits and the tables the tags select (None = unused tag).
CODED: dict[str, tuple[int, tuple[int | None, ...]]] = {
    "TypeDefOrRef": (2, (TYPEDEF, TYPEREF, TYPESPEC)),
    "HasConstant": (2, (FIELD, PARAM, PROPERTY)),
    "HasCustomAttribute": (5, (METHODDEF, FIELD, TYPEREF, TYPEDEF, PARAM, INTERFACEIMPL, MEMBERREF, MODULE,
                               DECLSECURITY, PROPERTY, EVENT, STANDALONESIG, MODULEREF, TYPESPEC, ASSEMBLY,
                               ASSEMBLYREF, FILE, EXPORTEDTYPE, MANIFESTRESOURCE, GENERICPARAM,
                               GENERICPARAMCONSTRAINT, METHODSPEC)),
    "MemberRefParent": (3, (TYPEDEF, TYPEREF, MODULEREF, METHODDEF, TYPESPEC)),
    "HasSemantics": (1, (EVENT, PROPERTY)),
    "Implementation": (2, (FILE, ASSEMBLYREF, EXPORTEDTYPE)),
    "CustomAttributeType": (3, (None, None, METHODDEF, MEMBERREF, None)),
    "ResolutionScope": (2, (MODULE, MODULEREF, ASSEMBLYREF, TYPEREF)),
    "TypeOrMethodDef": (1, (TYPEDEF, METHODDEF)),
}

# Column kinds: "u8", "u16", "u32", "str", "guid", "blob", ("idx", table), ("coded", name).
LAYOUTS: dict[int, tuple[str | tuple[str, Any], ...]] = {
    MODULE: ("u16", "str", "guid", "guid", "guid"),
    TYPEREF: (("coded", "ResolutionScope"), "str", "str"),
    TYPEDEF: ("u32", "str", "str", ("coded", "TypeDefOrRef"), ("idx", FIELD), ("idx", METHODDEF)),
    FIELD: ("u16", "str", "blob"),
    METHODDEF: ("u32", "u16", "u16", "str", "blob", ("idx", PARAM)),
    PARAM: ("u16", "u16", "str"),
    INTERFACEIMPL: (("idx", TYPEDEF), ("coded", "TypeDefOrRef")),
    MEMBERREF: (("coded", "MemberRefParent"), "str", "blob"),
    CONSTANT: ("u8", "u8", ("coded", "HasConstant"), "blob"),
    CUSTOMATTRIBUTE: (("coded", "HasCustomAttribute"), ("coded", "CustomAttributeType"), "blob"),
    EVENTMAP: (("idx", TYPEDEF), ("idx", EVENT)),
    EVENT: ("u16", "str", ("coded", "TypeDefOrRef")),
    PROPERTYMAP: (("idx", TYPEDEF), ("idx", PROPERTY)),
    PROPERTY: ("u16", "str", "blob"),
    METHODSEMANTICS: ("u16", ("idx", METHODDEF), ("coded", "HasSemantics")),
    TYPESPEC: ("blob",),
    ASSEMBLY: ("u32", "u16", "u16", "u16", "u16", "u32", "blob", "str", "str"),
    ASSEMBLYREF: ("u16", "u16", "u16", "u16", "u32", "blob", "str", "str", "blob"),
    EXPORTEDTYPE: ("u32", "u32", "str", "str", ("coded", "Implementation")),
    NESTEDCLASS: (("idx", TYPEDEF), ("idx", TYPEDEF)),
    GENERICPARAM: ("u16", "u16", ("coded", "TypeOrMethodDef"), "str"),
    GENERICPARAMCONSTRAINT: (("idx", GENERICPARAM), ("coded", "TypeDefOrRef")),
}
_POINTER_TABLES = (FIELD_PTR, METHOD_PTR, PARAM_PTR, EVENT_PTR, PROPERTY_PTR)
COM_DESCRIPTOR = 14  # PE data directory of the CLR header


def decode_coded(kind: str, value: int) -> tuple[int | None, int]:
    """(table, 1-based row) of a coded index; table None for an unused tag."""
    bits, tables = CODED[kind]
    tag = value & ((1 << bits) - 1)
    table = tables[tag] if tag < len(tables) else None
    return table, value >> bits


@dataclass
class Metadata:
    """The tables and heaps of one module, rows as tuples in LAYOUTS column order."""

    rows: dict[int, list[tuple]]
    strings_heap: bytes
    blob_heap: bytes

    def __post_init__(self) -> None:
        self._strings: dict[int, str] = {}

    def table(self, number: int) -> list[tuple]:
        return self.rows.get(number, [])

    def row(self, number: int, index: int) -> tuple:
        """A row by its 1-based index, as tokens and metadata columns refer to rows."""
        rows = self.rows.get(number, [])
        if not 1 <= index <= len(rows):
            raise MetadataError(f"row {index} of table 0x{number:02x} does not exist ({len(rows)} rows)")
        return rows[index - 1]

    def string(self, index: int) -> str:
        """A #Strings entry; invalid UTF-8 survives as surrogate escapes (quoted when rendered)."""
        cached = self._strings.get(index)
        if cached is not None:
            return cached
        heap = self.strings_heap
        if index >= len(heap):
            if index == 0:
                return ""
            raise MetadataError(f"string index 0x{index:x} beyond the #Strings heap")
        end = heap.find(b"\0", index)
        if end < 0:
            raise MetadataError("unterminated string in the #Strings heap")
        text = heap[index:end].decode("utf-8", "surrogateescape")
        self._strings[index] = text
        return text

    def blob(self, index: int) -> bytes:
        if index == 0:
            return b""
        try:
            return read_blob(self.blob_heap, index)
        except SignatureError as exc:
            raise MetadataError(str(exc)) from None

    def list_range(self, table: int, column: int, index: int, target: int) -> range:
        """The rows of `target` owned by row `index` of `table` (FieldList, MethodList, ...).

        A list runs from this row's start to the next row's start (or the table's end);
        starts past the end or out of order are clamped, as the runtime does.
        """
        rows = self.rows.get(table, [])
        count = len(self.rows.get(target, []))
        start = rows[index - 1][column]
        end = rows[index][column] if index < len(rows) else count + 1
        start = min(max(start, 1), count + 1)
        end = min(max(end, start), count + 1)
        return range(start, end)


@contextlib.contextmanager
def _quiet_dnfile() -> Iterator[None]:
    """Keep dnfile's warnings about malformed files off stderr (we report one error).

    dnfile logs through module loggers and, in one place, through the root logger (which
    would call logging.basicConfig); a NullHandler on both stops that for the call.
    """
    lib = logging.getLogger("dnfile")
    root = logging.getLogger()
    guard = logging.NullHandler()
    saved = lib.propagate
    lib.addHandler(guard)
    lib.propagate = False
    root_guard = not root.handlers
    if root_guard:
        root.addHandler(guard)
    try:
        yield
    finally:
        lib.removeHandler(guard)
        lib.propagate = saved
        if root_guard:
            root.removeHandler(guard)


def open_metadata(data: bytes) -> Metadata | None:
    """Tables and heaps of a PE image; None when the image has no CLR header."""
    import dnfile
    import pefile

    with _quiet_dnfile():
        try:
            pe = dnfile.dnPE(data=data, fast_load=True, clr_lazy_load=True)
        except pefile.PEFormatError as exc:
            raise NotAPEFile(str(exc)) from None
        # No pe.close(): the image is our bytes object (no mmap to release), and close()
        # runs a full gc.collect() each time.
        pe.parse_data_directories(directories=[COM_DESCRIPTOR])
        return _read_tables(pe)


def _has_clr_directory(pe: dnfile.dnPE) -> bool:
    directories = getattr(getattr(pe, "OPTIONAL_HEADER", None), "DATA_DIRECTORY", None) or []
    if len(directories) <= COM_DESCRIPTOR:
        return False
    return bool(directories[COM_DESCRIPTOR].VirtualAddress)


def _read_tables(pe: dnfile.dnPE) -> Metadata | None:
    net = getattr(pe, "net", None)
    if net is None:
        if _has_clr_directory(pe):
            raise MetadataError("the CLR header is present but cannot be read")
        return None
    md = net.mdtables
    if net.metadata is None or md is None or md.header is None:
        raise MetadataError("the CLR header has no readable metadata tables stream")
    mask = md.header.MaskValid
    present = {t.number: t for t in md.tables_list}
    if bin(mask).count("1") != len(present) or any(not mask & (1 << n) for n in present):
        raise MetadataError("the metadata tables stream lists tables it does not hold")
    counts = [present[n].num_rows if n in present else 0 for n in range(64)]
    for number in _POINTER_TABLES:
        if counts[number]:
            raise MetadataError("unoptimized (#-, edit-and-continue) metadata is not supported")
    sizes = {"str": md.strings_offset_size, "guid": md.guids_offset_size, "blob": md.blobs_offset_size}
    rows: dict[int, list[tuple]] = {}
    for number, layout in LAYOUTS.items():
        table = present.get(number)
        if table is None or table.num_rows == 0:
            continue
        fmt = "<" + "".join(_column_format(col, counts, sizes) for col in layout)
        row_size = struct.calcsize(fmt)
        if row_size != table.row_size:
            raise MetadataError(f"table 0x{number:02x}: row size {table.row_size}, expected {row_size}")
        if not table.rva:
            raise MetadataError(f"table 0x{number:02x} lies outside the metadata tables stream")
        size = row_size * table.num_rows
        raw = md.get_data_at_rva(table.rva, size)
        if len(raw) != size:
            raise MetadataError(f"table 0x{number:02x} is truncated")
        rows[number] = list(struct.iter_unpack(fmt, raw))
    return Metadata(rows, _heap_bytes(net.strings), _heap_bytes(net.blobs))


def _heap_bytes(heap: Any) -> bytes:
    if heap is None:
        return b""
    return bytes(heap.get_data_at_offset(0, heap.sizeof()))


def _column_format(col: str | tuple[str, Any], counts: list[int], sizes: dict[str, int]) -> str:
    if col == "u8":
        return "B"
    if col == "u16":
        return "H"
    if col == "u32":
        return "I"
    if isinstance(col, str):
        return "H" if sizes[col] == 2 else "I"
    kind, what = col
    if kind == "idx":
        return "H" if counts[what] < 0x10000 else "I"
    bits, tables = CODED[what]
    largest = max(counts[t] if t is not None else 0 for t in tables)
    return "H" if largest < (1 << (16 - bits)) else "I"
