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

import bisect
import contextlib
import gc
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from b2release.errors import InputError

from . import metadata as mdt
from .metadata import Metadata, MetadataError, NotAPEFile, decode_coded, open_metadata
from .signatures import (
    ELEMENT_GENERICINST,
    EMPTY_CONTEXT,
    BlobReader,
    GenericContext,
    MethodSig,
    SignatureError,
    attribute_fixed_args,
    constant_literal,
    decode_field_sig,
    decode_method_sig,
    decode_property_sig,
    decode_typespec,
    instantiate,
)
from .surface import (
    Accessor,
    ApiSurface,
    ArrayOf,
    ByRef,
    DelegateSig,
    Forwarder,
    GenericParamDecl,
    GenericParamRef,
    Member,
    Modified,
    Named,
    NameSeg,
    Obsolete,
    Param,
    TypeDecl,
    TypeExpr,
    is_nullable,
    render_type,
)

NOT_DOTNET = "not a .NET assembly (a PE file without a CLR header)"

OBSOLETE = "System.ObsoleteAttribute"
COMPILER_GENERATED = "System.Runtime.CompilerServices.CompilerGeneratedAttribute"
PARAM_ARRAY = "System.ParamArrayAttribute"
IS_READ_ONLY = "System.Runtime.CompilerServices.IsReadOnlyAttribute"
IS_BYREF_LIKE = "System.Runtime.CompilerServices.IsByRefLikeAttribute"
EXTENSION = "System.Runtime.CompilerServices.ExtensionAttribute"
DECIMAL_CONSTANT = "System.Runtime.CompilerServices.DecimalConstantAttribute"
FIXED_BUFFER = "System.Runtime.CompilerServices.FixedBufferAttribute"
IN_ATTRIBUTE = "System.Runtime.InteropServices.InAttribute"
IS_VOLATILE = "System.Runtime.CompilerServices.IsVolatile"
IS_EXTERNAL_INIT = "System.Runtime.CompilerServices.IsExternalInit"
# Roslyn marks every ref struct with this [Obsolete(..., true)] so old compilers refuse it;
# it is an encoding detail of `ref struct`, not a deprecation.
REF_STRUCT_OBSOLETE = "Types with embedded references are not supported in this version of your compiler."

# Flags (II.23.1).
TYPE_VISIBILITY = 0x7
TYPE_INTERFACE = 0x20
TYPE_ABSTRACT = 0x80
TYPE_SEALED = 0x100
MEMBER_ACCESS = 0x7
ACCESS_FAMILY, ACCESS_FAM_OR_ASSEM, ACCESS_PUBLIC = 4, 5, 6
FIELD_STATIC, FIELD_INIT_ONLY, FIELD_LITERAL, FIELD_RT_SPECIAL = 0x10, 0x20, 0x40, 0x400
METHOD_STATIC, METHOD_FINAL, METHOD_VIRTUAL, METHOD_NEW_SLOT, METHOD_ABSTRACT = 0x10, 0x20, 0x40, 0x100, 0x400
PARAM_IN, PARAM_OUT, PARAM_OPTIONAL, PARAM_HAS_DEFAULT = 0x1, 0x2, 0x10, 0x1000
SEM_SETTER, SEM_GETTER, SEM_ADD, SEM_REMOVE = 0x1, 0x2, 0x8, 0x10
GP_COVARIANT, GP_CONTRAVARIANT = 0x1, 0x2
GP_REFERENCE, GP_VALUE, GP_CTOR = 0x4, 0x8, 0x10
EXPORTED_FORWARDER = 0x00200000


def _member_visibility(flags: int) -> str | None:
    access = flags & MEMBER_ACCESS
    if access == ACCESS_PUBLIC:
        return "public"
    if access in (ACCESS_FAMILY, ACCESS_FAM_OR_ASSEM):
        return "protected"
    return None


