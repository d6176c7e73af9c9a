import io
import zipfile

import pytest

from b2release.scanners import licenses as lic

NUSPEC = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    {license}
  </metadata>
</package>
"""


def nuspec(pkg_id, version, license_xml):
    return NUSPEC.format(id=pkg_id, version=version, license=license_xml)


@pytest.mark.parametrize("expression,allow,deny,status", [
    ("MIT", [], [], "allowed"),
    ("MIT", ["MIT", "Apache-2.0"], [], "allowed"),
    ("GPL-3.0-only", [], ["GPL-3.0-only"], "denied"),
    ("GPL-3.0", [], ["GPL-3.0-only"], "denied"),             # deprecated id maps to -only
    ("MIT OR GPL-3.0-only", [], ["GPL-3.0-only"], "allowed"),  # OR: the MIT option complies
    ("MIT AND GPL-3.0-only", [], ["GPL-3.0-only"], "denied"),  # AND: both apply
    ("Apache-2.0", ["MIT"], [], "not-allowed"),
    ("mit", ["MIT"], [], "allowed"),                           # ids are case-insensitive
    ("(MIT OR Apache-2.0) AND BSD-3-Clause", ["Apache-2.0", "BSD-3-Clause"], [], "allowed"),
    ("GPL-2.0-only WITH Classpath-exception-2.0", [], ["GPL-2.0-only"], "denied"),
    ("Made-Up-License", [], [], "unknown"),
])
def test_policy(expression, allow, deny, status):
    assert lic.evaluate(lic.LicenseInfo(expression, "test"), allow, deny).status == status


def test_unknown_when_no_expression():
    v = lic.evaluate(lic.LicenseInfo(None, "nuspec-licenseUrl", "deprecated licenseUrl https://x"), ["MIT"], [])
    assert v.status == "unknown" and "licenseUrl" in v.detail


def test_nuspec_in_packages_folder_next_to_packages_config(tmp_path):
    folder = tmp_path / "packages" / "Newtonsoft.Json.13.0.3"
    folder.mkdir(parents=True)
    (folder / "Newtonsoft.Json.nuspec").write_text(
        nuspec("Newtonsoft.Json", "13.0.3", '<license type="expression">MIT</license>'
               "<licenseUrl>https://licenses.nuget.org/MIT</licenseUrl>"), encoding="utf-8")
    project = tmp_path / "src" / "Lib"
    project.mkdir(parents=True)
    dirs = lic.solution_dirs([project], tmp_path)
    info = lic.nuget_license("Newtonsoft.Json", "13.0.3", dirs, [])
    assert (info.expression, info.source) == ("MIT", "nuspec-expression")


def test_nuspec_inside_nupkg_and_deprecated_license_url(tmp_path):
    folder = tmp_path / "packages" / "Old.Lib.1.0"  # restored with the version as declared
    folder.mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Old.Lib.nuspec", nuspec("Old.Lib", "1.0", "<licenseUrl>https://example.invalid/eula</licenseUrl>"))
    (folder / "Old.Lib.1.0.nupkg").write_bytes(buf.getvalue())
    info = lic.nuget_license("Old.Lib", "1.0.0", [tmp_path], [])
    assert info.expression is None and info.source == "nuspec-licenseUrl"
    assert "https://example.invalid/eula" in info.note


def test_global_packages_folder_and_license_file(tmp_path):
    folder = tmp_path / "cache" / "serilog" / "2.12.0"
    folder.mkdir(parents=True)
    (folder / "serilog.nuspec").write_text(nuspec("Serilog", "2.12.0", '<license type="file">LICENSE.txt</license>'),
                                           encoding="utf-8")
    info = lic.nuget_license("Serilog", "2.12.0", [], [tmp_path / "cache"])
    assert info.expression is None and info.source == "nuspec-file"
    missing = lic.nuget_license("Polly", "7.2.4", [], [tmp_path / "cache"])
    assert missing.source == "not-found"


@pytest.mark.parametrize("raw,expected", [
    ("MIT", "MIT"),
    ("MIT License", "MIT"),
    ("Apache Software License", "Apache-2.0"),
    ("Apache-2.0 OR BSD-3-Clause", "Apache-2.0 OR BSD-3-Clause"),
    ("DFSG approved; MIT License", "MIT"),
    ("Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"),
    ("Python Software Foundation License", "PSF-2.0"),
    ("MIT License; Apache Software License", "Apache-2.0 OR MIT"),
    ("BSD License", None),          # names no BSD variant: unknown, not guessed
    ("UNKNOWN", None),
    ("Other/Proprietary License", None),
])
def test_python_license_mapping(raw, expected):
    assert lic.python_license(raw).expression == expected


def test_python_environment_lists_this_environment():
    rows = lic.python_environment()
    names = {r["name"].lower() for r in rows}
    assert {"requests", "typer", "cyclonedx-python-lib"} <= names
    # every row of the tool's environment maps to a licence or is reported unknown, never crashes
    statuses = {lic.evaluate(lic.python_license(r["license"]), [], []).status for r in rows}
    assert statuses <= {"allowed", "unknown"}
