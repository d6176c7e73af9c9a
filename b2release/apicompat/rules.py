"""Per-field rules: how a difference between two declarations is classified.

Each function compares one aspect of an old and a new declaration (visibility, type
modifiers, parameters, generic constraints, accessors, [Obsolete]) and returns
(level, reason) pairs; `compare.py` matches declarations and collects the pairs. The
levels are "breaking", "additive" and "none" (docs/compat.md has the table).
"""

from __future__ import annotations

from .surface import VISIBILITY_RANK, GenericParamDecl, Member, Obsolete, Param
from .typeexpr import TypeExpr, render_type

Reason = tuple[str, str]  # (level, text)


def type_text(t: TypeExpr | None) -> str:
    return "(none)" if t is None else render_type(t)


def same_type(a: TypeExpr | None, b: TypeExpr | None) -> bool:
    if a is None or b is None:
        return a is b
    return render_type(a, key=True) == render_type(b, key=True)


def visibility_reasons(old: str, new: str) -> list[Reason]:
    if VISIBILITY_RANK[new] < VISIBILITY_RANK[old]:
        return [("breaking", f"visibility reduced from {old} to {new}")]
    if VISIBILITY_RANK[new] > VISIBILITY_RANK[old]:
        return [("additive", f"visibility widened from {old} to {new}")]
    return []


def type_modifier_reasons(old: tuple[str, ...], new: tuple[str, ...]) -> list[Reason]:
    # `static` is abstract + sealed in metadata: compare the parts, name the C# word.
    def expand(mods: tuple[str, ...]) -> set[str]:
        found = set(mods)
        if "static" in found:
            found |= {"abstract", "sealed"}
        return found

    o, n = expand(old), expand(new)
    reasons: list[Reason] = []
    if "static" in new and "static" not in old:
        reasons.append(("breaking", "became static"))
    else:
        for word in ("abstract", "sealed"):
            if word in n - o:
                reasons.append(("breaking", f"became {word}"))
    for word in ("abstract", "sealed"):
        if word in o - n:
            reasons.append(("additive", f"no longer {word}"))
    if "ref" in n - o:
        reasons.append(("breaking", "became a ref struct"))
    elif "ref" in o - n:
        reasons.append(("additive", "no longer a ref struct"))
    if "readonly" in o - n:
        reasons.append(("breaking", "no longer a readonly struct"))
    elif "readonly" in n - o:
        reasons.append(("additive", "became a readonly struct"))
    return reasons


def overridable(mods: set[str]) -> bool:
    return bool(mods & {"virtual", "abstract", "override"}) and "sealed" not in mods


def param_reasons(old: tuple[Param, ...], new: tuple[Param, ...], types_in_key: bool) -> list[Reason]:
    """Differences between two parameter lists (types only when they are not part of the identity)."""
    reasons: list[Reason] = []
    if len(old) != len(new):
        return [("breaking", f"parameters changed from ({param_list(old)}) to ({param_list(new)})")]
    for i, (o, n) in enumerate(zip(old, new, strict=True), 1):
        label = f"parameter {o.name or i}"
        if not types_in_key and not same_type(o.type, n.type):
            reasons.append(("breaking", f"{label} type changed from {type_text(o.type)} to {type_text(n.type)}"))
        if o.modifier != n.modifier:
            if o.modifier == "" and n.modifier == "params":
                reasons.append(("additive", f"{label} became params"))
            else:
                reasons.append(("breaking", f"{label} modifier changed from {o.modifier or '(none)'} to "
                                            f"{n.modifier or '(none)'}"))
        if o.this != n.this:
            reasons.append(("additive", "became an extension method") if n.this
                           else ("breaking", "no longer an extension method"))
        if o.name != n.name:
            reasons.append(("breaking", f"parameter {o.name or i} renamed to {n.name or '(unnamed)'} "
                                        f"(breaks callers using named arguments)"))
        old_default = o.default if o.default is not None else ("[Optional]" if o.optional else None)
        new_default = n.default if n.default is not None else ("[Optional]" if n.optional else None)
        if old_default is None and new_default is not None:
            reasons.append(("additive", f"parameter {n.name or i} got a default value"))
        elif old_default is not None and new_default is None:
            reasons.append(("breaking", f"parameter {o.name or i} lost its default value"))
        elif old_default != new_default:
            reasons.append(("breaking", f"default of parameter {o.name or i} changed from {old_default} to "
                                        f"{new_default} (compiled callers keep passing the old value)"))
    return reasons


