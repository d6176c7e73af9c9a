"""Decoding ECMA-335 signature and value blobs (partition II.23.2 and II.23.3).

Signatures become `surface.TypeExpr` trees. Type tokens inside a signature
(TypeDefOrRefOrSpecEncoded) are handed to a resolver callback, so this module knows the
blob grammar but nothing about tables. Generic parameters are named from a
`GenericContext` (the declaring type's and the method's parameter names).

Every malformed input raises `SignatureError`; the metadata reader turns it into an
InputError that names the file. Nothing here trusts a length or a count from the blob:
each read is bounds-checked and type nesting is depth-limited (a TypeSpec can refer to
itself in a corrupt file).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

from .typeexpr import (
    ArrayOf,
    ByRef,
    FunctionPointer,
    GenericParamRef,
    Modified,
    Named,
    NameSeg,
    Pointer,
    TypeExpr,
    named,
)


class SignatureError(ValueError):
    """A blob that does not follow the ECMA-335 grammar."""


# Element types (II.23.1.16).
ELEMENT_END = 0x00
ELEMENT_VOID = 0x01
ELEMENT_BOOLEAN = 0x02
ELEMENT_CHAR = 0x03
ELEMENT_I1 = 0x04
ELEMENT_U1 = 0x05
ELEMENT_I2 = 0x06
ELEMENT_U2 = 0x07
ELEMENT_I4 = 0x08
ELEMENT_U4 = 0x09
ELEMENT_I8 = 0x0A
ELEMENT_U8 = 0x0B
ELEMENT_R4 = 0x0C
ELEMENT_R8 = 0x0D
ELEMENT_STRING = 0x0E
ELEMENT_PTR = 0x0F
ELEMENT_BYREF = 0x10
ELEMENT_VALUETYPE = 0x11
ELEMENT_CLASS = 0x12
ELEMENT_VAR = 0x13
ELEMENT_ARRAY = 0x14
ELEMENT_GENERICINST = 0x15
ELEMENT_TYPEDBYREF = 0x16
ELEMENT_I = 0x18
ELEMENT_U = 0x19
ELEMENT_FNPTR = 0x1B
ELEMENT_OBJECT = 0x1C
ELEMENT_SZARRAY = 0x1D
ELEMENT_MVAR = 0x1E
ELEMENT_CMOD_REQD = 0x1F
ELEMENT_CMOD_OPT = 0x20
ELEMENT_SENTINEL = 0x41
ELEMENT_PINNED = 0x45
# Only in custom attribute blobs (II.23.3).
SERIALIZATION_TYPE = 0x50
SERIALIZATION_BOXED = 0x51
SERIALIZATION_ENUM = 0x55

PRIMITIVES: dict[int, str] = {
    ELEMENT_VOID: "System.Void",
    ELEMENT_BOOLEAN: "System.Boolean",
    ELEMENT_CHAR: "System.Char",
    ELEMENT_I1: "System.SByte",
    ELEMENT_U1: "System.Byte",
    ELEMENT_I2: "System.Int16",
    ELEMENT_U2: "System.UInt16",
    ELEMENT_I4: "System.Int32",
    ELEMENT_U4: "System.UInt32",
    ELEMENT_I8: "System.Int64",
    ELEMENT_U8: "System.UInt64",
    ELEMENT_R4: "System.Single",
    ELEMENT_R8: "System.Double",
    ELEMENT_STRING: "System.String",
    ELEMENT_TYPEDBYREF: "System.TypedReference",
    ELEMENT_I: "System.IntPtr",
    ELEMENT_U: "System.UIntPtr",
    ELEMENT_OBJECT: "System.Object",
}
_REFERENCE_PRIMITIVES = (ELEMENT_STRING, ELEMENT_OBJECT)
_PRIMITIVE_TYPES: dict[int, Named] = {
    code: named(name, value_type=code not in _REFERENCE_PRIMITIVES) for code, name in PRIMITIVES.items()
}

# Calling conventions (II.23.2.1-3).
CALLCONV_MASK = 0x0F
CALLCONV_VARARG = 0x05
CALLCONV_FIELD = 0x06
CALLCONV_PROPERTY = 0x08
CALLCONV_GENERIC = 0x10
CALLCONV_HASTHIS = 0x20
CALLCONV_EXPLICITTHIS = 0x40
_FNPTR_CONVENTIONS = {0: "", 1: "unmanaged[Cdecl]", 2: "unmanaged[Stdcall]", 3: "unmanaged[Thiscall]",
                      4: "unmanaged[Fastcall]", 5: "vararg", 9: "unmanaged"}

MAX_DEPTH = 64  # deeper nesting than any real signature; stops self-referencing TypeSpecs

# resolver(coded TypeDefOrRefOrSpecEncoded, value_type, context, depth) -> TypeExpr
Resolver = Callable[[int, bool, "GenericContext", int], TypeExpr]


@dataclass(frozen=True, slots=True)
class GenericContext:
    """Names for !n (the type's generic parameters) and !!n (the method's)."""

    type_params: tuple[str, ...] = ()
    method_params: tuple[str, ...] = ()


EMPTY_CONTEXT = GenericContext()


class BlobReader:
    """A cursor over one blob; every read is bounds-checked."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise SignatureError("blob ends early")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def peek(self) -> int:
        if self.pos >= len(self.data):
            raise SignatureError("blob ends early")
        return self.data[self.pos]

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise SignatureError("blob ends early")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))

    def compressed(self) -> int:
        """An unsigned compressed integer (II.23.2): 1, 2 or 4 bytes, big-endian."""
        first = self.u8()
        if first & 0x80 == 0:
            return first
        if first & 0xC0 == 0x80:
            return ((first & 0x3F) << 8) | self.u8()
        if first & 0xE0 == 0xC0:
            rest = self.take(3)
            return ((first & 0x1F) << 24) | (rest[0] << 16) | (rest[1] << 8) | rest[2]
        raise SignatureError(f"bad compressed integer lead byte 0x{first:02x}")

    def compressed_signed(self) -> int:
        """A signed compressed integer: the sign bit is rotated into bit 0 (II.23.2)."""
        start = self.pos
        raw = self.compressed()
        width = {1: 7, 2: 14, 4: 29}[self.pos - start]
        value = raw >> 1
        if raw & 1:
            value -= 1 << (width - 1)
        return value


