"""``styleinv-data report``: one self-contained HTML page about a cropped dataset.

``collect`` reads a crop output folder or a manifest into the page's data, ``figures`` draws the
score histograms (matplotlib) and the clips' contact strips, ``page`` writes the HTML.
"""

from styleinv_data.report.page import build_report

__all__ = ["build_report"]
