"""A dependency-free progress bar: live loss, accuracy, images/second and time left.

    epoch 3/10 ━━━━━━━━━━━━━━╸━━━━━━━━━  230/390  loss 0.912  acc 68.1%  1,512 img/s  0:21<0:14

On a terminal it redraws one line in place; when output goes to a file or CI log it prints
a line every ``log_every`` seconds instead, so logs stay readable.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

__all__ = ["ProgressBar", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """1:02:03 / 4:05 style."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """Progress of one loop of ``total`` steps.

    Args:
        total: number of steps (batches); 0 when unknown (then no bar and no time left).
        desc: label at the start of the line, e.g. "epoch 3/10".
        width: characters of the bar itself.
        stream: where to write (default stderr).
        enabled: False makes every call a no-op.
        log_every: seconds between lines when the stream is not a terminal.
    """

    def __init__(self, total: int, desc: str = "", width: int = 24, stream: TextIO | None = None,
                 enabled: bool = True, log_every: float = 10.0) -> None:
        self.total = max(int(total or 0), 0)
        self.desc = desc
        self.width = width
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self.start = time.perf_counter()
        self.last_draw = -math.inf  # the first update always draws
        self.count = 0
        self.stats: dict = {}

    def bar(self, fraction: float) -> str:
        filled = fraction * self.width
        full = int(filled)
        half = "╸" if filled - full >= 0.5 and full < self.width else ""
        return "━" * full + half + " " * (self.width - full - len(half))

    def line(self) -> str:
        """The current state as one line of text (without newline)."""
        elapsed = time.perf_counter() - self.start
        if self.total:
            frac = min(self.count / self.total, 1.0)
            eta = elapsed / frac - elapsed if frac > 0 else 0.0
            parts = [self.desc, self.bar(frac), f"{self.count:>{len(str(self.total))}}/{self.total}"]
        else:  # unknown length: count only
            parts = [self.desc, str(self.count)]
        for key, value in self.stats.items():
            parts.append(_format_stat(key, value))
        if self.total:
            parts.append(f"{format_seconds(elapsed)}<{format_seconds(eta)}")
        else:
            parts.append(format_seconds(elapsed))
        return "  ".join(p for p in parts if p)

    def update(self, steps: int = 1, **stats: Any) -> None:
        """Advance by ``steps`` and show the latest ``stats`` (e.g. loss=0.9, acc=0.68)."""
        if not self.enabled:
            return
        self.count += steps
        self.stats.update(stats)
        now = time.perf_counter()
        done = bool(self.total) and self.count >= self.total
        if self.interactive:
            if now - self.last_draw > 0.1 or done:
                self.stream.write("\r" + self.line() + "\033[K")
                self.stream.flush()
                self.last_draw = now
        elif now - self.last_draw >= self.log_every and not done:  # close() prints the last line
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self.last_draw = now

    def close(self, **stats: Any) -> None:
        """Draw the final state (with any closing stats) and end the line."""
        if not self.enabled:
            return
        self.stats.update(stats)
        text = self.line()
        self.stream.write(("\r" + text + "\033[K\n") if self.interactive else text + "\n")
        self.stream.flush()


def _format_stat(key: str, value: Any) -> str:
    if isinstance(value, float):
        if key in ("acc", "accuracy", "val_acc") or key.endswith("_acc"):
            return f"{key} {value * 100:.1f}%"
        if key.endswith("img/s") or key in ("img/s", "ips"):
            return f"{value:,.0f} img/s"
        return f"{key} {value:.4f}"
    return f"{key} {value}"
