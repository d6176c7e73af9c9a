"""The normalised result file: JUnit XML, as GitHub Actions, Azure Pipelines and GitLab read it.

    <testsuites name="b2release test" tests="5" failures="1" errors="0" skipped="1" time="0.167">
      <testsuite name="Bridge.Tests" tests="5" failures="1" errors="0" skipped="1" time="0.167">
        <properties>
          <property name="project" value="tests/Bridge.Tests/Bridge.Tests.csproj"/>
          <property name="runner" value="nunit-console"/>
          <property name="result_file" value="test-results/Bridge.Tests.nunit2.xml"/>
        </properties>
        <testcase classname="Bridge.Tests.GreeterTests" name="Fails" time="0.044">
          <failure message="one is not two" type="failure">...stack trace...</failure>
        </testcase>
        <testcase classname="Bridge.Tests.GreeterTests" name="Skipped" time="0"><skipped message="later"/></testcase>
      </testsuite>
    </testsuites>

One `testsuite` per test project (assembly), one `testcase` per test: `failure` for a
failed assertion, `error` for a test that could not run, `skipped` for ignored, explicit
or inconclusive tests; a test's captured output goes to its `system-out`. No timestamps or
host names: the same results give the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from b2release.testrunners.results import ERROR, FAILED, SKIPPED, Case, clean, count


@dataclass
class Suite:
    name: str
    cases: list[Case]
    properties: dict[str, str] = field(default_factory=dict)


def _time(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _attrs(cases: list[Case]) -> dict[str, str]:
    counts = count(cases)
    return {"tests": str(counts["total"]), "failures": str(sum(1 for c in cases if c.status == FAILED)),
            "errors": str(sum(1 for c in cases if c.status == ERROR)), "skipped": str(counts["skipped"]),
            "time": _time(sum(c.time for c in cases))}


def render(suites: list[Suite], name: str = "b2release test") -> bytes:
    every = [c for s in suites for c in s.cases]
    root = ET.Element("testsuites", {"name": name, **_attrs(every)})
    for suite in suites:
        node = ET.SubElement(root, "testsuite", {"name": clean(suite.name), **_attrs(suite.cases)})
        if suite.properties:
            props = ET.SubElement(node, "properties")
            for key, value in sorted(suite.properties.items()):
                ET.SubElement(props, "property", {"name": key, "value": clean(value)})
        for case in suite.cases:
            tc = ET.SubElement(node, "testcase", {"classname": clean(case.classname), "name": clean(case.name),
                                                  "time": _time(case.time)})
            if case.status in (FAILED, ERROR):
                tag = "failure" if case.status == FAILED else "error"
                el = ET.SubElement(tc, tag, {"message": clean(case.first_line(), 1024), "type": tag})
                el.text = clean("\n".join(p for p in (case.message, case.details) if p))
            elif case.status == SKIPPED:
                ET.SubElement(tc, "skipped", {"message": clean(case.first_line(), 1024)})
            if case.output:
                ET.SubElement(tc, "system-out").text = clean(case.output)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