def read_blob(heap: bytes, index: int) -> bytes:
    """The blob at `index` in a #Blob heap: a compressed length, then the bytes."""
    if index >= len(heap):
        raise SignatureError(f"blob index 0x{index:x} beyond the #Blob heap")
    reader = BlobReader(heap, index)
    size = reader.compressed()
    return reader.take(size)


# --- types ---------------------------------------------------------------------------------

def decode_type(r: BlobReader, resolve: Resolver, ctx: GenericContext, depth: int = 0) -> TypeExpr:
    """One Type (II.23.2.12), custom modifiers included."""
    if depth > MAX_DEPTH:
        raise SignatureError("type nesting too deep")
    code = r.u8()
    if code in (ELEMENT_CMOD_REQD, ELEMENT_CMOD_OPT):
        modifier = resolve(r.compressed(), False, ctx, depth + 1)
        inner = decode_type(r, resolve, ctx, depth + 1)
        return Modified(inner, code == ELEMENT_CMOD_REQD, modifier)
    primitive = _PRIMITIVE_TYPES.get(code)
    if primitive is not None:
        return primitive
    if code in (ELEMENT_CLASS, ELEMENT_VALUETYPE):
        return resolve(r.compressed(), code == ELEMENT_VALUETYPE, ctx, depth + 1)
    if code == ELEMENT_SZARRAY:
        return ArrayOf(decode_type(r, resolve, ctx, depth + 1))
    if code == ELEMENT_PTR:
        return Pointer(decode_type(r, resolve, ctx, depth + 1))
    if code == ELEMENT_BYREF:
        return ByRef(decode_type(r, resolve, ctx, depth + 1))
    if code == ELEMENT_PINNED:  # locals only, but harmless
        return decode_type(r, resolve, ctx, depth + 1)
    if code in (ELEMENT_VAR, ELEMENT_MVAR):
        index = r.compressed()
        names = ctx.method_params if code == ELEMENT_MVAR else ctx.type_params
        name = names[index] if index < len(names) else ""
        return GenericParamRef(name, index, code == ELEMENT_MVAR)
    if code == ELEMENT_GENERICINST:
        kind = r.u8()
        if kind not in (ELEMENT_CLASS, ELEMENT_VALUETYPE):
            raise SignatureError(f"GENERICINST of element type 0x{kind:02x}")
        base = resolve(r.compressed(), kind == ELEMENT_VALUETYPE, ctx, depth + 1)
        count = r.compressed()
        if count == 0 or count > len(r.data):
            raise SignatureError("bad generic argument count")
        args = tuple(decode_type(r, resolve, ctx, depth + 1) for _ in range(count))
        return instantiate(base, args)
    if code == ELEMENT_ARRAY:
        element = decode_type(r, resolve, ctx, depth + 1)
        return ArrayOf(element, _array_shape(r))
    if code == ELEMENT_FNPTR:
        sig = decode_method_sig_from(r, resolve, ctx, depth + 1)
        return FunctionPointer(_FNPTR_CONVENTIONS.get(sig.convention, f"unmanaged[{sig.convention}]"),
                               sig.ret, sig.params)
    raise SignatureError(f"unknown element type 0x{code:02x}")


