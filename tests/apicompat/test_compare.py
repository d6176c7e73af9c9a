"""Classifying API changes and the semver verdict.

The first part builds the connector with each kind of change (conftest.CONNECTOR_VARIANTS)
and compares real assemblies; the second works from API text alone (what a previous
release ships) to pin down the finer rules.
"""

from __future__ import annotations

import shutil

import pytest

from b2release.apicompat import (
    check_compatibility,
    compare_surfaces,
    load_api_dir,
    parse_api_text,
    read_assembly,
    write_api_files,
)
from b2release.errors import CheckFailed, InputError, UsageError

C = "member Enventa.Connector.Client: "
# variant: (kind, change, target, before, after, words in the reason)
EXPECTED = {
    "removed_method": ("breaking", "removed", "Enventa.Connector.Client.Remove(int)",
                       C + "public void Remove(int id)", None, "method removed"),
    "changed_parameter_type": ("breaking", "changed", "Enventa.Connector.Client.Get(long)",
                               C + "public Enventa.Connector.Order Get(int id)",
                               C + "public Enventa.Connector.Order Get(long id)",
                               "parameter id type changed from int to long"),
    "changed_return_type": ("breaking", "changed", "Enventa.Connector.Client.Count(string)",
                            C + "public int Count(string filter)", C + "public long Count(string filter)",
                            "return type changed from int to long"),
    "changed_enum_value": ("breaking", "changed", "Enventa.Connector.Status.Closed",
                           "member Enventa.Connector.Status: public const Enventa.Connector.Status Closed = 2",
                           "member Enventa.Connector.Status: public const Enventa.Connector.Status Closed = 3",
                           "constant value changed from 2 to 3"),
    "new_interface_member": ("breaking", "added", "Enventa.Connector.IOrderSource.Reset()", None,
                             "member Enventa.Connector.IOrderSource: public void Reset()", "new member on an interface"),
    "reduced_visibility": ("breaking", "changed", "Enventa.Connector.Client.Refresh()",
                           C + "public virtual void Refresh()", C + "protected virtual void Refresh()",
                           "visibility reduced from public to protected"),
    "new_public_class": ("additive", "added", "Enventa.Connector.Invoice", None,
                         "type public class Enventa.Connector.Invoice : object", "new class"),
    "sealed_added": ("breaking", "changed", "Enventa.Connector.Helper", "type public class Enventa.Connector.Helper : object",
                     "type public sealed class Enventa.Connector.Helper : object", "became sealed"),
    "base_interface_removed": ("breaking", "changed", "Enventa.Connector.Client",
                               "type public class Enventa.Connector.Client : object, System.IDisposable",
                               "type public class Enventa.Connector.Client : object",
                               "no longer implements System.IDisposable"),
}


@pytest.fixture(scope="module")
def surfaces(connector_builds):
    return {name: read_assembly(path).surface for name, path in connector_builds.items()}


@pytest.mark.mono
@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_each_kind_of_change_is_classified(surfaces, variant):
    kind, change, target, before, after, reason = EXPECTED[variant]
    changes = compare_surfaces([surfaces["v1"]], [surfaces[variant]])
    assert len(changes) == 1, changes
    got = changes[0]
    assert (got.kind, got.change, got.assembly, got.target) == (kind, change, "Enventa.Connector", target)
    assert (got.before, got.after) == (before, after)
    assert reason in got.reason


@pytest.mark.mono
def test_unchanged_build_has_no_changes(surfaces):
    assert compare_surfaces([surfaces["v1"]], [surfaces["unchanged"]]) == []


