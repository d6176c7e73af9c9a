import pytest

from b2release.toolchains import discovery, stamping
from tests.fixtures.build import SAMPLE, tree_digest


def test_versions_from_semver():
    v = stamping.Versions.from_semver("2.10.3-beta.1+sha.abc")
    assert (v.numeric, v.semver) == ("2.10.3.0", "2.10.3-beta.1+sha.abc")
    assert dict(v.properties())["InformationalVersion"] == "2.10.3-beta.1+sha.abc"


@pytest.mark.parametrize(
    "version,problem",
    [("1.2.3", None), ("70000.0.0", "major part 70000 exceeds 65534, the largest AssemblyVersion part")],
)
def test_numeric_range(version, problem):
    assert stamping.numeric_range_problem(version) == problem


def test_blanking_keeps_lines_and_other_attributes():
    src = (
        '[assembly: AssemblyTitle("X")]\n'
        '[assembly: AssemblyVersion("1.0.*")]\n'
        '[assembly:System.Reflection.AssemblyFileVersionAttribute( "1.0.0.0" )]\n'
        '[assembly: AssemblyInformationalVersion("1.0 (\\"dev\\")")]\n'
    )
    out, count = stamping.blank_version_attributes(src)
    assert count == 3
    assert out.count("\n") == src.count("\n")
    assert '[assembly: AssemblyTitle("X")]' in out
    assert "Version(" not in out


def test_copy_is_stamped_and_the_original_untouched(tmp_path):
    before = tree_digest(SAMPLE)
    build = discovery.inspect(SAMPLE / "Enventa.Connector.sln")
    entry = stamping.make_copy(build, tmp_path / "copy", exclude=[])
    changed = stamping.stamp_classic_projects(build, tmp_path / "copy", stamping.Versions.from_semver("3.1.4"))
    assert entry == tmp_path / "copy" / "Enventa.Connector.sln"
    assert "src/Enventa.Connector/Properties/AssemblyInfo.cs" in changed
    lib = tmp_path / "copy" / "src" / "Enventa.Connector"
    generated = (lib / stamping.GENERATED_NAME).read_text()
    assert 'AssemblyVersion("3.1.4.0")' in generated and 'AssemblyInformationalVersion("3.1.4")' in generated
    assert f'<Compile Include="{stamping.GENERATED_NAME}" />' in (lib / "Enventa.Connector.csproj").read_text()
    assert 'AssemblyVersion("0.0.0.0")' not in (lib / "Properties" / "AssemblyInfo.cs").read_text()
    assert tree_digest(SAMPLE) == before
