"""msbuild / dotnet / xbuild command lines: properties, escaping, deterministic flags, secrets."""

from pathlib import Path

import pytest

from b2release.errors import UsageError
from b2release.toolchains import BuildSpec, escape_value, get, parse_property, render_command
from b2release.toolchains.stamping import Versions

ROOT = Path("/tmp/b2r/src")


def spec(**kw) -> BuildSpec:
    base = dict(
        project=ROOT / "Enventa.Connector.sln",
        configuration="Release",
        version_properties=Versions.from_semver("1.4.0-rc.2+build.7").properties(),
        out_dir=Path("/tmp/b2r/out"),
        path_map_root=ROOT,
        properties=[],
    )
    base.update(kw)
    return BuildSpec(**base)


def props(argv: list[str], prefix: str) -> dict[str, str]:
    out = {}
    for arg in argv:
        if arg.startswith(prefix):
            name, _, value = arg[len(prefix):].partition("=")
            out[name] = value
    return out


def test_msbuild_command_line():
    argv = get("msbuild", "/opt/msbuild").command(spec())
    assert argv[:2] == ["/opt/msbuild", str(ROOT / "Enventa.Connector.sln")]
    assert "-nologo" in argv and "-nodeReuse:false" in argv and "-restore" not in argv
    p = props(argv, "-p:")
    assert p["Configuration"] == "Release"
    assert p["Deterministic"] == "true"
    assert p["ContinuousIntegrationBuild"] == "true"
    assert p["PathMap"] == "/tmp/b2r/src/=/_/"
    assert p["OutDir"] == "/tmp/b2r/out/"
    assert p["Version"] == "1.4.0-rc.2+build.7"
    assert p["AssemblyVersion"] == "1.4.0.0"
    assert p["FileVersion"] == "1.4.0.0"
    assert p["InformationalVersion"] == "1.4.0-rc.2+build.7"
    assert "TreatWarningsAsErrors" not in p


def test_msbuild_sdk_style_restores_and_warnings_as_errors():
    argv = get("msbuild", "msbuild").command(spec(sdk_style=True, warnings_as_errors=True))
    assert "-restore" in argv
    assert props(argv, "-p:")["TreatWarningsAsErrors"] == "true"


def test_dotnet_command_line():
    argv = get("dotnet", "/usr/bin/dotnet").command(spec(configuration="Staging", sdk_style=True))
    assert argv[:3] == ["/usr/bin/dotnet", "build", str(ROOT / "Enventa.Connector.sln")]
    assert argv[argv.index("-c") + 1] == "Staging"
    p = props(argv, "-p:")
    assert "Configuration" not in p  # given once, with -c
    assert p["Deterministic"] == "true" and p["ContinuousIntegrationBuild"] == "true"
    assert p["PathMap"] == "/tmp/b2r/src/=/_/"
    assert p["Version"] == "1.4.0-rc.2+build.7" and p["AssemblyVersion"] == "1.4.0.0"
    assert p["IncludeSourceRevisionInInformationalVersion"] == "false"


def test_windows_path_map_keeps_backslashes():
    argv = get("msbuild", "MSBuild.exe").command(spec(path_map_root=Path(r"C:\Temp\b2r\src")))
    assert props(argv, "-p:")["PathMap"] == "C:\\Temp\\b2r\\src\\=/_/"


@pytest.mark.parametrize("tool,prefix", [("msbuild", "-p:"), ("dotnet", "-p:"), ("xbuild", "/p:")])
def test_extra_properties_are_escaped_and_come_last(tool, prefix):
    extra = [("Company", "B2Connect GmbH & Co. KG"), ("DefineConstants", "TRACE;RELEASE_BUILD"),
             ("NoWarn", "CS1591,CS0618"), ("Odd", '50% "quoted"')]
    argv = get(tool, tool).command(spec(properties=extra))
    tail = argv[-4:]
    assert tail == [
        f"{prefix}Company=B2Connect GmbH & Co. KG",  # one argv element: spaces need no quoting
        f"{prefix}DefineConstants=TRACE%3BRELEASE_BUILD",
        f"{prefix}NoWarn=CS1591%2CCS0618",
        f"{prefix}Odd=50%25 %22quoted%22",
    ]
    # A user property given twice wins by coming after ours (MSBuild: last one wins).
    argv = get(tool, tool).command(spec(properties=[("Deterministic", "false")]))
    assert argv[-1] == f"{prefix}Deterministic=false"


def test_escape_round_trip_characters():
    assert escape_value("a;b,c%d\"e f") == "a%3Bb%2Cc%25d%22e f"


def test_rendered_command_quotes_spaces_and_masks_secrets():
    argv = get("msbuild", "msbuild").command(
        spec(properties=[("Company", "B2Connect GmbH"), ("SigningPassword", "hunter2;x")])
    )
    shown = render_command(argv, ["hunter2;x"])
    assert "'-p:Company=B2Connect GmbH'" in shown
    assert "hunter2" not in shown and "hunter2%3Bx" not in shown
    assert "-p:SigningPassword=***" in shown


def test_xbuild_passes_the_pathmap_in_a_response_file():
    from b2release.toolchains.xbuild import response_file_text

    s = spec(response_file=Path("/tmp/b2r/b2release.rsp"))
    argv = get("xbuild", "/usr/bin/xbuild").command(s)
    assert argv[:2] == ["/usr/bin/xbuild", str(ROOT / "Enventa.Connector.sln")]
    assert props(argv, "/p:")["CompilerResponseFile"] == "/tmp/b2r/b2release.rsp"
    assert response_file_text(s) == "-pathmap:/tmp/b2r/src/=/_/\n"


@pytest.mark.parametrize("text", ["NoEquals", "=value", "bad name=1", "1abc=2"])
def test_bad_property_is_a_usage_error(text):
    with pytest.raises(UsageError, match="NAME=VALUE"):
        parse_property(text)


def test_reserved_property_is_refused():
    with pytest.raises(UsageError, match="OutDir is set by b2release"):
        parse_property("OutDir=/elsewhere")
    assert parse_property("Foo=a=b") == ("Foo", "a=b")
