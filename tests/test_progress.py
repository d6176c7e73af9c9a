"""The progress bar of long steps (b2release/progress.py): where it shows and where it stays silent.

No timing here: DELAY is set to 0 (show at once) or to an hour (never), and "interactive"
(a terminal, text logs, not CI) is set on the Context class, as a terminal would.
"""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from b2release import progress as progress_mod
from b2release.config import Config
from b2release.context import Context
from b2release.progress import Progress


def make_ctx(tmp_path, monkeypatch, *, interactive=True, **options) -> tuple[Context, io.StringIO]:
    monkeypatch.setattr(Context, "interactive", property(lambda self: interactive))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    return Context(config=Config(), work_dir=tmp_path, _console=console, **options), screen


@pytest.mark.parametrize("options,interactive", [
    ({"json_output": True}, True),
    ({"verbosity": -1}, True),  # -q
    ({}, False),  # stderr not a terminal, JSON logs, or CI
])
def test_silent_unless_a_person_watches(tmp_path, monkeypatch, options, interactive):
    monkeypatch.setattr(progress_mod, "DELAY", 0)
    ctx, screen = make_ctx(tmp_path, monkeypatch, interactive=interactive, **options)
    with Progress(ctx, "compressing 3 files", 300) as bar:
        for _ in range(3):
            bar.advance(100)
    assert screen.getvalue() == ""


def test_shows_description_and_bytes_on_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr(progress_mod, "DELAY", 0)
    ctx, screen = make_ctx(tmp_path, monkeypatch)
    with Progress(ctx, "compressing 3 files", 3_000_000) as bar:
        bar.advance(1_000_000)
        bar.advance(2_000_000)
        assert bar._bar.tasks[0].completed == 3_000_000
    shown = screen.getvalue()
    assert "compressing 3 files" in shown and "3.0 MB" in shown


def test_a_step_over_before_the_delay_shows_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(progress_mod, "DELAY", 3600)
    ctx, screen = make_ctx(tmp_path, monkeypatch)
    with Progress(ctx, "writing", 100) as bar:
        bar.advance(100)
        assert bar._bar is None
    assert screen.getvalue() == ""


def test_total_given_later_and_advances_from_many_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(progress_mod, "DELAY", 0)
    ctx, screen = make_ctx(tmp_path, monkeypatch)
    with Progress(ctx) as bar:
        bar.begin("verifying 8 files", 8 * 1000 * 64)

        def work() -> None:
            for _ in range(1000):
                bar.advance(64)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert bar._bar.tasks[0].completed == 8 * 1000 * 64  # none lost while the bar started
    assert "verifying 8 files" in screen.getvalue()
