"""Property test: random signatures survive rendering and parsing (hypothesis)."""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis")  # a test-only dependency (pyproject [test] extra)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from b2release.apicompat.lexical import KEYWORDS  # noqa: E402
from b2release.apicompat.surface import ApiSurface, GenericParamDecl, Member, Obsolete, Param, TypeDecl  # noqa: E402
from b2release.apicompat.typeexpr import (  # noqa: E402
    ArrayOf,
    ByRef,
    FunctionPointer,
    GenericParamRef,
    Modified,
    Named,
    NameSeg,
    Pointer,
    named,
)

from .test_text import assert_round_trip  # noqa: E402

# --- property: random type expressions survive rendering and parsing ------------------------

_NAME_CHARS = st.characters(blacklist_categories=("Cs",), min_codepoint=32, max_codepoint=0x2FF)
_names = st.text(_NAME_CHARS, min_size=0, max_size=6).filter(lambda s: "." not in s and s not in ("T", "U"))
_CONTEXT = ("T", "U")


def _named(children: st.SearchStrategy) -> st.SearchStrategy:
    """Named types: a dotted outer name, maybe one nested level, generic arguments on each."""
    args = st.lists(children, max_size=2).map(tuple)
    outer = st.tuples(st.lists(_names, min_size=1, max_size=3).map(".".join), args)
    nested = st.lists(st.tuples(_names, args), max_size=1)
    return st.builds(lambda o, n: Named((NameSeg(*o),) + tuple(NameSeg(*level) for level in n)), outer, nested)


_leaves = st.one_of(
    st.sampled_from(sorted(KEYWORDS)).map(named),
    st.sampled_from([GenericParamRef("T", 0, False), GenericParamRef("U", 0, True), GenericParamRef("", 2, False),
                     GenericParamRef("", 1, True)]),
)
_types = st.recursive(_leaves, lambda children: st.one_of(
    _named(children),
    st.builds(ArrayOf, children, st.sampled_from(["[]", "[,]", "[*]", "[1...5]", "[-2...-3,0...3]"])),
    st.builds(Pointer, children),
    st.builds(ByRef, children),
    st.builds(Modified, children, st.booleans(), st.lists(_names, min_size=1, max_size=3).map(lambda p: named(".".join(p)))),
    st.builds(FunctionPointer, st.sampled_from(["", "unmanaged[Cdecl]", "vararg"]), children,
              st.lists(children, max_size=3).map(tuple)),
), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(ret=_types, params=st.lists(st.tuples(_names, _types, st.sampled_from(["", "ref", "out", "in", "params"])),
                                   max_size=3), obsolete=st.one_of(st.none(), st.builds(Obsolete, _names, st.booleans())))
def test_random_signatures_round_trip(ret, params, obsolete):
    owner = Named((NameSeg("Ns.Box", (GenericParamRef("T", 0, False),)),))
    member = Member(owner, "method", "M", "public", (), ret,
                    generic_params=(GenericParamDecl("U"),),
                    params=tuple(Param(n, t, m) for n, t, m in params), obsolete=obsolete)
    decl = TypeDecl(owner, "class", "public", generic_params=(GenericParamDecl("T", reference_type=True),),
                    base=named("System.Object"))
    assert_round_trip(ApiSurface("A", (decl,), (member,)))
