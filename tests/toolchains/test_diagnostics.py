from b2release.toolchains.diagnostics import Collector, parse_line

XBUILD_FAILED_OUTPUT = """\
Project "/tmp/b/src/Enventa.Connector.sln" (default target(s)):
\tTarget CoreCompile:
\t\tTool /usr/lib/mono/4.5/mcs.exe execution started with arguments: /noconfig /out:obj/Release/x.dll
/usr/lib/mono/xbuild/14.0/bin/Microsoft.Common.targets:  warning : \
TargetFrameworkVersion 'v4.8' not supported by this toolset (ToolsVersion: 14.0).
/tmp/b/src/lib/Broken.cs(7,20): error CS0029: Cannot implicitly convert type `string' to `int'
/tmp/b/src/lib/Model.cs(3,13): warning CS0168: The variable `x' is declared but never used
\t\t\tTask "Csc" execution -- FAILED
Build FAILED.
Warnings:
\t/tmp/b/src/lib/Model.cs(3,13): warning CS0168: The variable `x' is declared but never used
Errors:
\t/tmp/b/src/lib/Broken.cs(7,20): error CS0029: Cannot implicitly convert type `string' to `int'
\t 1 Warning(s)
\t 1 Error(s)
"""


def test_xbuild_output_is_parsed_and_deduplicated():
    collector = Collector()
    for line in XBUILD_FAILED_OUTPUT.splitlines():
        collector.feed(line)
    assert [(d.severity, d.code, d.file, d.line, d.column) for d in collector.items] == [
        ("error", "CS0029", "/tmp/b/src/lib/Broken.cs", 7, 20),
        ("warning", "CS0168", "/tmp/b/src/lib/Model.cs", 3, 13),
    ]
    assert collector.errors[0].message == "Cannot implicitly convert type `string' to `int'"


def test_msbuild_canonical_format_with_project_suffix_and_summary_repeat():
    lines = [
        r"C:\src\Foo.cs(10,5): warning CS0168: The variable 'x' is declared but never used [C:\src\Foo.csproj]",
        r"C:\src\Foo.cs(12,1): error CS1002: ; expected [C:\src\Foo.csproj]",
        r"  C:\src\Foo.cs(12,1): error CS1002: ; expected [C:\src\Foo.csproj]",
        "MSBUILD : error MSB1009: Project file does not exist.",
        r"CSC : error CS2001: Source file 'x.cs' could not be found. [C:\p\x.csproj]",
    ]
    c = Collector()
    for line in lines:
        c.feed(line)
    assert len(c.items) == 4
    foo = c.errors[0]
    assert (foo.file, foo.line, foo.column, foo.code) == (r"C:\src\Foo.cs", 12, 1, "CS1002")
    assert foo.project == r"C:\src\Foo.csproj"
    tool_level = c.errors[1]
    assert (tool_level.file, tool_level.code, tool_level.line) == ("", "MSB1009", None)
    assert c.errors[2].code == "CS2001" and c.errors[2].file == ""


def test_progress_and_summary_lines_are_not_diagnostics():
    for line in ["Build FAILED.", "Errors:", "Warnings:", "\t 3 Error(s)", "  Copying error.dll to warning.dll",
                 "Done building project.-- FAILED", ""]:
        assert parse_line(line) is None, line


def test_paths_are_mapped_back():
    d = parse_line("/tmp/copy/src/a.cs(1,2): error CS1: boom", lambda p: p.replace("/tmp/copy/", ""))
    assert d.file == "src/a.cs"
    assert d.canonical() == "src/a.cs(1,2): error CS1: boom"
