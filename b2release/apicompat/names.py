"""Names, types and attributes of one module's metadata: the index the extractor reads from.

`ModuleIndex` builds lookups once per file (nesting, generic parameters, constants,
custom attributes, property/event accessors) and resolves rows to `surface` types with
caches: TypeDef/TypeRef names, decoded TypeSpecs and method signatures (the #Blob heap
shares identical signatures, so one decode serves many methods).
"""

from __future__ import annotations

import bisect

from . import metadata as mdt
from .literals import attribute_fixed_args
from .metadata import Metadata, MetadataError, decode_coded
from .signatures import (
    ELEMENT_GENERICINST,
    EMPTY_CONTEXT,
    BlobReader,
    GenericContext,
    MethodSig,
    decode_method_sig,
    decode_typespec,
    instantiate,
)
from .surface import GenericParamDecl, Obsolete
from .typeexpr import ArrayOf, GenericParamRef, Named, NameSeg, TypeExpr, render_type

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


def member_visibility(flags: int) -> str | None:
    """"public", "protected" (family or protected internal) or None (not visible outside)."""
    access = flags & MEMBER_ACCESS
    if access == ACCESS_PUBLIC:
        return "public"
    if access in (ACCESS_FAMILY, ACCESS_FAM_OR_ASSEM):
        return "protected"
    return None


class ModuleIndex:
    """Lookups and caches over one module's tables (see the module docstring)."""

    def __init__(self, md: Metadata):
        self.md = md
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

    def compiler_generated(self, row: int) -> bool:
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

    def local_invisible(self, coded: int) -> bool:
        """True for an interface defined here that other assemblies cannot see."""
        tag, row = coded & 3, coded >> 2
        if tag == 2:  # a generic instantiation: look at its generic type definition
            blob = self.md.blob(self.md.row(mdt.TYPESPEC, row)[0])
            if len(blob) < 3 or blob[0] != ELEMENT_GENERICINST:
                return False
            inner = BlobReader(blob, 2).compressed()
            tag, row = inner & 3, inner >> 2
        return tag == 0 and self.visibility(row) is None

    def generic_decls(self, gps: list[tuple[int, int, int, int]], ctx: GenericContext) -> tuple[GenericParamDecl, ...]:
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

    def param_rows(self, method: int) -> dict[int, int]:
        """Param rows of a method by sequence number (0 = the return value)."""
        if self._param_rows_for[0] == method:  # _return and _params ask for the same method
            return self._param_rows_for[1]
        table = self.params_table
        rows = {table[p - 1][1]: p for p in self.md.list_range(mdt.METHODDEF, 5, method, mdt.PARAM)}
        self._param_rows_for = (method, rows)
        return rows

    def accessor_methods(self, table: int, row: int) -> dict[int, int]:
        found: dict[int, int] = {}
        for sem, method in self.accessors.get((table, row), ()):
            for bit in (SEM_GETTER, SEM_SETTER, SEM_ADD, SEM_REMOVE):
                if sem & bit and bit not in found:
                    found[bit] = method
        return found


def is_named(t: TypeExpr, full_name: str) -> bool:
    return isinstance(t, Named) and t.full_name == full_name


def _decimal_literal(scale: int, sign: int, hi: int, mid: int, lo: int) -> str:
    """A DecimalConstantAttribute(scale, sign, hi, mid, lo) value as a C# literal (`2.50m`)."""
    value = ((hi & 0xFFFFFFFF) << 64) | ((mid & 0xFFFFFFFF) << 32) | (lo & 0xFFFFFFFF)
    digits = str(value)
    if scale:
        digits = digits.rjust(scale + 1, "0")
        digits = digits[:-scale] + "." + digits[-scale:]
    return ("-" if sign else "") + digits + "m"
