"""Classifying the change between two API surfaces, and the semver verdict.

Types and members are matched by identity (`TypeDecl.key`, `Member.key`: declaring type,
kind, name, generic arity, parameter types), so a changed return type, value, visibility
or modifier is one *changed* entry, not a removal plus an addition. A removed and an added
overload with the same name in the same type, when they are the only ones, are reported
as one change (a changed parameter list).

Each change gets a level:
  breaking  something existing callers or implementers compiled against may lose;
  additive  new API that breaks no one;
  none      no effect on consumers (an override added or removed, a member moved to a
            base type, a type forwarded to another assembly, a generic parameter renamed).
The per-field rules are in rules.py; they follow .NET's ApiCompat where the two overlap,
and docs/compat.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from b2release.errors import CheckFailed, InputError

from .rules import (
    Reason,
    accessor_reasons,
    generic_reasons,
    obsolete_reasons,
    overridable,
    param_reasons,
    same_type,
    signature_reason,
    type_modifier_reasons,
    type_text,
    visibility_reasons,
)
from .surface import ApiSurface, Member, TypeDecl, decl_key
from .typeexpr import Named, render_type
from .versions import Version, actual_bump, bump_satisfies, next_version, required_bump

LEVELS = ("breaking", "additive", "none")
_LEVEL_RANK = {"none": 0, "additive": 1, "breaking": 2}


@dataclass(frozen=True)
class ApiChange:
    kind: str  # "breaking", "additive" or "none"
    change: str  # "removed", "added" or "changed"
    assembly: str
    target: str  # readable name of the type or member
    before: str | None  # its canonical line in the old surface
    after: str | None  # ... and in the new one
    reason: str


@dataclass(frozen=True)
class CompatReport:
    """The changes between two releases and whether the proposed version fits them."""

    changes: tuple[ApiChange, ...]
    level: str  # the most severe change kind ("none" when nothing changed)
    old_version: str
    new_version: str
    required_bump: str  # "major", "minor" or "patch"
    actual_bump: str  # "major", "minor", "patch", "prerelease" or "none"
    ok: bool
    message: str

    def of_kind(self, kind: str) -> list[ApiChange]:
        return [c for c in self.changes if c.kind == kind]

    def raise_if_failed(self) -> None:
        """CheckFailed (exit 1) with the verdict when the version does not satisfy the rule."""
        if not self.ok:
            raise CheckFailed(self.message, details={"level": self.level, "required_bump": self.required_bump,
                                                      "breaking": len(self.of_kind("breaking"))})


def _by_assembly(surfaces: Mapping[str, ApiSurface] | Iterable[ApiSurface]) -> dict[str, ApiSurface]:
    items = surfaces.values() if isinstance(surfaces, Mapping) else surfaces
    result: dict[str, ApiSurface] = {}
    for surface in items:
        if surface.assembly in result:
            raise InputError(f"two API surfaces for assembly {surface.assembly}")
        result[surface.assembly] = surface
    return result


def check_compatibility(old: Mapping[str, ApiSurface] | Iterable[ApiSurface], old_version: str,
                        new: Mapping[str, ApiSurface] | Iterable[ApiSurface], new_version: str) -> CompatReport:
    """Compare the old release's surfaces with the new build's and judge the new version.

    Raises UsageError when either version is not a semantic version.
    """
    old_v, new_v = Version.parse(old_version), Version.parse(new_version)
    changes = compare_surfaces(old, new)
    level = max((c.kind for c in changes), key=_LEVEL_RANK.__getitem__, default="none")
    required = required_bump(level, old_v)
    bump = actual_bump(old_v, new_v)
    ok = bump_satisfies(old_v, new_v, required)
    counts = ", ".join(f"{sum(c.kind == k for c in changes)} {k}" for k in LEVELS if any(c.kind == k for c in changes))
    what = f"API changes ({counts})" if changes else "no API changes"
    if bump == "none":
        message = f"{new_v} is not greater than {old_v}"
    elif ok:
        message = f"{what}: {old_v} -> {new_v} is a {bump} bump, {required} required: ok"
    else:
        message = (f"{what}: {old_v} -> {new_v} is a {bump} bump but {level} changes need a {required} bump "
                   f"(at least {next_version(old_v, required)})")
    return CompatReport(tuple(changes), level, str(old_v), str(new_v), required, bump, ok, message)


def compare_surfaces(old: Mapping[str, ApiSurface] | Iterable[ApiSurface],
                     new: Mapping[str, ApiSurface] | Iterable[ApiSurface]) -> list[ApiChange]:
    """All changes from the old surfaces to the new ones, in a stable order."""
    old_map, new_map = _by_assembly(old), _by_assembly(new)
    # Base types and forwarded types can live in another assembly of the new release.
    new_index = _Index(new_map.values())
    changes: list[ApiChange] = []
    for name in sorted(old_map.keys() | new_map.keys()):
        before, after = old_map.get(name), new_map.get(name)
        if after is None:
            changes.append(ApiChange("breaking", "removed", name, name, f"assembly {name}", None, "assembly removed"))
        elif before is None:
            changes.append(ApiChange("additive", "added", name, name, None, f"assembly {name}", "new assembly"))
        else:
            changes.extend(_AssemblyDiff(before, after, new_index).run())
    changes.sort(key=lambda c: (c.assembly, -_LEVEL_RANK[c.kind], c.target, c.change, c.before or "", c.after or ""))
    return changes


class _Index:
    """Types and members of a set of surfaces by key, to follow base types across assemblies."""

    def __init__(self, surfaces: Iterable[ApiSurface]):
        self.types: dict[str, TypeDecl] = {}
        self.members: set[str] = set()
        for s in surfaces:
            for t in s.types:
                self.types.setdefault(t.key, t)
            self.members.update(m.key for m in s.members)

    def base_chain(self, t: TypeDecl) -> list[str]:
        """Keys of the known base types of t, nearest first (stops at the first unknown one)."""
        chain: list[str] = []
        base = t.base if t.kind == "class" else None
        while isinstance(base, Named) and len(chain) < 64:
            key = decl_key(base)
            chain.append(key)
            decl = self.types.get(key)
            base = decl.base if decl is not None and decl.kind == "class" else None
        return chain

    def all_interfaces(self, t: TypeDecl) -> set[str]:
        """Interfaces of t, its known bases and their interfaces (as rendered keys)."""
        found: set[str] = set()
        todo = [t]
        seen: set[str] = set()
        while todo:
            decl = todo.pop()
            if decl.key in seen:
                continue
            seen.add(decl.key)
            for i in decl.interfaces:
                found.add(render_type(i, key=True))
                sub = self.types.get(decl_key(i)) if isinstance(i, Named) else None
                if sub is not None:
                    todo.append(sub)
            for key in self.base_chain(decl)[:1]:
                base = self.types.get(key)
                if base is not None:
                    todo.append(base)
        return found


class _AssemblyDiff:
    def __init__(self, old: ApiSurface, new: ApiSurface, new_index: _Index):
        self.old, self.new = old, new
        self.new_index = new_index
        self.name = new.assembly
        self.changes: list[ApiChange] = []

    def add(self, kind: str, change: str, target: str, before: str | None, after: str | None, reason: str) -> None:
        self.changes.append(ApiChange(kind, change, self.name, target, before, after, reason))

    def run(self) -> list[ApiChange]:
        old_types = {t.key: t for t in self.old.types}
        new_types = {t.key: t for t in self.new.types}
        forwarded = {f.key: f.target for f in self.new.forwarders}
        for key in sorted(old_types.keys() - new_types.keys()):
            if _outer(key) in old_types and _outer(key) not in new_types:
                continue  # reported with its enclosing type
            t = old_types[key]
            target = forwarded.get(_forwarder_key(key))
            if target is not None:
                self.add("none", "removed", t.display_name, t.render(), None, f"forwarded to assembly {target}")
            else:
                self.add("breaking", "removed", t.display_name, t.render(), None, f"{t.kind} removed")
        for key in sorted(new_types.keys() - old_types.keys()):
            if _outer(key) in new_types and _outer(key) not in old_types:
                continue
            t = new_types[key]
            self.add("additive", "added", t.display_name, None, t.render(), f"new {t.kind}")
        for key in sorted(old_types.keys() & new_types.keys()):
            before, after = old_types[key], new_types[key]
            reasons = self.type_reasons(before, after)
            if reasons:
                self.add(_worst(reasons), "changed", after.display_name, before.render(), after.render(), _join(reasons))
        self.members(old_types, new_types)
        return self.changes

    # --- types -----------------------------------------------------------------------------------

    def type_reasons(self, o: TypeDecl, n: TypeDecl) -> list[Reason]:
        reasons: list[Reason] = []
        if o.kind != n.kind:
            reasons.append(("breaking", f"{o.kind} became {n.kind}"))
        reasons += visibility_reasons(o.visibility, n.visibility)
        reasons += type_modifier_reasons(o.modifiers, n.modifiers)
        if not same_type(o.base, n.base):
            if o.kind == "enum" and n.kind == "enum":
                reasons.append(("breaking", f"underlying type changed from {type_text(o.base)} to {type_text(n.base)}"))
            elif o.base is None:
                reasons.append(("additive", f"base type {type_text(n.base)} added"))
            elif isinstance(o.base, Named) and decl_key(o.base) in self.new_index.base_chain(n):
                reasons.append(("additive", f"base type changed from {type_text(o.base)} to {type_text(n.base)}"
                                            f" ({type_text(o.base)} is still a base type)"))
            else:
                reasons.append(("breaking", f"base type changed from {type_text(o.base)} to {type_text(n.base)}"))
        old_ifaces = {render_type(i, key=True): i for i in o.interfaces}
        new_ifaces = {render_type(i, key=True): i for i in n.interfaces}
        still = self.new_index.all_interfaces(n)
        for key in sorted(old_ifaces.keys() - new_ifaces.keys()):
            if key in still:
                reasons.append(("none", f"{render_type(old_ifaces[key])} is still implemented through a base"))
            else:
                reasons.append(("breaking", f"no longer implements {render_type(old_ifaces[key])}"))
        for key in sorted(new_ifaces.keys() - old_ifaces.keys()):
            reasons.append(("additive", f"now implements {render_type(new_ifaces[key])}"))
        reasons += generic_reasons(o.generic_params, n.generic_params)
        if o.delegate is not None and n.delegate is not None:
            if not same_type(o.delegate.ret, n.delegate.ret) or o.delegate.ref_readonly != n.delegate.ref_readonly:
                reasons.append(("breaking", f"return type changed from {type_text(o.delegate.ret)} to "
                                            f"{type_text(n.delegate.ret)}"))
            reasons += param_reasons(o.delegate.params, n.delegate.params, types_in_key=False)
        reasons += obsolete_reasons(o.obsolete, n.obsolete)
        if not reasons and o.render() != n.render():
            reasons.append(("none", "only generic parameter names changed"))
        return reasons

    # --- members ---------------------------------------------------------------------------------

    def members(self, old_types: dict[str, TypeDecl], new_types: dict[str, TypeDecl]) -> None:
        old_members = {m.key: m for m in self.old.members}
        new_members = {m.key: m for m in self.new.members}
        removed = [old_members[k] for k in sorted(old_members.keys() - new_members.keys())
                   if old_members[k].declaring_key in new_types]
        added = [new_members[k] for k in sorted(new_members.keys() - old_members.keys())
                 if new_members[k].declaring_key in old_types]
        # One removed and one added member of the same name in the same type: a changed signature.
        by_name_removed: dict[tuple[str, str], list[Member]] = {}
        by_name_added: dict[tuple[str, str], list[Member]] = {}
        for m in removed:
            by_name_removed.setdefault((m.declaring_key, m.name), []).append(m)
        for m in added:
            by_name_added.setdefault((m.declaring_key, m.name), []).append(m)
        paired: set[str] = set()
        for key, olds in by_name_removed.items():
            news = by_name_added.get(key, [])
            if len(olds) == 1 and len(news) == 1:
                o, n = olds[0], news[0]
                reasons = self.member_reasons(o, n, fallback=False)
                reasons.append(("breaking", signature_reason(o, n)))
                self.add("breaking", "changed", n.display(), o.render(), n.render(), _join(reasons))
                paired.update((o.key, n.key))
        for m in removed:
            if m.key not in paired:
                self.removed_member(m, new_types[m.declaring_key])
        for m in added:
            if m.key not in paired:
                self.added_member(m, old_types[m.declaring_key], old_members)
        for key in sorted(old_members.keys() & new_members.keys()):
            o, n = old_members[key], new_members[key]
            reasons = self.member_reasons(o, n)
            if reasons:
                self.add(_worst(reasons), "changed", n.display(), o.render(), n.render(), _join(reasons))

    def removed_member(self, m: Member, new_type: TypeDecl) -> None:
        if "override" in m.modifiers:
            self.add("none", "removed", m.display(), m.render(), None,
                     "override removed (the overridden base member remains)")
            return
        for base in self.new_index.base_chain(new_type):
            if f"{m.kind} {base}::{m.signature_key}" in self.new_index.members:
                self.add("none", "removed", m.display(), m.render(), None, f"moved to base type {base}")
                return
        self.add("breaking", "removed", m.display(), m.render(), None, f"{m.kind} removed")

    def added_member(self, m: Member, old_type: TypeDecl, old_members: dict[str, Member]) -> None:
        static = "static" in m.modifiers
        if old_type.kind == "interface" and not static:
            self.add("breaking", "added", m.display(), None, m.render(),
                     "new member on an interface (existing implementations no longer compile or load)")
        elif "abstract" in m.modifiers and _extendable(old_type, old_members):
            self.add("breaking", "added", m.display(), None, m.render(),
                     "new abstract member on a class others can derive from")
        elif "override" in m.modifiers:
            self.add("none", "added", m.display(), None, m.render(), "override added")
        else:
            self.add("additive", "added", m.display(), None, m.render(), f"new {m.kind}")

    def member_reasons(self, o: Member, n: Member, fallback: bool = True) -> list[Reason]:
        reasons: list[Reason] = []
        if o.kind != n.kind:
            reasons.append(("breaking", f"{o.kind} became {n.kind}"))
        reasons += visibility_reasons(o.visibility, n.visibility)
        om, nm = set(o.modifiers), set(n.modifiers)
        if ("static" in om) != ("static" in nm):
            reasons.append(("breaking", "became static" if "static" in nm else "no longer static"))
        if "abstract" in nm - om:
            reasons.append(("breaking", "became abstract"))
        elif "abstract" in om - nm:
            reasons.append(("additive", "no longer abstract"))
        if overridable(om) and not overridable(nm) and "abstract" not in nm:
            reasons.append(("breaking", "no longer overridable"))
        elif not overridable(om) and overridable(nm) and "abstract" not in nm:
            reasons.append(("additive", "became overridable"))
        if "readonly" in nm - om:
            reasons.append(("breaking", "became readonly"))
        elif "readonly" in om - nm:
            reasons.append(("additive", "no longer readonly"))
        if ("volatile" in om) != ("volatile" in nm):
            reasons.append(("breaking", "volatile changed (part of the field's signature)"))
        if ("const" in om) != ("const" in nm):
            reasons.append(("breaking", "became a constant" if "const" in nm else "no longer a constant"))
        elif o.value != n.value:
            reasons.append(("breaking", f"constant value changed from {o.value} to {n.value}"))
        if not same_type(o.type, n.type) or o.ref_readonly != n.ref_readonly:
            what = "return type" if o.kind == "method" else "type"
            old_t = ("ref readonly " if o.ref_readonly else "") + type_text(o.type)
            new_t = ("ref readonly " if n.ref_readonly else "") + type_text(n.type)
            reasons.append(("breaking", f"{what} changed from {old_t} to {new_t}"))
        if len(o.params) == len(n.params):
            reasons += param_reasons(o.params, n.params, types_in_key=True)
        reasons += generic_reasons(o.generic_params, n.generic_params)
        reasons += accessor_reasons(o, n)
        if o.varargs != n.varargs:
            reasons.append(("breaking", "__arglist changed"))
        reasons += obsolete_reasons(o.obsolete, n.obsolete)
        if fallback and not reasons and o.render() != n.render():
            reasons.append(("none", "only generic parameter names changed"))
        return reasons


def _outer(key: str) -> str:
    return key.rsplit("+", 1)[0] if "+" in key else ""


def _forwarder_key(key: str) -> str:
    # Forwarders name only top-level types; a nested type goes with its outermost type.
    return key.split("+", 1)[0]


def _worst(reasons: list[Reason]) -> str:
    return max((level for level, _ in reasons), key=_LEVEL_RANK.__getitem__)


def _join(reasons: list[Reason]) -> str:
    # The worst reasons first: the short reason a reader sees starts with what matters.
    ordered = sorted(reasons, key=lambda r: -_LEVEL_RANK[r[0]])
    return "; ".join(text for _, text in ordered)


def _extendable(t: TypeDecl, members: dict[str, Member]) -> bool:
    """Can code in another assembly derive from t? (A class, not sealed, with a visible constructor.)"""
    if t.kind != "class" or {"sealed", "static"} & set(t.modifiers):
        return False
    return any(m.kind == "constructor" and m.declaring_key == t.key for m in members.values())
