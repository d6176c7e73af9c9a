"""Native result files -> `Case`s: NUnit 2.5/2.6, NUnit 3, xUnit.net v2, VSTest TRX.

| format | root | a test | outcome |
|---|---|---|---|
| NUnit 2.5/2.6 (nunit-console) | `test-results` | `test-case` in `test-suite`s | `result`; 2.4: `executed`, `success` |
| NUnit 3 (nunit3-console) | `test-run` | `test-case` (`classname`, `name`) | `result` + `label` |
| xUnit.net v2 (xunit.console -xml) | `assemblies` | `test` (`type`, `name`) | `result` (Pass, Fail, Skip, NotRun) |
| TRX (vstest.console, dotnet test) | `TestRun` | `UnitTestResult` + `TestDefinitions` | `outcome` |

Status: passed, failed (an assertion failed), error (the test could not run or crashed:
NUnit Error / NotRunnable / Invalid / Cancelled, TRX Error / Timeout / Aborted), skipped
(ignored, explicit, inconclusive, not executed). A failure of a fixture or assembly that
no test case shows (a OneTimeSetUp/TearDown error, an assembly that did not load, an
xUnit cleanup error) becomes one more failed case named after the suite, so it is never
lost.
"""

from __future__ import annotations

from pathlib import Path

from b2release.errors import ToolError
from b2release.testrunners.results import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    Case,
    Results,
    child,
    clean,
    events,
    local,
    root_name,
    seconds,
    text,
)

_NUNIT2_CLASS_PARTS = ("Namespace", "TestFixture", "SetUpFixture", "GenericFixture")
_NUNIT2_STATUS = {"success": PASSED, "failure": FAILED, "error": ERROR, "notrunnable": ERROR, "cancelled": ERROR,
                  "ignored": SKIPPED, "skipped": SKIPPED, "inconclusive": SKIPPED, "notrun": SKIPPED}
_TRX_STATUS = {"passed": PASSED, "passedbutrunaborted": PASSED, "completed": PASSED, "warning": PASSED,
               "failed": FAILED, "error": ERROR, "timeout": ERROR, "aborted": ERROR, "notrunnable": ERROR,
               "notexecuted": SKIPPED, "inconclusive": SKIPPED, "pending": SKIPPED, "disconnected": ERROR,
               "inprogress": ERROR}
SUITE_CASE = "(suite)"  # the name of a case standing for a suite-level failure


def _split(full: str, classname: str) -> str:
    """The test's own name: `full` without its class prefix."""
    if classname and full.startswith(classname + "."):
        return full[len(classname) + 1:]
    return full