def param_list(params: tuple[Param, ...]) -> str:
    return ", ".join((p.modifier + " " if p.modifier in ("ref", "out", "in") else "") + render_type(p.type)
                     for p in params)


def signature_reason(o: Member, n: Member) -> str:
    if o.kind != n.kind:
        return f"{o.kind} replaced by {n.kind}"
    if len(o.generic_params) != len(n.generic_params):
        return f"generic parameters changed from {len(o.generic_params)} to {len(n.generic_params)}"
    if len(o.params) != len(n.params) or o.varargs != n.varargs:
        return f"parameters changed from ({param_list(o.params)}) to ({param_list(n.params)})"
    diffs = []
    for i, (a, b) in enumerate(zip(o.params, n.params, strict=True), 1):
        if a.key() != b.key():
            diffs.append(f"parameter {a.name or i} type changed from {param_list((a,))} to {param_list((b,))}")
    if o.kind == "method" and not same_type(o.type, n.type):
        diffs.append(f"return type changed from {type_text(o.type)} to {type_text(n.type)}")
    return "; ".join(diffs) or "signature changed"


def generic_reasons(old: tuple[GenericParamDecl, ...], new: tuple[GenericParamDecl, ...]) -> list[Reason]:
    reasons: list[Reason] = []
    if len(old) != len(new):
        return reasons  # a different arity is a different identity: never compared here
    for o, n in zip(old, new, strict=True):
        if o.variance != n.variance:
            reasons.append(("breaking", f"variance of {n.name} changed from {o.variance or 'invariant'} to "
                                        f"{n.variance or 'invariant'}"))
        old_items, new_items = set(o.constraint_items(key=True)), set(n.constraint_items(key=True))
        for item in sorted(new_items - old_items):
            reasons.append(("breaking", f"constraint {item} added to {n.name}"))
        for item in sorted(old_items - new_items):
            reasons.append(("additive", f"constraint {item} removed from {o.name}"))
    return reasons


def accessor_reasons(o: Member, n: Member) -> list[Reason]:
    if o.kind != "property" or n.kind != "property":
        return []
    reasons: list[Reason] = []
    old_acc = {a.name: a.visibility for a in o.accessors}
    new_acc = {a.name: a.visibility for a in n.accessors}
    old_setter = "set" if "set" in old_acc else "init" if "init" in old_acc else None
    new_setter = "set" if "set" in new_acc else "init" if "init" in new_acc else None
    for name, before, after in (("get", "get" in old_acc and "get", "get" in new_acc and "get"),
                                ("setter", old_setter, new_setter)):
        if before and not after:
            reasons.append(("breaking", f"{name} accessor removed"))
        elif after and not before:
            reasons.append(("additive", f"{name} accessor added"))
        elif before and after:
            if before == "set" and after == "init":
                reasons.append(("breaking", "setter became init-only"))
            elif before == "init" and after == "set":
                reasons.append(("additive", "init-only setter became a setter"))
            for level, text in visibility_reasons(old_acc[before], new_acc[after]):
                reasons.append((level, f"{name} accessor {text}"))
    return reasons


def obsolete_reasons(old: Obsolete | None, new: Obsolete | None) -> list[Reason]:
    if old == new:
        return []
    if new is not None and new.error and (old is None or not old.error):
        return [("breaking", "marked [Obsolete] as an error (callers no longer compile)")]
    if old is None:
        return [("additive", "marked [Obsolete]")]
    if new is None:
        return [("additive", "no longer [Obsolete]")]
    if old.error and not new.error:
        return [("additive", "[Obsolete] is no longer an error")]
    return [("none", "[Obsolete] message changed")]
