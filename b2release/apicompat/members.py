"""The members of one public type: fields, constructors, methods, properties, events.

`MemberReader` adds member extraction on top of `ModuleIndex`: visibility filtering,
C# modifiers from method flags, parameters (ref/out/in/params/this, default values),
properties and events with their accessors, and the custom-modifier encodings C# uses
(`volatile`, `in`, `ref readonly`, `init`, fixed buffers).
"""

from __future__ import annotations

from typing import Iterable

from . import metadata as mdt
from .literals import constant_literal
from .names import (
    DECIMAL_CONSTANT,
    EXTENSION,
    FIELD_INIT_ONLY,
    FIELD_LITERAL,
    FIELD_RT_SPECIAL,
    FIELD_STATIC,
    IN_ATTRIBUTE,
    IS_EXTERNAL_INIT,
    IS_READ_ONLY,
    IS_VOLATILE,
    METHOD_ABSTRACT,
    METHOD_FINAL,
    METHOD_NEW_SLOT,
    METHOD_STATIC,
    METHOD_VIRTUAL,
    PARAM_ARRAY,
    PARAM_HAS_DEFAULT,
    PARAM_IN,
    PARAM_OPTIONAL,
    PARAM_OUT,
    SEM_ADD,
    SEM_GETTER,
    SEM_REMOVE,
    SEM_SETTER,
    ModuleIndex,
    is_named,
    member_visibility,
)
from .signatures import GenericContext, decode_field_sig, decode_property_sig
from .surface import Accessor, DelegateSig, Member, Param
from .typeexpr import ByRef, GenericParamRef, Modified, Named, TypeExpr, is_nullable


