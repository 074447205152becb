"""Progress bars that stay readable without a terminal (CI logs, ``nohup``, SLURM output files).

On a terminal :func:`progress_bar` is an ordinary tqdm bar redrawn in place. When stderr is not a
terminal, tqdm's carriage-return redraws would pile up on one line of the log; there the bar writes
one line per update instead (``crop: 3/6 video [00:12<00:12, 0.25 video/s]``), at most every
``log_interval_s`` seconds plus the final one. Every CLI of the project shows progress through this.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

LOG_INTERVAL_S = 30.0


class _LineWriter:
    """A file for tqdm that turns its in-place redraws into whole lines."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").replace("\x1b[A", "").strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def interactive(stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def progress_bar(log_interval_s: float = LOG_INTERVAL_S, stream: TextIO | None = None, **tqdm_kwargs: Any):
    """A tqdm bar (same arguments) on a terminal; periodic whole lines on any other stderr."""
    from tqdm import tqdm

    stream = stream if stream is not None else sys.stderr
    if interactive(stream):
        return tqdm(file=stream, dynamic_ncols=True, **tqdm_kwargs)
    return tqdm(file=_LineWriter(stream), mininterval=log_interval_s, maxinterval=log_interval_s * 4, ncols=100,
                ascii=True, **tqdm_kwargs)


def counter_line(label: str, done: int, total: int, last_reported: list[float], log_interval_s: float = LOG_INTERVAL_S,
                 stream: TextIO | None = None) -> None:
    """A ``label: done/total`` counter: redrawn in place on a terminal, else a line at most every
    ``log_interval_s`` seconds and at the end (``last_reported`` holds the caller's last time)."""
    import time

    stream = stream if stream is not None else sys.stderr
    if interactive(stream):
        stream.write(f"\r{label}: {done}/{total}" + ("\n" if done == total else ""))
    else:
        now = time.monotonic()
        if done == total or not last_reported or now - last_reported[0] >= log_interval_s:
            stream.write(f"{label}: {done}/{total}\n")
            last_reported[:] = [now]
    stream.flush()