def instantiate(base: TypeExpr, args: tuple[TypeExpr, ...]) -> TypeExpr:
    """Attach generic arguments to a generic type definition's name.

    The arguments are spread over the nesting levels by each level's CLR arity suffix
    (`Outer`1+Inner`1` takes one argument each); a name without suffixes takes them all on
    its innermost level.
    """
    if not isinstance(base, Named) or any(seg.args for seg in base.segments):
        raise SignatureError("generic instantiation of a non-generic-definition type")
    segments = []
    remaining = list(args)
    arities = [_arity(seg.name) for seg in base.segments]
    if sum(a for _, a in arities) != len(args):
        # Not C# naming: keep names as they are, all arguments on the innermost level.
        segs = list(base.segments)
        segs[-1] = NameSeg(segs[-1].name, tuple(args))
        return Named(tuple(segs), base.value_type)
    for seg, (plain, arity) in zip(base.segments, arities, strict=True):
        taken, remaining = remaining[:arity], remaining[arity:]
        segments.append(NameSeg(plain if arity else seg.name, tuple(taken)))
    return Named(tuple(segments), base.value_type)


def _arity(name: str) -> tuple[str, int]:
    head, sep, tail = name.rpartition("`")
    if sep and tail.isdigit() and head:
        return head, int(tail)
    return name, 0


def _array_shape(r: BlobReader) -> str:
    """ArrayShape (II.23.2.13) as text: `[,]`, `[*]` (rank 1, not a vector), `[0...3]`."""
    rank = r.compressed()
    if rank == 0 or rank > 32:
        raise SignatureError(f"bad array rank {rank}")
    num_sizes = r.compressed()
    if num_sizes > rank:
        raise SignatureError("more array sizes than dimensions")
    sizes = [r.compressed() for _ in range(num_sizes)]
    num_bounds = r.compressed()
    if num_bounds > rank:
        raise SignatureError("more array lower bounds than dimensions")
    bounds = [r.compressed_signed() for _ in range(num_bounds)]
    # A zero lower bound without a size is the default: C# compilers differ in whether they
    # spell it out (mcs writes it, Roslyn does not), so it must not change the text.
    if not sizes and not any(bounds):
        return "[*]" if rank == 1 else "[" + "," * (rank - 1) + "]"
    dims = []
    for i in range(rank):
        low = bounds[i] if i < len(bounds) else None
        size = sizes[i] if i < len(sizes) else None
        if size is not None:
            start = low or 0
            dims.append(f"{start}...{start + size - 1}")
        elif low is not None:
            dims.append(f"{low}...")
        else:
            dims.append("")
    return "[" + ",".join(dims) + "]"


# --- member signatures ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MethodSig:
    convention: int  # low nibble of the calling convention byte
    has_this: bool
    generic_arity: int
    ret: TypeExpr
    params: tuple[TypeExpr, ...]
    varargs: bool


def decode_method_sig(blob: bytes, resolve: Resolver, ctx: GenericContext) -> MethodSig:
    r = BlobReader(blob)
    return decode_method_sig_from(r, resolve, ctx, 0)


def decode_method_sig_from(r: BlobReader, resolve: Resolver, ctx: GenericContext, depth: int) -> MethodSig:
    """MethodDefSig / MethodRefSig (II.23.2.1-2); a varargs SENTINEL ends the fixed part."""
    if depth > MAX_DEPTH:
        raise SignatureError("type nesting too deep")
    head = r.u8()
    convention = head & CALLCONV_MASK
    if convention in (CALLCONV_FIELD, CALLCONV_PROPERTY) or convention > 9:
        raise SignatureError(f"not a method signature (0x{head:02x})")
    arity = r.compressed() if head & CALLCONV_GENERIC else 0
    count = r.compressed()
    if count > len(r.data):
        raise SignatureError("bad parameter count")
    ret = decode_type(r, resolve, ctx, depth + 1)
    params = []
    for _ in range(count):
        if r.peek() == ELEMENT_SENTINEL:
            break  # only in call-site signatures: the rest are the extra varargs
        params.append(decode_type(r, resolve, ctx, depth + 1))
    return MethodSig(convention, bool(head & CALLCONV_HASTHIS), arity, ret, tuple(params),
                     convention == CALLCONV_VARARG)


def decode_field_sig(blob: bytes, resolve: Resolver, ctx: GenericContext) -> TypeExpr:
    r = BlobReader(blob)
    if r.u8() & CALLCONV_MASK != CALLCONV_FIELD:
        raise SignatureError("not a field signature")
    return decode_type(r, resolve, ctx)


def decode_property_sig(blob: bytes, resolve: Resolver, ctx: GenericContext) -> tuple[TypeExpr, tuple[TypeExpr, ...]]:
    """PropertySig (II.23.2.5): the property type and the indexer parameter types."""
    r = BlobReader(blob)
    if r.u8() & CALLCONV_MASK != CALLCONV_PROPERTY:
        raise SignatureError("not a property signature")
    count = r.compressed()
    if count > len(blob):
        raise SignatureError("bad parameter count")
    prop_type = decode_type(r, resolve, ctx)
    return prop_type, tuple(decode_type(r, resolve, ctx) for _ in range(count))


def decode_typespec(blob: bytes, resolve: Resolver, ctx: GenericContext, depth: int = 0) -> TypeExpr:
    return decode_type(BlobReader(blob), resolve, ctx, depth)