@dataclass(frozen=True)
class AssemblyApi:
    """The result of reading one file: its surface, or why it has none.

    `surface` is None for a PE file that is not a .NET assembly (`note` says so). A
    resource-only satellite assembly has a surface with no types and a non-empty culture.
    """

    path: Path
    surface: ApiSurface | None
    culture: str = ""
    note: str = ""

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


class _Extractor:
    """One pass over one module's tables. Caches type names and decoded TypeSpecs."""

    def __init__(self, md: Metadata, path: Path):
        self.md = md
        self.path = path
        self.typedefs = md.table(mdt.TYPEDEF)
        self.enclosing = {nested: outer for nested, outer in md.table(mdt.NESTEDCLASS)}
        self.generic_params: dict[tuple[int | None, int], list[tuple[int, int, int, int]]] = {}
        for row_no, (number, flags, owner, name) in enumerate(md.table(mdt.GENERICPARAM), 1):
            self.generic_params.setdefault(decode_coded("TypeOrMethodDef", owner), []).append(
                (number, flags, name, row_no))
        for params in self.generic_params.values():
            params.sort()
        self.gp_constraints: dict[int, list[int]] = {}
        for owner, constraint in md.table(mdt.GENERICPARAMCONSTRAINT):
            self.gp_constraints.setdefault(owner, []).append(constraint)
        self.interfaces: dict[int, list[int]] = {}
        for cls, iface in md.table(mdt.INTERFACEIMPL):
            self.interfaces.setdefault(cls, []).append(iface)
        self.constants: dict[tuple[int | None, int], tuple[int, int]] = {}
        for etype, _pad, parent, value in md.table(mdt.CONSTANT):
            self.constants[decode_coded("HasConstant", parent)] = (etype, value)
        self.attributes: dict[tuple[int | None, int], list[tuple[int, int]]] = {}
        for parent, ctor, value in md.table(mdt.CUSTOMATTRIBUTE):
            self.attributes.setdefault(decode_coded("HasCustomAttribute", parent), []).append((ctor, value))
        self.semantics: dict[int, int] = {}  # accessor method row -> semantics flags
        self.accessors: dict[tuple[int | None, int], list[tuple[int, int]]] = {}
        for sem, method, assoc in md.table(mdt.METHODSEMANTICS):
            self.semantics[method] = sem
            self.accessors.setdefault(decode_coded("HasSemantics", assoc), []).append((sem, method))
        self.property_ranges = self._map_ranges(mdt.PROPERTYMAP, mdt.PROPERTY)
        self.event_ranges = self._map_ranges(mdt.EVENTMAP, mdt.EVENT)
        self.method_starts = [row[5] for row in self.typedefs]
        self.methods_table = md.table(mdt.METHODDEF)
        self.params_table = md.table(mdt.PARAM)
        self._param_rows_for: tuple[int, dict[int, int]] = (0, {})
        self._typedef_names: dict[int, Named] = {}
        self._typeref_names: dict[int, Named] = {}
        self._typespecs: dict[tuple[int, GenericContext], TypeExpr] = {}
        self._attr_names: dict[int, str] = {}
        self._method_sigs: dict[tuple[int, GenericContext], MethodSig] = {}
        self._visible: dict[int, str | None] = {}

    def _map_ranges(self, map_table: int, target: int) -> dict[int, range]:
        ranges = {}
        for i, row in enumerate(self.md.table(map_table), 1):
            ranges[row[0]] = self.md.list_range(map_table, 1, i, target)
        return ranges

    # --- names ---------------------------------------------------------------------------------

    def typedef_name(self, row: int, depth: int = 0) -> Named:
        """The CLR name of a TypeDef (`Ns.Outer`1+Inner`), generic arity suffixes kept."""
        cached = self._typedef_names.get(row)
        if cached is not None:
            return cached
        if depth > 64:
            raise MetadataError("nested type chain too deep (cycle in NestedClass)")
        flags, name, namespace = self.md.row(mdt.TYPEDEF, row)[:3]
        simple = self.md.string(name)
        outer = self.enclosing.get(row)
        if outer is not None:
            parent = self.typedef_name(outer, depth + 1)
            result = Named(parent.segments + (NameSeg(simple),))
        else:
            ns = self.md.string(namespace)
            result = Named((NameSeg(f"{ns}.{simple}" if ns else simple),))
        self._typedef_names[row] = result
        return result

    def typeref_name(self, row: int, depth: int = 0) -> Named:
        cached = self._typeref_names.get(row)
        if cached is not None:
            return cached
        if depth > 64:
            raise MetadataError("TypeRef resolution scope chain too deep")
        scope, name, namespace = self.md.row(mdt.TYPEREF, row)
        simple = self.md.string(name)
        table, scope_row = decode_coded("ResolutionScope", scope)
        if table == mdt.TYPEREF and scope_row:
            parent = self.typeref_name(scope_row, depth + 1)
            result = Named(parent.segments + (NameSeg(simple),))
        else:
            ns = self.md.string(namespace)
            result = Named((NameSeg(f"{ns}.{simple}" if ns else simple),))
        self._typeref_names[row] = result
        return result

    def resolve(self, coded: int, value_type: bool, ctx: GenericContext, depth: int = 0) -> TypeExpr:
        """A TypeDefOrRef(OrSpec) coded index as a type (the signature decoder's callback)."""
        tag, row = coded & 3, coded >> 2
        if tag == 0:
            base = self.typedef_name(row)
        elif tag == 1:
            base = self.typeref_name(row)
        elif tag == 2:
            key = (row, ctx)
            spec = self._typespecs.get(key)
            if spec is None:
                blob = self.md.blob(self.md.row(mdt.TYPESPEC, row)[0])
                spec = decode_typespec(blob, self.resolve, ctx, depth + 1)
                self._typespecs[key] = spec
            return spec
        else:
            raise MetadataError(f"bad TypeDefOrRef tag {tag}")
        return Named(base.segments, value_type) if value_type else base

    def type_or_none(self, coded: int, ctx: GenericContext) -> TypeExpr | None:
        return None if coded >> 2 == 0 else self.resolve(coded, False, ctx)

    def decl_name(self, row: int, params: list[tuple[int, int, int, int]]) -> Named:
        """A TypeDef's declared name with its generic parameters: `Ns.Outer<T>+Inner<U>`."""
        base = self.typedef_name(row)
        if not params:
            return base
        args = tuple(GenericParamRef(self.md.string(p[2]), i, False) for i, p in enumerate(params))
        result = instantiate(base, args)
        assert isinstance(result, Named)
        return result

    def method_sig(self, blob: int, ctx: GenericContext) -> MethodSig:
        """A MethodDef signature; cached, as the #Blob heap shares identical signatures."""
        key = (blob, ctx)
        sig = self._method_sigs.get(key)
        if sig is None:
            sig = decode_method_sig(self.md.blob(blob), self.resolve, ctx)
            self._method_sigs[key] = sig
        return sig

    # --- attributes --------------------------------------------------------------------------

    def attribute_type(self, ctor: int) -> str:
        cached = self._attr_names.get(ctor)
        if cached is not None:
            return cached
        table, row = decode_coded("CustomAttributeType", ctor)
        name = ""
        if table == mdt.METHODDEF:
            owner = bisect.bisect_right(self.method_starts, row)
            if owner:
                name = self.typedef_name(owner).full_name
        elif table == mdt.MEMBERREF:
            parent_table, parent_row = decode_coded("MemberRefParent", self.md.row(mdt.MEMBERREF, row)[0])
            if parent_table == mdt.TYPEREF:
                name = self.typeref_name(parent_row).full_name
            elif parent_table == mdt.TYPEDEF:
                name = self.typedef_name(parent_row).full_name
            elif parent_table == mdt.TYPESPEC:
                spec = self.resolve((parent_row << 2) | 2, False, EMPTY_CONTEXT)
                name = spec.full_name if isinstance(spec, Named) else ""
        self._attr_names[ctor] = name
        return name

    def attrs(self, table: int, row: int) -> list[tuple[str, int, int]]:
        """(attribute type name, ctor coded index, value blob index) for one owner."""
        found = self.attributes.get((table, row))
        if not found:  # most members have none: skip the list building
            return []
        return [(self.attribute_type(ctor), ctor, value) for ctor, value in found]

    def has_attr(self, table: int, row: int, name: str) -> bool:
        return any(self.attribute_type(ctor) == name for ctor, _ in self.attributes.get((table, row), ()))

    def attr_args(self, ctor: int, value: int) -> list[object] | None:
        table, row = decode_coded("CustomAttributeType", ctor)
        if table == mdt.METHODDEF:
            sig_blob = self.md.row(mdt.METHODDEF, row)[4]
        elif table == mdt.MEMBERREF:
            sig_blob = self.md.row(mdt.MEMBERREF, row)[2]
        else:
            return None
        sig = decode_method_sig(self.md.blob(sig_blob), self.resolve, EMPTY_CONTEXT)
        return attribute_fixed_args(self.md.blob(value), sig.params)

    def obsolete(self, table: int, row: int) -> Obsolete | None:
        for name, ctor, value in self.attrs(table, row):
            if name != OBSOLETE:
                continue
            args = self.attr_args(ctor, value)
            if not args:
                return Obsolete(has_message=False)
            message = args[0] if isinstance(args[0], str) or args[0] is None else str(args[0])
            error = bool(args[1]) if len(args) > 1 else False
            return Obsolete(message, error)
        return None

    def fixed_buffer(self, field_row: int) -> TypeExpr | None:
        for name, ctor, value in self.attrs(mdt.FIELD, field_row):
            if name == FIXED_BUFFER:
                args = self.attr_args(ctor, value)
                if args and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], int):
                    element = args[0].split(",", 1)[0].strip()
                    return ArrayOf(Named((NameSeg(element),)), f"[{args[1]}]")
        return None

    def decimal_constant(self, table: int, row: int) -> str | None:
        for name, ctor, value in self.attrs(table, row):
            if name == DECIMAL_CONSTANT:
                args = self.attr_args(ctor, value)
                if args and len(args) == 5 and all(isinstance(a, int) for a in args):
                    return _decimal_literal(*args)  # type: ignore[arg-type]
        return None

    # --- types ----------------------------------------------------------------------------------

    def visibility(self, row: int, depth: int = 0) -> str | None:
        """"public"/"protected" for a type other assemblies can see, else None."""
        if row in self._visible:
            return self._visible[row]
        if depth > 64:
            raise MetadataError("nested type chain too deep (cycle in NestedClass)")
        flags = self.md.row(mdt.TYPEDEF, row)[0]
        vis = flags & TYPE_VISIBILITY
        outer = self.enclosing.get(row)
        result: str | None = None
        if outer is None:
            result = "public" if vis == 1 else None
        elif self.visibility(outer, depth + 1) is not None:
            result = {2: "public", 4: "protected", 7: "protected"}.get(vis)
        self._visible[row] = result
        return result

    def run(self) -> AssemblyApi:
        md = self.md
        assembly_rows = md.table(mdt.ASSEMBLY)
        if assembly_rows:
            name = md.string(assembly_rows[0][7])
            culture = md.string(assembly_rows[0][8])
            note = ""
        else:
            module = md.string(md.row(mdt.MODULE, 1)[1]) if md.table(mdt.MODULE) else self.path.name
            name = module.rsplit(".", 1)[0] if module.lower().endswith((".dll", ".exe", ".netmodule")) else module
            culture = ""
            note = "a module without an assembly manifest"
        types: list[TypeDecl] = []
        members: list[Member] = []
        for row in range(1, len(self.typedefs) + 1):
            if self.visibility(row) is None or self._compiler_generated(row):
                continue
            decl, type_members = self.type_decl(row)
            types.append(decl)
            members.extend(type_members)
        if culture and not types and not note:
            note = f"a resource-only satellite assembly (culture {culture})"
        surface = ApiSurface(name, tuple(types), tuple(members), tuple(self.forwarders()))
        return AssemblyApi(self.path, surface, culture, note)

    def _compiler_generated(self, row: int) -> bool:
        """A compiler-generated type, or a type nested in one."""
        for _ in range(64):  # the NestedClass chain was already checked for cycles
            name = self.md.string(self.md.row(mdt.TYPEDEF, row)[1])
            if "<" in name or self.has_attr(mdt.TYPEDEF, row, COMPILER_GENERATED):
                return True
            outer = self.enclosing.get(row)
            if outer is None:
                return False
            row = outer
        return False

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
            if self._local_invisible(coded):
                continue
            interfaces.append(self.resolve(coded, False, ctx))
        interfaces.sort(key=render_type)
        visibility = self.visibility(row)
        assert visibility is not None
        decl_base = base if kind == "class" else None
        delegate = None
        members: list[Member] = []
        if kind == "enum":
            decl_base = self._enum_underlying(row, ctx)
        if kind == "delegate":
            delegate = self._delegate_sig(row, ctx)
            if delegate is None:  # no Invoke: not a real delegate, show it as a class
                kind, decl_base = "class", base
        decl = TypeDecl(name, kind, visibility, tuple(modifiers), self._generic_decls(gps, ctx), decl_base,
                        tuple(interfaces), delegate, obsolete)
        if kind != "delegate":
            interface = kind == "interface"
            members.extend(self._fields(row, name, ctx))
            members.extend(self._properties(row, name, ctx, interface))
            members.extend(self._events(row, name, ctx, interface))
            members.extend(self._methods(row, name, ctx, interface))
        return decl, members

    def _local_invisible(self, coded: int) -> bool:
        """True for an interface defined here that other assemblies cannot see."""
        tag, row = coded & 3, coded >> 2
        if tag == 2:  # a generic instantiation: look at its generic type definition
            blob = self.md.blob(self.md.row(mdt.TYPESPEC, row)[0])
            if len(blob) < 3 or blob[0] != ELEMENT_GENERICINST:
                return False
            inner = BlobReader(blob, 2).compressed()
            tag, row = inner & 3, inner >> 2
        return tag == 0 and self.visibility(row) is None

    def _generic_decls(self, gps: list[tuple[int, int, int, int]], ctx: GenericContext) -> tuple[GenericParamDecl, ...]:
        decls = []
        for _number, flags, name, gp_row in gps:
            value_type = bool(flags & GP_VALUE)
            types = []
            for coded in self.gp_constraints.get(gp_row, ()):
                t = self.resolve(coded, False, ctx)
                if value_type and isinstance(t, Named) and t.full_name == "System.ValueType":
                    continue  # `struct` is encoded as this constraint plus the flag
                types.append(t)
            types.sort(key=render_type)
            variance = "out" if flags & GP_COVARIANT else "in" if flags & GP_CONTRAVARIANT else ""
            decls.append(GenericParamDecl(self.md.string(name), variance, bool(flags & GP_REFERENCE), value_type,
                                          bool(flags & GP_CTOR), tuple(types)))
        return tuple(decls)

    def _enum_underlying(self, row: int, ctx: GenericContext) -> TypeExpr | None:
        for f in self.md.list_range(mdt.TYPEDEF, 4, row, mdt.FIELD):
            flags, _name, sig = self.md.row(mdt.FIELD, f)
            if not flags & FIELD_STATIC:
                return decode_field_sig(self.md.blob(sig), self.resolve, ctx)
        return None

    def _delegate_sig(self, row: int, ctx: GenericContext) -> DelegateSig | None:
        for m in self.md.list_range(mdt.TYPEDEF, 5, row, mdt.METHODDEF):
            mrow = self.md.row(mdt.METHODDEF, m)
            if self.md.string(mrow[3]) == "Invoke":
                sig = self.method_sig(mrow[4], ctx)
                ret, ref_readonly = self._return(m, sig.ret)
                return DelegateSig(ret, self._params(m, sig.params, ctx, extension=False), ref_readonly)
        return None

    # --- members --------------------------------------------------------------------------------

    def _fields(self, row: int, declaring: Named, ctx: GenericContext) -> Iterable[Member]:
        md = self.md
        for f in md.list_range(mdt.TYPEDEF, 4, row, mdt.FIELD):
            flags, name_idx, sig = md.row(mdt.FIELD, f)
            visibility = _member_visibility(flags)
            if visibility is None or flags & FIELD_RT_SPECIAL:
                continue
            name = md.string(name_idx)
            if "<" in name:
                continue
            ftype = decode_field_sig(md.blob(sig), self.resolve, ctx)
            modifiers = []
            value = None
            volatile = False
            if isinstance(ftype, Modified) and ftype.required and _is(ftype.modifier, IS_VOLATILE):
                ftype, volatile = ftype.element, True
            fixed = self.fixed_buffer(f)
            if fixed is not None:
                # `fixed byte Data[16]`: the field's declared type is a compiler-generated
                # struct; show the element type and length instead, as `fixed byte[16]`.
                ftype = fixed
                modifiers.append("fixed")
            elif flags & FIELD_LITERAL:
                modifiers.append("const")
                constant = self.constants.get((mdt.FIELD, f))
                if constant is not None:
                    value = constant_literal(constant[0], md.blob(constant[1]))
            else:
                decimal = None
                if flags & FIELD_STATIC and flags & FIELD_INIT_ONLY:
                    decimal = self.decimal_constant(mdt.FIELD, f)
                if decimal is not None:
                    modifiers.append("const")  # C# `const decimal` is a static readonly field
                    value = decimal
                else:
                    if flags & FIELD_STATIC:
                        modifiers.append("static")
                    if flags & FIELD_INIT_ONLY:
                        modifiers.append("readonly")
                    if volatile:
                        modifiers.append("volatile")
            yield Member(declaring, "field", name, visibility, tuple(modifiers), ftype, value=value,
                         obsolete=self.obsolete(mdt.FIELD, f))

    def _methods(self, row: int, declaring: Named, ctx: GenericContext, interface: bool) -> Iterable[Member]:
        md = self.md
        methods = self.methods_table
        # A constructor is shown with the type's simple name, as C# declares it.
        ctor_name = declaring.segments[-1].name.rsplit(".", 1)[-1]
        for m in md.list_range(mdt.TYPEDEF, 5, row, mdt.METHODDEF):
            if m in self.semantics:
                continue  # a property or event accessor: part of that line
            _rva, _impl, flags, name_idx, sig_idx, _params = methods[m - 1]  # m comes from list_range: valid
            visibility = _member_visibility(flags)
            if visibility is None:
                continue
            name = md.string(name_idx)
            if name == ".cctor" or "<" in name:
                continue
            gps = self.generic_params.get((mdt.METHODDEF, m), [])
            mctx = GenericContext(ctx.type_params, tuple(md.string(p[2]) for p in gps))
            sig = self.method_sig(sig_idx, mctx)
            extension = self.has_attr(mdt.METHODDEF, m, EXTENSION)
            params = self._params(m, sig.params, mctx, extension)
            obsolete = self.obsolete(mdt.METHODDEF, m)
            if name == ".ctor":
                yield Member(declaring, "constructor", ctor_name, visibility, params=params, obsolete=obsolete,
                             varargs=sig.varargs)
                continue
            ret, ref_readonly = self._return(m, sig.ret)
            yield Member(declaring, "method", name, visibility, _method_modifiers(flags, interface), ret,
                         ref_readonly, self._generic_decls(gps, mctx), params, obsolete=obsolete,
                         varargs=sig.varargs)

    def _param_rows(self, method: int) -> dict[int, int]:
        """Param rows of a method by sequence number (0 = the return value)."""
        if self._param_rows_for[0] == method:  # _return and _params ask for the same method
            return self._param_rows_for[1]
        table = self.params_table
        rows = {table[p - 1][1]: p for p in self.md.list_range(mdt.METHODDEF, 5, method, mdt.PARAM)}
        self._param_rows_for = (method, rows)
        return rows

    def _return(self, method: int, ret: TypeExpr) -> tuple[TypeExpr, bool]:
        """The return type without encoding details, and whether it is `ref readonly`."""
        in_mod = False
        if isinstance(ret, Modified) and ret.required and _is(ret.modifier, IN_ATTRIBUTE) and isinstance(ret.element, ByRef):
            ret, in_mod = ret.element, True
        if not isinstance(ret, ByRef):
            return ret, False
        ret_row = self._param_rows(method).get(0)
        readonly = in_mod or (ret_row is not None and self.has_attr(mdt.PARAM, ret_row, IS_READ_ONLY))
        return ret, readonly

    def _params(self, method: int, types: tuple[TypeExpr, ...], ctx: GenericContext, extension: bool) -> tuple[Param, ...]:
        md = self.md
        rows = self._param_rows(method)
        params = []
        for i, ptype in enumerate(types):
            prow = rows.get(i + 1)
            flags, name = 0, ""
            if prow is not None:
                flags, _seq, name_idx = md.row(mdt.PARAM, prow)
                name = md.string(name_idx)
            attrs = {n for n, _, _ in self.attrs(mdt.PARAM, prow)} if prow is not None else set()
            in_mod = False
            if (isinstance(ptype, Modified) and ptype.required and _is(ptype.modifier, IN_ATTRIBUTE)
                    and isinstance(ptype.element, ByRef)):
                ptype, in_mod = ptype.element, True
            modifier = ""
            if isinstance(ptype, ByRef):
                if in_mod or IS_READ_ONLY in attrs:
                    modifier = "in"
                elif flags & PARAM_OUT and not flags & PARAM_IN:
                    modifier = "out"
                else:
                    modifier = "ref"
                ptype = ptype.element
            elif PARAM_ARRAY in attrs:
                modifier = "params"
            default = None
            optional = False
            if flags & PARAM_HAS_DEFAULT and prow is not None:
                constant = self.constants.get((mdt.PARAM, prow))
                if constant is not None:
                    default = constant_literal(constant[0], md.blob(constant[1]))
                    if default == "null" and _default_not_null(ptype):
                        default = "default"
            if default is None and DECIMAL_CONSTANT in attrs and prow is not None:
                default = self.decimal_constant(mdt.PARAM, prow)
            if default is None and flags & PARAM_OPTIONAL:
                optional = True
            params.append(Param(name, ptype, modifier, extension and i == 0, default, optional))
        return tuple(params)

    def _accessor_methods(self, table: int, row: int) -> dict[int, int]:
        found: dict[int, int] = {}
        for sem, method in self.accessors.get((table, row), ()):
            for bit in (SEM_GETTER, SEM_SETTER, SEM_ADD, SEM_REMOVE):
                if sem & bit and bit not in found:
                    found[bit] = method
        return found

    def _properties(self, row: int, declaring: Named, ctx: GenericContext, interface: bool) -> Iterable[Member]:
        md = self.md
        for p in self.property_ranges.get(row, ()):
            _flags, name_idx, sig_idx = md.row(mdt.PROPERTY, p)
            name = md.string(name_idx)
            if "<" in name:
                continue
            methods = self._accessor_methods(mdt.PROPERTY, p)
            shown: list[tuple[str, str, int]] = []
            for bit, word in ((SEM_GETTER, "get"), (SEM_SETTER, "set")):
                method = methods.get(bit)
                if method is None:
                    continue
                vis = _member_visibility(md.row(mdt.METHODDEF, method)[2])
                if vis is not None:
                    shown.append((word, vis, method))
            if not shown:
                continue
            visibility = max((vis for _, vis, _ in shown), key=lambda v: v == "public")
            main = shown[0][2]
            mrow = md.row(mdt.METHODDEF, main)
            gps = self.generic_params.get((mdt.METHODDEF, main), [])
            mctx = GenericContext(ctx.type_params, tuple(md.string(g[2]) for g in gps))
            msig = self.method_sig(mrow[4], mctx)
            prop_type, _index_types = decode_property_sig(md.blob(sig_idx), self.resolve, ctx)
            accessors = []
            for word, vis, method in shown:
                if word == "set":
                    setter_sig = msig if method == main else self.method_sig(md.row(mdt.METHODDEF, method)[4], ctx)
                    ret = setter_sig.ret
                    if isinstance(ret, Modified) and ret.required and _is(ret.modifier, IS_EXTERNAL_INIT):
                        word = "init"
                accessors.append(Accessor(word, vis))
            index_types = msig.params if shown[0][0] == "get" else msig.params[:-1]
            params = self._params(main, index_types, mctx, extension=False)
            ref_readonly = False
            if shown[0][0] == "get":
                getter_ret, ref_readonly = self._return(main, msig.ret)
                if isinstance(getter_ret, ByRef):
                    prop_type = getter_ret
            elif isinstance(prop_type, Modified) and isinstance(prop_type.element, ByRef):
                prop_type = prop_type.element
            yield Member(declaring, "property", name, visibility, _method_modifiers(mrow[2], interface), prop_type,
                         ref_readonly, params=params, accessors=tuple(accessors),
                         obsolete=self.obsolete(mdt.PROPERTY, p))

    def _events(self, row: int, declaring: Named, ctx: GenericContext, interface: bool) -> Iterable[Member]:
        md = self.md
        for e in self.event_ranges.get(row, ()):
            _flags, name_idx, event_type = md.row(mdt.EVENT, e)
            name = md.string(name_idx)
            if "<" in name:
                continue
            methods = self._accessor_methods(mdt.EVENT, e)
            visible = []
            for bit in (SEM_ADD, SEM_REMOVE):
                method = methods.get(bit)
                if method is not None:
                    vis = _member_visibility(md.row(mdt.METHODDEF, method)[2])
                    if vis is not None:
                        visible.append((vis, method))
            if not visible:
                continue
            visibility = "public" if any(v == "public" for v, _ in visible) else "protected"
            etype = self.resolve(event_type, False, ctx)
            flags = md.row(mdt.METHODDEF, visible[0][1])[2]
            yield Member(declaring, "event", name, visibility, _method_modifiers(flags, interface), etype,
                         obsolete=self.obsolete(mdt.EVENT, e))


