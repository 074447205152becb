"""Progress without a terminal: whole lines, not carriage-return redraws run together on one line."""

from __future__ import annotations

import io

from styleinv_data.progress import counter_line, progress_bar


def test_bar_writes_whole_lines_when_stderr_is_not_a_terminal() -> None:
    log = io.StringIO()  # not a TTY
    with progress_bar(total=4, desc="crop", unit="video", stream=log, log_interval_s=0.0) as bar:
        for _ in range(4):
            bar.update(1)
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) >= 2 and all(line.startswith("crop:") for line in lines)
    assert "4/4" in lines[-1]


def test_counter_lines_are_periodic_and_end_with_the_total() -> None:
    log, last = io.StringIO(), []
    for done in range(1, 9):
        counter_line("fvd16 [gen]", done, 8, last, log_interval_s=3600.0, stream=log)
    assert log.getvalue() == "fvd16 [gen]: 1/8\nfvd16 [gen]: 8/8\n"  # the first, then the last (interval not reached)