def _class_of(full: str) -> tuple[str, str]:
    """'Ns.Class.Method(1.5)' -> ('Ns.Class', 'Method(1.5)'): the last dot outside parentheses."""
    depth = 0
    for i in range(len(full) - 1, -1, -1):
        ch = full[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            depth -= 1
        elif ch == "." and depth == 0:
            return full[:i], full[i + 1:]
    return "", full


def parse_nunit2(path: Path) -> Results:
    results = Results("nunit2")
    stack: list[tuple[str, str, int]] = []  # (type, name, failed cases when the suite started)
    for event, elem in events(path):
        tag = local(elem.tag)
        if event == "start":
            if tag == "test-suite":
                stack.append((elem.get("type", ""), elem.get("name", ""), _failures(results)))
            continue
        if tag == "test-case":
            classname = ".".join(n for t, n, _ in stack if t in _NUNIT2_CLASS_PARTS)
            full = elem.get("name", "")
            if not classname:
                classname, name = _class_of(full)
            else:
                name = _split(full, classname)
            result = (elem.get("result") or "").lower()
            if result in _NUNIT2_STATUS:
                status = _NUNIT2_STATUS[result]
            elif elem.get("executed", "True").lower() == "false":
                status = SKIPPED
            else:
                status = PASSED if elem.get("success", "True").lower() == "true" else FAILED
            message = text(elem, "failure", "message") or text(elem, "reason", "message")
            results.cases.append(Case(classname, name, status, seconds(elem.get("time")), message,
                                      text(elem, "failure", "stack-trace")))
            elem.clear()
        elif tag == "test-suite" and stack:
            kind, name, before = stack.pop()
            failure = child(elem, "failure")
            if failure is not None and _failures(results) == before and \
                    (elem.get("result") or "").lower() in ("failure", "error"):
                owner = ".".join([n for t, n, _ in stack if t in _NUNIT2_CLASS_PARTS] + [name])
                results.cases.append(Case(Path(owner).name if kind == "Assembly" else owner, SUITE_CASE, ERROR,
                                          seconds(elem.get("time")), text(failure, "message"),
                                          text(failure, "stack-trace")))
            elem.clear()
    return results


def _failures(results: Results) -> int:
    return sum(1 for c in results.cases if c.failed)


def parse_nunit3(path: Path) -> Results:
    results = Results("nunit3")
    started: list[int] = []
    for event, elem in events(path):
        tag = local(elem.tag)
        if event == "start":
            if tag == "test-suite":
                started.append(_failures(results))
            continue
        if tag == "test-case":
            full = elem.get("fullname") or elem.get("name", "")
            classname = elem.get("classname") or _class_of(full)[0]
            name = elem.get("name") or _split(full, classname)
            result, label = (elem.get("result") or "").lower(), (elem.get("label") or "").lower()
            if result == "passed" or result == "warning":
                status = PASSED
            elif result == "failed":
                status = ERROR if label in ("error", "invalid", "cancelled") else FAILED
            else:
                status = SKIPPED
            message = text(elem, "failure", "message") or text(elem, "reason", "message")
            results.cases.append(Case(classname, name, status, seconds(elem.get("duration")), message,
                                      text(elem, "failure", "stack-trace"), text(elem, "output")))
            elem.clear()
        elif tag == "test-suite" and started:
            before = started.pop()
            failure = child(elem, "failure")
            site = (elem.get("site") or "").lower()
            if failure is not None and site != "child" and _failures(results) == before and \
                    (elem.get("result") or "").lower() == "failed":
                owner = elem.get("fullname") or elem.get("name", "")
                if elem.get("type") == "Assembly":
                    owner = Path(owner.replace("\\", "/")).name
                results.cases.append(Case(owner, SUITE_CASE, ERROR, seconds(elem.get("duration")),
                                          text(failure, "message"), text(failure, "stack-trace")))
            elem.clear()
    return results


def parse_xunit2(path: Path) -> Results:
    results = Results("xunit2")
    assembly = ""
    for event, elem in events(path):
        tag = local(elem.tag)
        if event == "start":
            if tag == "assembly":
                assembly = Path((elem.get("name") or "").replace("\\", "/")).name
            continue
        if tag == "test":
            classname = elem.get("type") or _class_of(elem.get("name", ""))[0]
            name = _split(elem.get("name") or elem.get("method", ""), classname)
            result = (elem.get("result") or "").lower()
            status = {"pass": PASSED, "fail": FAILED, "skip": SKIPPED, "notrun": SKIPPED}.get(result, ERROR)
            message = text(elem, "failure", "message") or text(elem, "reason")
            results.cases.append(Case(classname, name, status, seconds(elem.get("time")), message,
                                      text(elem, "failure", "stack-trace"), text(elem, "output")))
            elem.clear()
        elif tag == "error":  # assembly / collection / class cleanup failures, fatal errors
            owner = elem.get("name") or assembly
            results.cases.append(Case(owner, f"({elem.get('type') or 'error'})", ERROR, 0.0,
                                      text(elem, "failure", "message"), text(elem, "failure", "stack-trace")))
            elem.clear()
    return results


def parse_trx(path: Path) -> Results:
    results = Results("trx")
    classes: dict[str, str] = {}  # test id -> class name
    pending: list[tuple[str, Case]] = []  # (test id, case), classes resolved at the end
    for event, elem in events(path):
        if event != "end":
            continue
        tag = local(elem.tag)
        if tag == "UnitTestResult":
            if child(elem, "InnerResults") is not None:
                elem.clear()
                continue  # a data-driven parent: its inner results are the tests
            outcome = (elem.get("outcome") or "").lower()
            message = text(elem, "Output", "ErrorInfo", "Message")
            case = Case("", clean(elem.get("testName")), _TRX_STATUS.get(outcome, ERROR), seconds(elem.get("duration")),
                        message, text(elem, "Output", "ErrorInfo", "StackTrace"), text(elem, "Output", "StdOut"))
            pending.append((elem.get("testId") or "", case))
            elem.clear()
        elif tag == "UnitTest":
            method = child(elem, "TestMethod")
            if method is not None and method.get("className"):
                classes[elem.get("id") or ""] = method.get("className", "").split(",")[0].strip()
            elem.clear()
    for test_id, case in pending:
        case.classname = classes.get(test_id, "")
        if not case.classname:
            case.classname, case.name = _class_of(case.name)
        else:
            case.name = _split(case.name, case.classname)
        results.cases.append(case)
    return results


PARSERS = {"test-results": parse_nunit2, "test-run": parse_nunit3, "assemblies": parse_xunit2,
           "assembly": parse_xunit2, "TestRun": parse_trx}
FORMATS = {"test-results": "NUnit 2.5/2.6", "test-run": "NUnit 3", "assemblies": "xUnit.net v2",
           "assembly": "xUnit.net v2", "TestRun": "VSTest TRX"}


def parse(path: Path) -> Results:
    """Any supported result file, by its root element."""
    root = root_name(path)
    parser = PARSERS.get(root)
    if parser is None:
        raise ToolError(f"test result file {path}: unknown format (root element <{root}>; expected NUnit 2/3, "
                        "xUnit.net v2 or TRX)")
    return parser(path)