def _method_modifiers(flags: int, interface: bool) -> tuple[str, ...]:
    """C# modifiers from method flags (also used for a property's or event's accessor)."""
    if flags & METHOD_STATIC:
        return ("static",)
    if interface or not flags & METHOD_VIRTUAL:
        return ()
    abstract = bool(flags & METHOD_ABSTRACT)
    final = bool(flags & METHOD_FINAL)
    if flags & METHOD_NEW_SLOT:
        if abstract:
            return ("abstract",)
        # virtual + final + newslot is how C# implements an interface method implicitly:
        # not overridable, so not virtual from a caller's point of view.
        return () if final else ("virtual",)
    if abstract:
        return ("abstract", "override")
    return ("sealed", "override") if final else ("override",)


def _is(t: TypeExpr, full_name: str) -> bool:
    return isinstance(t, Named) and t.full_name == full_name


def _default_not_null(t: TypeExpr) -> bool:
    """`= null` in metadata on a value-type or generic parameter means C# `= default`."""
    if isinstance(t, GenericParamRef):
        return True
    return isinstance(t, Named) and bool(t.value_type) and not is_nullable(t)


def _decimal_literal(scale: int, sign: int, hi: int, mid: int, lo: int) -> str:
    """A DecimalConstantAttribute(scale, sign, hi, mid, lo) value as a C# literal (`2.50m`)."""
    value = ((hi & 0xFFFFFFFF) << 64) | ((mid & 0xFFFFFFFF) << 32) | (lo & 0xFFFFFFFF)
    digits = str(value)
    if scale:
        digits = digits.rjust(scale + 1, "0")
        digits = digits[:-scale] + "." + digits[-scale:]
    return ("-" if sign else "") + digits + "m"
