"""Release-notes Markdown: grouped by kind, stable order, safe code spans."""

from __future__ import annotations

from b2release.apicompat import check_compatibility, parse_api_text, render_changes, render_markdown
from b2release.apicompat.notes import code

OLD = parse_api_text("""assembly Enventa.Connector
type public class N.Client : object
member N.Client: public Client()
member N.Client: public void Remove(int id)
member N.Client: public int Count(string filter)
type public enum N.Status : int
member N.Status: public const N.Status Closed = 2
""")
NEW = parse_api_text("""assembly Enventa.Connector
type public class N.Client : object
member N.Client: public Client()
member N.Client: public long Count(string filter)
member N.Client: public void Refresh()
member N.Client: public override string ToString()
type public enum N.Status : int
member N.Status: public const N.Status Closed = 3
""")


def test_markdown_groups_by_kind_in_stable_order():
    report = check_compatibility([OLD], "1.4.0", [NEW], "1.5.0")
    text = render_markdown(report)
    assert text == render_markdown(check_compatibility([OLD], "1.4.0", [NEW], "1.5.0"))
    assert text.startswith("## API changes 1.4.0 → 1.5.0\n\nVersion check FAILED: ")
    breaking = text.index("### Breaking changes (3)")
    additive = text.index("### Additions (1)")
    other = text.index("### Changes without version impact (1)")
    assert breaking < additive < other
    section = text[breaking:additive]
    assert section.index("`N.Client.Count(string)`") < section.index("`N.Client.Remove(int)`") < section.index(
        "`N.Status.Closed`")
    assert "- `N.Client.Remove(int)`: removed, method removed.\n  - before: `public void Remove(int id)`\n" in text
    assert ("- `N.Status.Closed`: changed, constant value changed from 2 to 3.\n"
            "  - before: `public const N.Status Closed = 2`\n  - after: `public const N.Status Closed = 3`\n") in text
    assert "- `N.Client.Refresh()`: added, new method.\n  - after: `public void Refresh()`\n" in text


def test_no_changes():
    assert render_changes([]) == "No public API changes.\n"
    report = check_compatibility([OLD], "1.4.0", [OLD], "1.4.1")
    assert "Version check passed" in render_markdown(report) and "No public API changes." in render_markdown(report)


def test_code_spans_with_backticks():
    assert code("plain") == "`plain`"
    assert code("Box`1") == "`` Box`1 ``"
    assert code("a``b") == "``` a``b ```"


def test_assembly_named_when_several_assemblies_change():
    other_old = parse_api_text("assembly Other\ntype public class O.A : object\n")
    other_new = parse_api_text("assembly Other\n")
    text = render_changes(check_compatibility([OLD, other_old], "1.0.0", [NEW, other_new], "2.0.0").changes)
    assert "- `O.A` in Other: removed, class removed." in text
