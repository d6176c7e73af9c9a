"""The public API of an assembly file: metadata tables -> `ApiSurface`.

What counts as public (docs/compat.md): public types, and nested types that are public,
protected or protected internal inside such types; their public, protected and
protected-internal fields, constructors, methods, properties and events. Protected
internal is shown as `protected` because that is what another assembly can use.
Compiler-generated types and members (names with `<`, [CompilerGenerated] types) and
explicit interface implementations (private) are not part of the surface. Property and
event accessors appear inside their property/event line, not as methods; a delegate's
signature is its type line (its Invoke/BeginInvoke/EndInvoke are not listed).
"""

from __future__ import annotations

import contextlib
import gc
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from b2release.errors import InputError

from . import metadata as mdt
from .members import MemberReader
from .metadata import Metadata, MetadataError, NotAPEFile, decode_coded, open_metadata
from .names import (
    EXPORTED_FORWARDER,
    IS_BYREF_LIKE,
    IS_READ_ONLY,
    REF_STRUCT_OBSOLETE,
    TYPE_ABSTRACT,
    TYPE_INTERFACE,
    TYPE_SEALED,
)
from .signatures import GenericContext, SignatureError
from .surface import ApiSurface, Forwarder, Member, TypeDecl
from .typeexpr import Named, render_type

INFORMATIONAL_VERSION = "System.Reflection.AssemblyInformationalVersionAttribute"
NOT_DOTNET = "not a .NET assembly (a PE file without a CLR header)"


@dataclass(frozen=True)
class AssemblyApi:
    """The result of reading one file: its surface, or why it has none.

    `surface` is None for a PE file that is not a .NET assembly (`note` says so). A
    resource-only satellite assembly has a surface with no types and a non-empty culture.
    `version` is the assembly's [AssemblyInformationalVersion] when it has one (b2release's
    build stamps the release version there), else its AssemblyVersion; "" for a module
    without an assembly manifest. It is not part of the surface (nor of the API text).
    """

    path: Path
    surface: ApiSurface | None
    culture: str = ""
    note: str = ""
    version: str = ""

    @property
    def is_dotnet(self) -> bool:
        return self.surface is not None

    @property
    def is_satellite(self) -> bool:
        return bool(self.culture) and self.surface is not None and not self.surface.types


