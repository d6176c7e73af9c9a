"""Values in metadata as C# literals: Constant table values (II.22.9) and the fixed
arguments of custom attribute blobs (II.23.3), read with the signature module's
bounds-checked `BlobReader`. Malformed bytes raise `SignatureError`.
"""

from __future__ import annotations

import math
import struct

from .lexical import char_literal, string_literal
from .signatures import (
    ELEMENT_BOOLEAN,
    ELEMENT_CHAR,
    ELEMENT_CLASS,
    ELEMENT_I1,
    ELEMENT_I2,
    ELEMENT_I4,
    ELEMENT_I8,
    ELEMENT_R4,
    ELEMENT_R8,
    ELEMENT_STRING,
    ELEMENT_U1,
    ELEMENT_U2,
    ELEMENT_U4,
    ELEMENT_U8,
    PRIMITIVES,
    BlobReader,
    SignatureError,
)
from .typeexpr import Named, TypeExpr

# --- constants --------------------------------------------------------------------------------

_INT_FORMATS = {ELEMENT_I1: "<b", ELEMENT_U1: "<B", ELEMENT_I2: "<h", ELEMENT_U2: "<H", ELEMENT_I4: "<i",
                ELEMENT_U4: "<I", ELEMENT_I8: "<q", ELEMENT_U8: "<Q"}


def constant_literal(element_type: int, blob: bytes) -> str:
    """A Constant table value (II.22.9) as a C# literal; CLASS means null."""
    r = BlobReader(blob)
    if element_type == ELEMENT_CLASS:
        return "null"
    if element_type == ELEMENT_STRING:
        return string_literal(decode_utf16(blob))
    value = read_primitive(r, element_type)
    return primitive_literal(element_type, value)


def read_primitive(r: BlobReader, element_type: int) -> object:
    if element_type == ELEMENT_BOOLEAN:
        return r.u8() != 0
    if element_type == ELEMENT_CHAR:
        return chr(r.unpack("<H")[0])
    fmt = _INT_FORMATS.get(element_type)
    if fmt is not None:
        return r.unpack(fmt)[0]
    if element_type == ELEMENT_R4:
        return r.unpack("<f")[0]
    if element_type == ELEMENT_R8:
        return r.unpack("<d")[0]
    raise SignatureError(f"constant of element type 0x{element_type:02x}")


def primitive_literal(element_type: int, value: object) -> str:
    if element_type == ELEMENT_BOOLEAN:
        return "true" if value else "false"
    if element_type == ELEMENT_CHAR:
        assert isinstance(value, str)
        return char_literal(value)
    if element_type in (ELEMENT_R4, ELEMENT_R8):
        assert isinstance(value, float)
        return float_literal(value, element_type == ELEMENT_R4)
    return str(value)


def float_literal(value: float, single: bool) -> str:
    """Shortest text that reads back to the same float32/float64; `f` marks float32."""
    type_name = "float" if single else "double"
    if math.isnan(value):
        return f"{type_name}.NaN"
    if math.isinf(value):
        return f"{type_name}.{'PositiveInfinity' if value > 0 else 'NegativeInfinity'}"
    if not single:
        return repr(value)
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32
        text = f"{value:.{digits}g}"
        try:
            if struct.unpack("<f", struct.pack("<f", float(text)))[0] == value:
                break
        except (OverflowError, struct.error):  # rounded up past float.MaxValue
            continue
    if "." not in text and "e" not in text and "inf" not in text:
        text += ".0"
    return text + "f"


def decode_utf16(blob: bytes) -> str:
    if len(blob) % 2:
        raise SignatureError("UTF-16 string of odd length")
    # surrogatepass: a lone surrogate survives and is escaped when rendered.
    return blob.decode("utf-16-le", "surrogatepass")


# --- custom attribute values (II.23.3) -----------------------------------------------------------

def attribute_fixed_args(blob: bytes, param_types: tuple[TypeExpr, ...]) -> list[object] | None:
    """The fixed arguments of a custom attribute blob, for primitive, string and Type parameters.

    A System.Type argument comes back as its (possibly assembly-qualified) name. Returns None
    when a parameter has a type this decoder does not handle (enums, arrays, object): callers
    only need a few well-known attributes with simple parameters.
    """
    r = BlobReader(blob)
    if r.unpack("<H")[0] != 0x0001:
        raise SignatureError("custom attribute blob without the 0x0001 prolog")
    values: list[object] = []
    for t in param_types:
        code = _element_code(t)
        if code is None:
            return None
        if code == ELEMENT_STRING:
            values.append(read_ser_string(r))
        else:
            values.append(read_primitive(r, code))
    return values


_CODES_BY_NAME = {name: code for code, name in PRIMITIVES.items()}
_CODES_BY_NAME["System.Type"] = ELEMENT_STRING  # serialized as a SerString type name


def _element_code(t: TypeExpr) -> int | None:
    if isinstance(t, Named) and len(t.segments) == 1 and not t.segments[0].args:
        code = _CODES_BY_NAME.get(t.segments[0].name)
        if code in _INT_FORMATS or code in (ELEMENT_BOOLEAN, ELEMENT_CHAR, ELEMENT_R4, ELEMENT_R8, ELEMENT_STRING):
            return code
    return None


def read_ser_string(r: BlobReader) -> str | None:
    """SerString: 0xFF for null, else a compressed length and UTF-8 bytes."""
    if r.peek() == 0xFF:
        r.u8()
        return None
    size = r.compressed()
    return r.take(size).decode("utf-8", "surrogateescape")
