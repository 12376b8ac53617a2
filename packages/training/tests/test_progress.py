"""The progress bar, written to a StringIO: lines in logs, one redrawn line on a terminal."""

from __future__ import annotations

import io
import types

import pytest

from tinytorch.core.training import ProgressBar
from tinytorch.core.training import progress as progress_module
from tinytorch.core.training.progress import format_seconds


class Clock:
    """A stand-in for time.perf_counter that the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress_module, "time", types.SimpleNamespace(perf_counter=c))
    return c


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_seconds():
    assert format_seconds(0) == "0:00"
    assert format_seconds(65.4) == "1:05"
    assert format_seconds(3723) == "1:02:03"
    assert format_seconds(-3) == "0:00"


def test_log_lines_when_not_a_terminal(clock):
    out = io.StringIO()
    bar = ProgressBar(10, "epoch 3/10", width=10, stream=out, log_every=5.0)
    for step in range(10):
        clock.now += 1.0  # one second per step
        bar.update(1, loss=2.0 - step / 10, acc=0.1 * step, **{"img/s": 128.0})
    bar.close()
    text = out.getvalue()
    assert "\r" not in text and "\033[K" not in text  # no terminal control codes in a log
    lines = text.splitlines()
    # the first step, then every 5 s (step 6), then the final line from close()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 3/10") and " 1/10" in lines[0]
    assert "loss 2.0000" in lines[0] and "acc 0.0%" in lines[0] and "128 img/s" in lines[0]
    assert " 6/10" in lines[1]
    assert "10/10" in lines[2] and "━" * 10 in lines[2]
    assert "loss 1.1000" in lines[2] and "acc 90.0%" in lines[2]
    assert "0:10<0:00" in lines[2]  # elapsed < time left


def test_time_left_is_extrapolated(clock):
    out = io.StringIO()
    bar = ProgressBar(4, stream=out, log_every=0.0)
    clock.now += 30.0
    bar.update(1)  # a quarter done in 30 s: 90 s to go
    assert "0:30<1:30" in out.getvalue()
    assert "1/4" in out.getvalue()


def test_terminal_redraws_one_line(clock):
    out = Terminal()
    bar = ProgressBar(5, "train", width=5, stream=out)
    for _ in range(5):
        clock.now += 0.5
        bar.update(1, loss=0.25)
    bar.close(val_acc=0.5)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, ended by close()
    draws = text.rstrip("\n").split("\r")[1:]
    assert len(draws) == 6  # every update (0.5 s apart) and the close
    assert all(d.endswith("\033[K") for d in draws)  # clears what a longer line left behind
    assert "1/5" in draws[0] and "5/5" in draws[-1]
    assert "━━━━━" in draws[-1] and "val_acc 50.0%" in draws[-1] and "loss 0.2500" in draws[-1]


def test_terminal_redraws_are_throttled(clock):
    out = Terminal()
    bar = ProgressBar(100, stream=out)
    for _ in range(99):
        clock.now += 0.001  # much faster than the 0.1 s redraw interval
        bar.update(1)
    assert out.getvalue().count("\r") == 1  # only the first
    bar.update(1)  # the last step always draws
    assert out.getvalue().count("\r") == 2


def test_disabled_bar_writes_nothing(clock):
    out = io.StringIO()
    bar = ProgressBar(3, stream=out, enabled=False)
    bar.update(1, loss=1.0)
    bar.close()
    assert out.getvalue() == ""


def test_unknown_length_shows_a_count(clock):
    out = io.StringIO()
    bar = ProgressBar(0, "eval", stream=out, log_every=0.0)
    for _ in range(3):
        clock.now += 1
        bar.update(1)
    bar.close()
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("eval  3") and "/" not in last and "<" not in last


def test_half_cell_in_the_bar():
    bar = ProgressBar(4, width=4, stream=io.StringIO())
    assert bar.bar(0.0) == "    "
    assert bar.bar(0.5) == "━━  "
    assert bar.bar(0.625) == "━━╸ "
    assert bar.bar(1.0) == "━━━━"
