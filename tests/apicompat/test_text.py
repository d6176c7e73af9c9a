"""The canonical text reads back into the same model: render(parse(text)) == text."""

from __future__ import annotations

import pytest

from b2release.apicompat import load_api_dir, parse_api_text, read_assembly, write_api_files
from b2release.apicompat.surface import ApiSurface, Member, Param, TypeDecl
from b2release.apicompat.typeexpr import named
from b2release.errors import InputError

from .conftest import require_framework


def assert_round_trip(surface: ApiSurface) -> None:
    text = surface.to_text()
    back = parse_api_text(text)
    assert back.to_text() == text
    assert set(back.types) == set(surface.types)
    assert set(back.members) == set(surface.members)
    assert set(back.forwarders) == set(surface.forwarders)


@pytest.mark.mono
def test_fixture_libraries_round_trip(rendering_dll, modifiers_dll):
    assert_round_trip(read_assembly(rendering_dll).surface)
    assert_round_trip(read_assembly(modifiers_dll).surface)


@pytest.mark.parametrize("name", ["mscorlib.dll", "System.Core.dll", "System.Xml.dll"])
def test_framework_assemblies_round_trip(name):
    """Large real metadata: every line Mono's framework produces parses back to the same model."""
    framework = require_framework()
    assert_round_trip(read_assembly(framework / name).surface)


@pytest.mark.mono
def test_two_builds_of_the_same_source_give_identical_text(connector_builds):
    first = read_assembly(connector_builds["v1"]).surface.to_text().encode()
    second = read_assembly(connector_builds["unchanged"]).surface.to_text().encode()
    assert first == second


@pytest.mark.mono
def test_write_and_load_api_dir(connector_builds, rendering_dll, tmp_path):
    surfaces = [read_assembly(connector_builds["v1"]).surface, read_assembly(rendering_dll).surface]
    api = tmp_path / "api"
    api.mkdir()
    (api / "Stale.api.txt").write_text("assembly Stale\n", encoding="utf-8")
    written = write_api_files(surfaces, api)
    assert sorted(p.name for p in written) == ["Enventa.Connector.api.txt", "Rendering.api.txt"]
    assert not (api / "Stale.api.txt").exists()  # pruned: a stale file would hide a removed assembly
    raw = (api / "Rendering.api.txt").read_bytes()
    assert b"\r\n" not in raw and raw.endswith(b"\n")
    loaded = load_api_dir(api)
    assert sorted(loaded) == ["Enventa.Connector", "Rendering"]
    assert loaded["Rendering"].to_text() == surfaces[1].to_text()


@pytest.mark.parametrize("text, needle", [
    ("type public class A : object\n", "first line must be `assembly"),
    ("assembly A\nassembly B\n", "second assembly"),
    ("assembly A\nmember A: publik void M()\n", ":2: expected public or protected"),
    ("assembly A\nmember A: public void M(int x\n", ":2:"),
    ("assembly A\nmember A: public void M() trailing\n", ":2: unexpected text"),
    ("assembly A\ntype public gizmo A\n", ":2: expected a type kind"),
    ("assembly A\nsomething else\n", ":2: unknown line kind"),
    ("assembly A\nmember A: public string S = \"open\n", ":2: unterminated"),
    ("", "no `assembly <name>` line"),
])
def test_malformed_text_is_an_input_error_with_file_and_line(text, needle):
    with pytest.raises(InputError) as info:
        parse_api_text(text, "old/api/A.api.txt")
    assert "old/api/A.api.txt" in info.value.message
    assert needle in info.value.message


def test_bom_and_crlf_from_a_windows_checkout_are_accepted(tmp_path):
    (tmp_path / "A.api.txt").write_bytes(b"\xef\xbb\xbfassembly A\r\ntype public class A : object\r\n")
    assert [t.display_name for t in load_api_dir(tmp_path)["A"].types] == ["A"]


def test_comments_and_blank_lines_are_ignored():
    surface = parse_api_text("# generated\nassembly A\n\ntype public class A : object\n")
    assert [t.display_name for t in surface.types] == ["A"]


def test_api_file_that_is_not_utf8(tmp_path):
    (tmp_path / "A.api.txt").write_bytes(b"assembly A\n\xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_api_dir(tmp_path)


def test_odd_names_are_quoted_and_read_back():
    owner = named("Weird.Name Space.Type")
    member = Member(owner, "method", "do it", "public", (), named("System.Void"),
                    params=(Param("in", named("class")), Param("x\ty", named("System.Int32")),
                            Param("", named("Ns.\udcff")), Param("'q'", named("System.String"), default='"\\u0001"')))
    assert member.render() == ("member Weird.'Name Space'.Type: public void 'do it'('class' 'in', int 'x\\ty', "
                               "Ns.'\\udcff', string '\\'q\\'' = \"\\u0001\")")
    surface = ApiSurface("A", (TypeDecl(owner, "class", "public"),), (member,))
    assert_round_trip(surface)