@pytest.mark.mono
@pytest.mark.parametrize("variant, old, new, ok, required", [
    ("removed_method", "1.4.0", "1.5.0", False, "major"),
    ("removed_method", "1.4.0", "2.0.0", True, "major"),
    ("removed_method", "0.3.0", "0.4.0", True, "minor"),  # 0.y.z: breaking needs a minor bump
    ("removed_method", "0.3.0", "0.3.1", False, "minor"),
    ("new_public_class", "1.4.0", "1.4.1", False, "minor"),
    ("new_public_class", "1.4.0", "1.5.0", True, "minor"),
    ("unchanged", "1.4.0", "1.4.1", True, "patch"),
    ("unchanged", "1.4.0", "1.4.0", False, "patch"),  # the version must go up
    ("changed_enum_value", "1.4.0", "2.0.0-rc.1", True, "major"),
])
def test_semver_verdicts(surfaces, variant, old, new, ok, required):
    report = check_compatibility([surfaces["v1"]], old, [surfaces[variant]], new)
    assert (report.ok, report.required_bump) == (ok, required), report.message
    if ok:
        report.raise_if_failed()
    else:
        with pytest.raises(CheckFailed):
            report.raise_if_failed()


@pytest.mark.mono
def test_failed_verdict_says_what_is_needed(surfaces):
    report = check_compatibility([surfaces["v1"]], "1.4.0", [surfaces["removed_method"]], "1.5.0")
    assert report.level == "breaking" and report.actual_bump == "minor"
    assert "need a major bump (at least 2.0.0)" in report.message


@pytest.mark.mono
def test_compare_from_api_files_alone(connector_builds, tmp_path):
    """A previous release ships only api/*.api.txt; its binaries are gone."""
    old_build = tmp_path / "old-build"
    shutil.copytree(connector_builds["v1"].parent, old_build)
    write_api_files([read_assembly(old_build / "Enventa.Connector.dll").surface], tmp_path / "release-1.4.0" / "api")
    shutil.rmtree(old_build)
    old = load_api_dir(tmp_path / "release-1.4.0" / "api")
    new = [read_assembly(connector_builds["changed_return_type"]).surface]
    report = check_compatibility(old, "1.4.0", new, "2.0.0")
    assert report.ok and [c.target for c in report.changes] == ["Enventa.Connector.Client.Count(string)"]


# --- rules, from text -----------------------------------------------------------------------

def changes_between(old_lines: str, new_lines: str, assembly: str = "A"):
    old = parse_api_text(f"assembly {assembly}\n{old_lines}")
    new = parse_api_text(f"assembly {assembly}\n{new_lines}")
    return compare_surfaces([old], [new])


def one_change(old_lines: str, new_lines: str):
    changes = changes_between(old_lines, new_lines)
    assert len(changes) == 1, changes
    return changes[0]


