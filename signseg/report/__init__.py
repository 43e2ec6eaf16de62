"""A corpus report: which videos of a mask file to drop, re-run, or adapt the model for.

:mod:`~signseg.report.figures` reads each video's per-frame signals (or, in older files, its
masks) into a few figures and flags; :mod:`~signseg.report.thumbs` draws the worst videos'
overlays from their sources; :mod:`~signseg.report.page` writes it all as one HTML page that
opens from disk (``signseg report OUT.h5 -o report.html``).
"""
from signseg.report.figures import Limits, Report, read_report

__all__ = ["Limits", "Report", "read_report"]