class MemberReader(ModuleIndex):
    """Member extraction for the types `extract.py` has found visible."""

    def enum_underlying(self, row: int, ctx: GenericContext) -> TypeExpr | None:
        for f in self.md.list_range(mdt.TYPEDEF, 4, row, mdt.FIELD):
            flags, _name, sig = self.md.row(mdt.FIELD, f)
            if not flags & FIELD_STATIC:
                return decode_field_sig(self.md.blob(sig), self.resolve, ctx)
        return None

    def delegate_sig(self, row: int, ctx: GenericContext) -> DelegateSig | None:
        for m in self.md.list_range(mdt.TYPEDEF, 5, row, mdt.METHODDEF):
            mrow = self.md.row(mdt.METHODDEF, m)
            if self.md.string(mrow[3]) == "Invoke":
                sig = self.method_sig(mrow[4], ctx)
                ret, ref_readonly = self.return_type(m, sig.ret)
                return DelegateSig(ret, self.params(m, sig.params, ctx, extension=False), ref_readonly)
        return None

    # --- members --------------------------------------------------------------------------------

    def fields(self, row: int, declaring: Named, ctx: GenericContext) -> Iterable[Member]:
        md = self.md
        for f in md.list_range(mdt.TYPEDEF, 4, row, mdt.FIELD):
            flags, name_idx, sig = md.row(mdt.FIELD, f)
            visibility = member_visibility(flags)
            if visibility is None or flags & FIELD_RT_SPECIAL:
                continue
            name = md.string(name_idx)
            if "<" in name:
                continue
            ftype = decode_field_sig(md.blob(sig), self.resolve, ctx)
            modifiers = []
            value = None
            volatile = False
            if isinstance(ftype, Modified) and ftype.required and is_named(ftype.modifier, IS_VOLATILE):
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

    def methods(self, row: int, declaring: Named, ctx: GenericContext, interface: bool) -> Iterable[Member]:
        md = self.md
        methods = self.methods_table
        # A constructor is shown with the type's simple name, as C# declares it.
        ctor_name = declaring.segments[-1].name.rsplit(".", 1)[-1]
        for m in md.list_range(mdt.TYPEDEF, 5, row, mdt.METHODDEF):
            if m in self.semantics:
                continue  # a property or event accessor: part of that line
            _rva, _impl, flags, name_idx, sig_idx, _params = methods[m - 1]  # m comes from list_range: valid
            visibility = member_visibility(flags)
            if visibility is None:
                continue
            name = md.string(name_idx)
            if name == ".cctor" or "<" in name:
                continue
            gps = self.generic_params.get((mdt.METHODDEF, m), [])
            mctx = GenericContext(ctx.type_params, tuple(md.string(p[2]) for p in gps))
            sig = self.method_sig(sig_idx, mctx)
            extension = self.has_attr(mdt.METHODDEF, m, EXTENSION)
            params = self.params(m, sig.params, mctx, extension)
            obsolete = self.obsolete(mdt.METHODDEF, m)
            if name == ".ctor":
                yield Member(declaring, "constructor", ctor_name, visibility, params=params, obsolete=obsolete,
                             varargs=sig.varargs)
                continue
            ret, ref_readonly = self.return_type(m, sig.ret)
            yield Member(declaring, "method", name, visibility, _method_modifiers(flags, interface), ret,
                         ref_readonly, self.generic_decls(gps, mctx), params, obsolete=obsolete,
                         varargs=sig.varargs)

    def return_type(self, method: int, ret: TypeExpr) -> tuple[TypeExpr, bool]:
        """The return type without encoding details, and whether it is `ref readonly`."""
        in_mod = False
        if isinstance(ret, Modified) and ret.required and is_named(ret.modifier, IN_ATTRIBUTE) and isinstance(ret.element, ByRef):
            ret, in_mod = ret.element, True
        if not isinstance(ret, ByRef):
            return ret, False
        ret_row = self.param_rows(method).get(0)
        readonly = in_mod or (ret_row is not None and self.has_attr(mdt.PARAM, ret_row, IS_READ_ONLY))
        return ret, readonly

    def params(self, method: int, types: tuple[TypeExpr, ...], ctx: GenericContext, extension: bool) -> tuple[Param, ...]:
        md = self.md
        rows = self.param_rows(method)
        params = []
        for i, ptype in enumerate(types):
            prow = rows.get(i + 1)
            flags, name = 0, ""
            if prow is not None:
                flags, _seq, name_idx = md.row(mdt.PARAM, prow)
                name = md.string(name_idx)
            attrs = {n for n, _, _ in self.attrs(mdt.PARAM, prow)} if prow is not None else set()
            in_mod = False
            if (isinstance(ptype, Modified) and ptype.required and is_named(ptype.modifier, IN_ATTRIBUTE)
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

    def properties(self, row: int, declaring: Named, ctx: GenericContext, interface: bool) -> Iterable[Member]:
        md = self.md
        for p in self.property_ranges.get(row, ()):
            _flags, name_idx, sig_idx = md.row(mdt.PROPERTY, p)
            name = md.string(name_idx)
            if "<" in name:
                continue
            methods = self.accessor_methods(mdt.PROPERTY, p)
            shown: list[tuple[str, str, int]] = []
            for bit, word in ((SEM_GETTER, "get"), (SEM_SETTER, "set")):
                method = methods.get(bit)
                if method is None:
                    continue
                vis = member_visibility(md.row(mdt.METHODDEF, method)[2])
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
                    if isinstance(ret, Modified) and ret.required and is_named(ret.modifier, IS_EXTERNAL_INIT):
                        word = "init"
                accessors.append(Accessor(word, vis))
            index_types = msig.params if shown[0][0] == "get" else msig.params[:-1]
            params = self.params(main, index_types, mctx, extension=False)
            ref_readonly = False
            if shown[0][0] == "get":
                getter_ret, ref_readonly = self.return_type(main, msig.ret)
                if isinstance(getter_ret, ByRef):
                    prop_type = getter_ret
            elif isinstance(prop_type, Modified) and isinstance(prop_type.element, ByRef):
                prop_type = prop_type.element
            yield Member(declaring, "property", name, visibility, _method_modifiers(mrow[2], interface), prop_type,
                         ref_readonly, params=params, accessors=tuple(accessors),
                         obsolete=self.obsolete(mdt.PROPERTY, p))

    def events(self, row: int, declaring: Named, ctx: GenericContext, interface: bool) -> Iterable[Member]:
        md = self.md
        for e in self.event_ranges.get(row, ()):
            _flags, name_idx, event_type = md.row(mdt.EVENT, e)
            name = md.string(name_idx)
            if "<" in name:
                continue
            methods = self.accessor_methods(mdt.EVENT, e)
            visible = []
            for bit in (SEM_ADD, SEM_REMOVE):
                method = methods.get(bit)
                if method is not None:
                    vis = member_visibility(md.row(mdt.METHODDEF, method)[2])
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


def _default_not_null(t: TypeExpr) -> bool:
    """`= null` in metadata on a value-type or generic parameter means C# `= default`."""
    if isinstance(t, GenericParamRef):
        return True
    return isinstance(t, Named) and bool(t.value_type) and not is_nullable(t)