BASE = """type public abstract class N.Base : object
member N.Base: protected Base()
member N.Base: public virtual void Run(int times)
member N.Base: public abstract int Size { get; }
type public class N.Derived : N.Base, System.IDisposable
member N.Derived: public Derived()
member N.Derived: public override void Run(int times)
member N.Derived: public void Dispose()
member N.Derived: public void Send(string text, int retries = 3)
member N.Derived: public int Count { get; set; }
member N.Derived: public T Get<T>(string key) where T : class
type public abstract class N.Closed : object
member N.Closed: public abstract void Work()
type public interface N.IThing
member N.IThing: public void Do()
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


@pytest.mark.parametrize("old, new, kind, reason", [
    ("member N.Base: public virtual void Run(int times)\n",
     "member N.Base: public virtual void Run(int times)\nmember N.Base: public abstract void Stop()\n",
     "breaking", "new abstract member on a class others can derive from"),
    ("member N.Closed: public abstract void Work()\n",  # no visible constructor: nobody else can derive
     "member N.Closed: public abstract void Work()\nmember N.Closed: public abstract void Rest()\n",
     "additive", "new method"),
    ("member N.Derived: public override void Run(int times)\n", "",
     "none", "override removed"),
    ("member N.Derived: public void Dispose()\n",
     "member N.Derived: public void Dispose()\nmember N.Derived: public override string ToString()\n",
     "none", "override added"),
    ("public int Count { get; set; }", "public int Count { get; }", "breaking", "setter accessor removed"),
    ("public int Count { get; set; }", "public int Count { get; protected set; }", "breaking",
     "setter accessor visibility reduced from public to protected"),
    ("public int Count { get; set; }", "public int Count { get; init; }", "breaking", "setter became init-only"),
    ("public void Send(string text, int retries = 3)", "public void Send(string text, int retries = 5)",
     "breaking", "default of parameter retries changed from 3 to 5"),
    ("public void Send(string text, int retries = 3)", "public void Send(string message, int retries = 3)",
     "breaking", "parameter text renamed to message"),
    ("public void Send(string text, int retries = 3)", "public void Send(string text, int retries)",
     "breaking", "parameter retries lost its default value"),
    ("public void Send(string text, int retries = 3)", "public void Send(string text = null, int retries = 3)",
     "additive", "parameter text got a default value"),
    ("public T Get<T>(string key) where T : class", "public TValue Get<TValue>(string key) where TValue : class",
     "none", "only generic parameter names changed"),
    ("public T Get<T>(string key) where T : class", "public T Get<T>(string key) where T : class, new()",
     "breaking", "constraint new() added to T"),
    ("public T Get<T>(string key) where T : class", "public T Get<T>(string key)",
     "additive", "constraint class removed from T"),
    ("member N.Derived: public void Dispose()", "member N.Derived: [Obsolete(\"use Close\")] public void Dispose()",
     "additive", "marked [Obsolete]"),
    ("member N.Derived: public void Dispose()", "member N.Derived: [Obsolete(\"gone\", true)] public void Dispose()",
     "breaking", "marked [Obsolete] as an error"),
    ("member N.Derived: public void Dispose()", "member N.Derived: public static void Dispose()",
     "breaking", "became static"),
    ("member N.Base: public virtual void Run(int times)", "member N.Base: public void Run(int times)",
     "breaking", "no longer overridable"),
    ("member N.Base: protected Base()", "member N.Base: public Base()", "additive",
     "visibility widened from protected to public"),
    ("type public abstract class N.Closed : object", "type public static class N.Closed : object",
     "breaking", "became static"),
    ("type public abstract class N.Closed : object", "type public class N.Closed : object",
     "additive", "no longer abstract"),
    ("type public interface N.IThing", "type public interface N.IThing : System.IDisposable",
     "additive", "now implements System.IDisposable"),
])
def test_rules(old, new, kind, reason):
    change = one_change(BASE, edit(BASE, old, new))
    assert change.kind == kind and reason in change.reason, change


def test_removed_type_reports_only_the_type():
    text = BASE + "type public class N.Gone : object\nmember N.Gone: public Gone()\nmember N.Gone: public void M()\n" \
                  "type public class N.Gone+Inner : object\n"
    change = one_change(text, BASE)
    assert (change.kind, change.change, change.target, change.reason) == ("breaking", "removed", "N.Gone", "class removed")


def test_new_type_reports_only_the_type():
    change = one_change(BASE, BASE + "type public class N.New : object\nmember N.New: public New()\n")
    assert (change.kind, change.change, change.target) == ("additive", "added", "N.New")


def test_member_moved_to_base_type_is_not_breaking():
    old = BASE + "member N.Derived: public void Reset()\n"
    new = BASE + "member N.Base: public void Reset()\n"
    changes = changes_between(old, new)
    assert [(c.kind, c.change, c.target) for c in changes] == [
        ("additive", "added", "N.Base.Reset()"), ("none", "removed", "N.Derived.Reset()")]
    assert "moved to base type N.Base" in changes[1].reason


def test_interface_still_implemented_through_base_is_not_breaking():
    old = BASE.replace("type public abstract class N.Base : object", "type public abstract class N.Base : object, N.IThing")
    old = old.replace("N.Derived : N.Base, System.IDisposable", "N.Derived : N.Base, N.IThing, System.IDisposable")
    new = old.replace("N.Derived : N.Base, N.IThing, System.IDisposable", "N.Derived : N.Base, System.IDisposable")
    change = one_change(old, new)
    assert change.kind == "none" and "still implemented through a base" in change.reason


def test_base_type_inserted_into_hierarchy_is_not_breaking():
    old = BASE
    new = BASE.replace("N.Derived : N.Base,", "N.Derived : N.Middle,") + "type public abstract class N.Middle : N.Base\n" \
                                                                       "member N.Middle: protected Middle()\n"
    kinds = {(c.target, c.kind) for c in changes_between(old, new)}
    assert kinds == {("N.Derived", "additive"), ("N.Middle", "additive")}


def test_changed_base_type_is_breaking():
    change = one_change(BASE, BASE.replace("N.Derived : N.Base,", "N.Derived : object,"))
    assert change.kind == "breaking" and "base type changed from N.Base to object" in change.reason


def test_type_forwarded_to_another_assembly_is_not_breaking():
    old = parse_api_text("assembly A\ntype public class N.Moved : object\nmember N.Moved: public Moved()\n")
    new_a = parse_api_text("assembly A\nforward N.Moved => B\n")
    new_b = parse_api_text("assembly B\ntype public class N.Moved : object\nmember N.Moved: public Moved()\n")
    changes = compare_surfaces([old], [new_a, new_b])
    assert [(c.assembly, c.kind, c.change) for c in changes] == [("A", "none", "removed"), ("B", "additive", "added")]
    assert changes[0].reason == "forwarded to assembly B"


def test_assemblies_added_and_removed():
    a = parse_api_text("assembly A\n")
    b = parse_api_text("assembly B\n")
    changes = compare_surfaces({"A": a}, {"B": b})
    assert [(c.assembly, c.kind, c.change) for c in changes] == [("A", "breaking", "removed"), ("B", "additive", "added")]


def test_overloads_are_matched_by_parameter_types():
    old = BASE + "member N.Derived: public void Log(int x)\nmember N.Derived: public void Log(string x)\n"
    new = BASE + "member N.Derived: public void Log(int x)\nmember N.Derived: public void Log(object x)\n"
    # Log(int) is untouched; the one overload that went and the one that came are a change.
    change = one_change(old, new)
    assert (change.kind, change.change, change.target) == ("breaking", "changed", "N.Derived.Log(object)")
    assert change.before.endswith("Log(string x)") and change.after.endswith("Log(object x)")
    assert "parameter x type changed from string to object" in change.reason


def test_several_changed_overloads_are_not_guessed():
    old = BASE + "member N.Derived: public void Log(int x)\nmember N.Derived: public void Log(string x)\n"
    new = BASE + "member N.Derived: public void Log(long x)\nmember N.Derived: public void Log(object x)\n"
    changes = changes_between(old, new)
    assert [(c.kind, c.change, c.target) for c in changes] == [
        ("breaking", "removed", "N.Derived.Log(int)"), ("breaking", "removed", "N.Derived.Log(string)"),
        ("additive", "added", "N.Derived.Log(long)"), ("additive", "added", "N.Derived.Log(object)")]


def test_ref_to_out_is_a_changed_member():
    old = BASE + "member N.Derived: public void Fill(ref int x)\n"
    new = BASE + "member N.Derived: public void Fill(out int x)\n"
    change = one_change(old, new)
    assert change.kind == "breaking" and "modifier changed from ref to out" in change.reason


def test_bad_versions_and_duplicate_surfaces():
    a = parse_api_text("assembly A\n")
    with pytest.raises(UsageError, match="not a semantic version"):
        check_compatibility([a], "1.4", [a], "1.5.0")
    with pytest.raises(InputError, match="two API surfaces"):
        compare_surfaces([a, a], [a])


def test_changes_come_in_a_stable_order():
    old = BASE
    new = (BASE.replace("member N.Derived: public void Dispose()\n", "")
           .replace("public int Count { get; set; }", "public long Count { get; set; }")
           + "type public class N.Alpha : object\n")
    first = changes_between(old, new)
    again = changes_between(old, new)
    assert first == again
    assert [c.kind for c in first] == ["breaking", "breaking", "additive"]
    assert [c.target for c in first] == ["N.Derived.Count", "N.Derived.Dispose()", "N.Alpha"]
