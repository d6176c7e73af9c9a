"""Public-API gate for .NET assemblies: extract, compare, judge the semantic version.

    api = read_assembly("bin/Release/Enventa.Connector.dll")      # AssemblyApi
    write_api_files([api.surface], "dist/api")                     # api/Enventa.Connector.api.txt
    report = check_compatibility(load_api_dir("old/api"), "1.4.0",
                                 {api.surface.assembly: api.surface}, "1.5.0")
    report.ok, report.required_bump, render_markdown(report)

Modules: signatures (signature blob decoding), literals (constants and attribute values),
metadata (tables via dnfile), names (row -> name, type, attribute lookups), members
(fields, methods, properties, events), extract (file -> surface); lexical (keywords,
quoting, escapes), typeexpr (type trees and their text), surface (declarations + canonical
text); lexer, grammar and parse (text -> model); compare (matching and classifying
changes), rules (per-field change levels), versions (semver rule), notes (Markdown), files
(api/ folders). docs/compat.md has the text format and the rules.
"""

from __future__ import annotations

from .compare import ApiChange, CompatReport, check_compatibility, compare_surfaces
from .extract import NOT_DOTNET, AssemblyApi, StampedVersion, read_assembly, stamped_version
from .files import find_assemblies, load_api_dir, read_assemblies, surfaces_of, write_api_files
from .notes import render_changes, render_markdown
from .parse import load_api_file, parse_api_text
from .surface import ApiSurface, Member, TypeDecl
from .versions import Version, actual_bump, required_bump

__all__ = [
    "NOT_DOTNET",
    "ApiChange",
    "ApiSurface",
    "AssemblyApi",
    "CompatReport",
    "StampedVersion",
    "Member",
    "TypeDecl",
    "Version",
    "actual_bump",
    "check_compatibility",
    "compare_surfaces",
    "find_assemblies",
    "load_api_dir",
    "load_api_file",
    "parse_api_text",
    "read_assemblies",
    "read_assembly",
    "stamped_version",
    "render_changes",
    "render_markdown",
    "required_bump",
    "surfaces_of",
    "write_api_files",
]