def read_assembly(path: Path | str) -> AssemblyApi:
    """Read the public API of one PE file.

    Raises InputError naming the file when it cannot be read, is not a PE image dnfile can
    parse, or has malformed .NET metadata. A PE file without .NET metadata is not an error:
    the result has surface None and a note.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}")
    with _gc_paused():
        return _read(path, data)


@dataclass(frozen=True)
class StampedVersion:
    name: str  # the assembly's name (Assembly table)
    version: str  # [AssemblyInformationalVersion], else the AssemblyVersion "X.Y.Z.W"
    informational: bool  # which of the two `version` is


def stamped_version(data: bytes) -> StampedVersion | None:
    """The version a build stamped into an assembly (image bytes), or None for a PE file that
    is not a .NET assembly. Raises InputError for a corrupt image, as read_assembly does."""
    with _gc_paused():
        try:
            md = open_metadata(data)
        except NotAPEFile as exc:
            raise InputError(f"not a PE file dnfile can parse ({exc})") from None
        except Exception as exc:  # dnfile/pefile on a corrupt file
            raise InputError(f"malformed .NET metadata: {type(exc).__name__}: {exc}") from None
        if md is None or not md.table(mdt.ASSEMBLY):
            return None
        try:
            row = md.table(mdt.ASSEMBLY)[0]
            informational = _Extractor(md, Path("-")).informational_version()
            numeric = ".".join(str(n) for n in row[1:5])
            return StampedVersion(md.string(row[7]), informational or numeric, bool(informational))
        except (MetadataError, SignatureError, struct.error, IndexError, KeyError, ValueError, UnicodeError) as exc:
            raise InputError(f"malformed .NET metadata: {exc}") from None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one file is read.

    Reading builds hundreds of thousands of small acyclic tuples (table rows, signature
    nodes); each allocation burst triggers collections that rescan everything alive, which
    made extraction of the Mono framework about a third slower. Nothing here creates
    cycles that must be freed before the read ends; collection resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(path: Path, data: bytes) -> AssemblyApi:
    try:
        try:
            md = open_metadata(data)
        except MetadataError:
            raise
        except Exception as exc:  # dnfile/pefile on a corrupt file: any failure means "corrupt"
            raise MetadataError(f"{type(exc).__name__}: {exc}") from None
        if md is None:
            return AssemblyApi(path, None, note=NOT_DOTNET)
        return _Extractor(md, path).run()
    except NotAPEFile as exc:
        raise InputError(f"{path} is not a PE file dnfile can parse ({exc})")
    except (MetadataError, SignatureError, struct.error, IndexError, KeyError, ValueError, UnicodeError,
            RecursionError, OverflowError) as exc:
        raise InputError(f"{path}: malformed .NET metadata: {exc}")


class _Extractor(MemberReader):
    """One pass over one module: the assembly's name, its visible types and their members."""

    def __init__(self, md: Metadata, path: Path):
        super().__init__(md)
        self.path = path

    def run(self) -> AssemblyApi:
        md = self.md
        assembly_rows = md.table(mdt.ASSEMBLY)
        version = ""
        if assembly_rows:
            name = md.string(assembly_rows[0][7])
            culture = md.string(assembly_rows[0][8])
            note = ""
            version = self.informational_version() or ".".join(str(n) for n in assembly_rows[0][1:5])
        else:
            module = md.string(md.row(mdt.MODULE, 1)[1]) if md.table(mdt.MODULE) else self.path.name
            name = module.rsplit(".", 1)[0] if module.lower().endswith((".dll", ".exe", ".netmodule")) else module
            culture = ""
            note = "a module without an assembly manifest"
        types: list[TypeDecl] = []
        members: list[Member] = []
        for row in range(1, len(self.typedefs) + 1):
            if self.visibility(row) is None or self.compiler_generated(row):
                continue
            decl, type_members = self.type_decl(row)
            types.append(decl)
            members.extend(type_members)
        if culture and not types and not note:
            note = f"a resource-only satellite assembly (culture {culture})"
        surface = ApiSurface(name, tuple(types), tuple(members), tuple(self.forwarders()))
        return AssemblyApi(self.path, surface, culture, note, version)

    def informational_version(self) -> str:
        for name, ctor, value in self.attrs(mdt.ASSEMBLY, 1):
            if name == INFORMATIONAL_VERSION:
                args = self.attr_args(ctor, value)
                if args and isinstance(args[0], str):
                    return args[0]
        return ""

    def forwarders(self) -> Iterable[Forwarder]:
        for flags, _typedef_id, name, namespace, impl in self.md.table(mdt.EXPORTEDTYPE):
            table, row = decode_coded("Implementation", impl)
            if not flags & EXPORTED_FORWARDER or table != mdt.ASSEMBLYREF:
                continue
            ns, simple = self.md.string(namespace), self.md.string(name)
            target = self.md.string(self.md.row(mdt.ASSEMBLYREF, row)[6])
            yield Forwarder(f"{ns}.{simple}" if ns else simple, target)

    def type_decl(self, row: int) -> tuple[TypeDecl, list[Member]]:
        md = self.md
        flags, _name, _ns, extends = md.row(mdt.TYPEDEF, row)[:4]
        gps = self.generic_params.get((mdt.TYPEDEF, row), [])
        ctx = GenericContext(tuple(md.string(p[2]) for p in gps))
        name = self.decl_name(row, gps)
        base = self.type_or_none(extends, ctx)
        base_name = base.full_name if isinstance(base, Named) else ""
        own_name = self.typedef_name(row).full_name
        if flags & TYPE_INTERFACE:
            kind = "interface"
        elif base_name == "System.Enum":
            kind = "enum"
        elif base_name == "System.ValueType" and own_name != "System.Enum":
            kind = "struct"
        elif base_name == "System.MulticastDelegate":
            kind = "delegate"
        else:
            kind = "class"
        modifiers: list[str] = []
        obsolete = self.obsolete(mdt.TYPEDEF, row)
        if kind == "class":
            if flags & TYPE_ABSTRACT and flags & TYPE_SEALED:
                modifiers.append("static")
            elif flags & TYPE_ABSTRACT:
                modifiers.append("abstract")
            elif flags & TYPE_SEALED:
                modifiers.append("sealed")
        elif kind == "struct":
            if self.has_attr(mdt.TYPEDEF, row, IS_READ_ONLY):
                modifiers.append("readonly")
            if self.has_attr(mdt.TYPEDEF, row, IS_BYREF_LIKE):
                modifiers.append("ref")
                if obsolete is not None and obsolete.message == REF_STRUCT_OBSOLETE:
                    obsolete = None
        interfaces = []
        for coded in self.interfaces.get(row, ()):
            if self.local_invisible(coded):
                continue
            interfaces.append(self.resolve(coded, False, ctx))
        interfaces.sort(key=render_type)
        visibility = self.visibility(row)
        assert visibility is not None
        decl_base = base if kind == "class" else None
        delegate = None
        members: list[Member] = []
        if kind == "enum":
            decl_base = self.enum_underlying(row, ctx)
        if kind == "delegate":
            delegate = self.delegate_sig(row, ctx)
            if delegate is None:  # no Invoke: not a real delegate, show it as a class
                kind, decl_base = "class", base
        decl = TypeDecl(name, kind, visibility, tuple(modifiers), self.generic_decls(gps, ctx), decl_base,
                        tuple(interfaces), delegate, obsolete)
        if kind != "delegate":
            interface = kind == "interface"
            members.extend(self.fields(row, name, ctx))
            members.extend(self.properties(row, name, ctx, interface))
            members.extend(self.events(row, name, ctx, interface))
            members.extend(self.methods(row, name, ctx, interface))
        return decl, members
