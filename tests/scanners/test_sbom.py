"""b2release.scanners.sbom: a CycloneDX 1.6 SBOM whose bytes depend only on its inputs."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from b2release import __version__
from b2release.scanners import sbom
from b2release.scanners.inventory import Package

EPOCH = 1_700_000_000


def packages() -> list[Package]:
    memory = Package("System.Memory", "4.5.5", direct=False, declared_in={"src/C/packages.lock.json"})
    json_pkg = Package("Newtonsoft.Json", "13.0.3", direct=True, declared_in={"src/C/C.csproj", "src/B/B.csproj"},
                       dependencies={memory.key})
    return [json_pkg, memory]


def licenses() -> dict[str, str | None]:
    return {"newtonsoft.json@13.0.3": "MIT", "system.memory@4.5.5": None}


def files() -> list[sbom.FileEntry]:
    return [sbom.FileEntry("Enventa.Connector.dll", "a" * 64, 4096), sbom.FileEntry("Enventa.Connector.pdb", "b" * 64, 512)]


def build(**kw: Any) -> bytes:
    args: dict[str, Any] = {"product": "connector", "version": "1.2.3", "epoch": EPOCH, "packages": packages(),
                            "licenses": licenses(), "files": files()}
    args.update(kw)
    return sbom.build(**args)


def components(bom: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in bom["components"]}


def test_cyclonedx_1_6_header():
    bom = json.loads(build())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6" and bom["version"] == 1
    assert re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", bom["serialNumber"])
    assert uuid.UUID(bom["serialNumber"].removeprefix("urn:uuid:")).version == 5


def test_metadata_names_the_product_the_tool_and_the_source_time():
    meta = json.loads(build())["metadata"]
    assert meta["timestamp"] == "2023-11-14T22:13:20+00:00"
    assert meta["component"] == {"bom-ref": "pkg:generic/connector@1.2.3", "name": "connector", "type": "application",
                                 "version": "1.2.3"}
    assert meta["tools"]["components"][0]["name"] == "b2release"
    assert meta["tools"]["components"][0]["version"] == __version__
    assert "properties" not in meta


def test_an_unversioned_sbom_says_so():
    meta = json.loads(build(version=None))["metadata"]
    assert meta["component"]["bom-ref"] == "pkg:generic/connector" and "version" not in meta["component"]
    assert {"name": "b2release:version", "value": "unversioned"} in meta["properties"]


def test_nuget_components_with_purl_scope_licence_and_provenance():
    comps = components(json.loads(build()))
    nj = comps["pkg:nuget/Newtonsoft.Json@13.0.3"]
    assert nj["purl"] == "pkg:nuget/Newtonsoft.Json@13.0.3"
    assert (nj["type"], nj["name"], nj["version"], nj["scope"]) == ("library", "Newtonsoft.Json", "13.0.3", "required")
    assert nj["licenses"] == [{"expression": "MIT"}]
    assert nj["properties"] == [{"name": "b2release:declared-in", "value": "src/B/B.csproj"},
                                {"name": "b2release:declared-in", "value": "src/C/C.csproj"},
                                {"name": "b2release:direct", "value": "true"}]
    mem = comps["pkg:nuget/System.Memory@4.5.5"]
    assert "licenses" not in mem  # unknown licence: no claim rather than a wrong one
    assert {"name": "b2release:direct", "value": "false"} in mem["properties"]


def test_build_output_files_are_listed_by_name():
    """Names only: scan runs before sign, and Authenticode changes the bytes; the signed manifest has the digests."""
    comps = components(json.loads(build()))
    assert comps["file:Enventa.Connector.dll"] == {"bom-ref": "file:Enventa.Connector.dll",
                                                   "name": "Enventa.Connector.dll", "type": "file"}
    assert "file:Enventa.Connector.pdb" in comps
    assert "a" * 64 not in build().decode()


def test_dependency_graph():
    deps = {d["ref"]: d.get("dependsOn", []) for d in json.loads(build())["dependencies"]}
    assert deps["pkg:generic/connector@1.2.3"] == ["pkg:nuget/Newtonsoft.Json@13.0.3"]  # direct ones only
    assert deps["pkg:nuget/Newtonsoft.Json@13.0.3"] == ["pkg:nuget/System.Memory@4.5.5"]
    assert deps["pkg:nuget/System.Memory@4.5.5"] == []


def test_identical_inputs_give_identical_bytes():
    first = build()
    assert build() == first
    assert first.endswith(b"}\n")
    doc = json.loads(first)
    assert list(doc) == sorted(doc)


def test_the_body_does_not_depend_on_input_order():
    forward = json.loads(build())
    backward = json.loads(build(packages=list(reversed(packages())), files=list(reversed(files()))))
    del forward["serialNumber"], backward["serialNumber"]
    assert forward == backward


def test_the_serial_number_does_not_depend_on_input_order():
    assert build(packages=list(reversed(packages())), files=list(reversed(files()))) == build()


@pytest.mark.parametrize(
    "change",
    [
        {"version": "1.2.4"},
        {"product": "other"},
        {"epoch": EPOCH + 1},
        {"licenses": {"newtonsoft.json@13.0.3": "Apache-2.0", "system.memory@4.5.5": None}},
        {"files": files()[:1]},
        {"files": [sbom.FileEntry("Enventa.Connector.dll", "c" * 64, 4096), files()[1]]},  # a rebuilt file
        {"packages": packages()[:1]},
    ],
    ids=["version", "product", "epoch", "licence", "fewer-files", "file-digest", "fewer-packages"],
)
def test_different_inputs_never_share_a_serial_number(change):
    assert json.loads(build(**change))["serialNumber"] != json.loads(build())["serialNumber"]


def test_serial_number_function():
    one = sbom.serial_number("connector", "1.2.3", EPOCH, "d" * 64)
    assert one == sbom.serial_number("connector", "1.2.3", EPOCH, "d" * 64)
    assert uuid.UUID(one).version == 5
    assert sbom.serial_number("connector", None, EPOCH, "d" * 64) == sbom.serial_number("connector", "unversioned",
                                                                                          EPOCH, "d" * 64)


def test_an_empty_sbom_is_valid():
    bom = json.loads(build(packages=[], licenses={}, files=[]))
    assert bom.get("components", []) == []
    assert bom["metadata"]["component"]["name"] == "connector"


def test_validates_against_the_cyclonedx_1_6_schema():
    from cyclonedx.exception import MissingOptionalDependencyException
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(build().decode())
    except MissingOptionalDependencyException:
        pytest.skip("cyclonedx-python-lib[json-validation] is not installed")
    assert error is None, error
