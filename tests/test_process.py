import sys

import pytest

from b2release import process
from b2release.errors import ToolMissingError


def test_lines_arrive_live_and_exit_code_is_returned(fake_tools, tmp_path, monkeypatch):
    fake_tools("msbuild")
    marker = tmp_path / "seen-step-1"
    env = process.tool_env({"FAKE_WAIT_FOR": str(marker), "FAKE_EXIT": "5"})
    seen = []

    def on_line(line):
        seen.append(line)
        if line.endswith("step 1"):
            # The fake blocks until this file exists: reached only if step 1 came through
            # before the process finished (no buffering until exit).
            marker.write_text("ok")

    returncode = process.stream(["msbuild", "-p:OutDir=" + str(tmp_path / "o")], on_line, what="a test", env=env)
    assert seen[:2] == ["fake msbuild: step 1", "fake msbuild: step 2"]
    assert returncode == 5


def test_undecodable_output_does_not_crash(tmp_path):
    lines: list[str] = []
    returncode = process.stream([sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'caf\\xe9\\nok\\n')"],
                                lines.append, what="a test")
    assert returncode == 0
    assert lines == ["caf\ufffd", "ok"]


def test_missing_executable(tmp_path):
    with pytest.raises(ToolMissingError, match="not found"):
        process.stream([str(tmp_path / "nope")], lambda line: None, what="a test")


def test_a_tool_that_finished_its_work_but_hangs_is_stopped_after_its_grace(tmp_path):
    import time

    marker = tmp_path / "done"
    script = f"import time; print('work done', flush=True); open({str(marker)!r}, 'w').close(); time.sleep(600)"
    started = time.monotonic()
    done = process.run([sys.executable, "-c", script], what="a hanging tool", timeout=120,
                       finished=marker.exists, grace=0.5)
    assert time.monotonic() - started < 30
    assert done.stopped_after_finishing and done.returncode != 0 and "work done" in done.stdout


def test_without_finishing_a_hanging_tool_runs_into_its_timeout(tmp_path):
    from b2release.errors import ToolError

    with pytest.raises(ToolError, match=r"did not finish a hanging tool within 2s"):
        process.run([sys.executable, "-c", "import time; time.sleep(600)"], what="a hanging tool", timeout=2,
                    finished=lambda: False, grace=0.5)
    done = process.run([sys.executable, "-c", "print('quick')"], what="a quick tool", finished=lambda: True, grace=60)
    assert not done.stopped_after_finishing and done.returncode == 0 and done.stdout == "quick\n"
