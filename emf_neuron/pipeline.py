"""Bytes from the monitor in, EMF lines out: framing -> parse -> map -> interval -> emf. No I/O.

The loop feeds raw chunks and asks for documents at each publish; this module counts what it
rejects (``report_errors``) and guards the one place where a bug of ours on an odd report could
stop the metrics: processing a single line (counted as ``internal_errors``, logged once per kind).
"""

from __future__ import annotations

import logging
import re

from emf_neuron.emf import Document, render
from emf_neuron.errors import ReportError
from emf_neuron.framing import LineSplitter
from emf_neuron.interval import Health, Interval, Layout
from emf_neuron.mapping import map_report
from emf_neuron.parse import parse_report

logger = logging.getLogger(__name__)


class Pipeline:
    """Stateful composition of the pure stages for one sidecar run."""

    def __init__(
        self,
        namespace: str,
        metrics: frozenset[str],
        layout: Layout,
        max_line_bytes: int,
        runtime_tags: re.Pattern[str] | None = None,
    ) -> None:
        self._namespace = namespace
        self._metrics = metrics
        self._layout = layout
        self._splitter = LineSplitter(max_line_bytes)
        self._runtime_tags = runtime_tags
        self._interval = Interval(layout.max_runtime_tags)
        self._oversize_seen = 0
        self._error_kinds_logged: set[str] = set()
        self.report_errors = 0
        self.internal_errors = 0
        self.dropped_values = 0

    def feed(self, chunk: bytes) -> int:
        """Process a chunk of monitor output; returns how many valid reports it completed."""
        valid = sum(self._line(line) for line in self._splitter.feed(chunk))
        self._count_oversize()
        return valid

    def end_of_stream(self) -> int:
        """The monitor's stdout ended: an unterminated last line is still processed."""
        valid = sum(self._line(line) for line in self._splitter.finish())
        self._count_oversize()
        return valid

    def take_report_errors(self) -> int:
        """Rejected lines and values since the previous call (for ``ReportErrors``), including
        values that could not be written within the EMF limits."""
        errors, self.report_errors = self.report_errors, 0
        return errors

    def documents(self, health: Health | None) -> list[Document]:
        """The documents of the interval that ends now."""
        return self._interval.documents(self._layout, health)

    def render(self, documents: list[Document], timestamp_ms: int) -> list[bytes]:
        """Serialize documents to EMF lines, counting values that could not fit."""
        lines: list[bytes] = []
        for document in documents:
            rendered = render(
                document,
                self._namespace,
                timestamp_ms,
                high_resolution=self._layout.high_resolution,
            )
            self.dropped_values += rendered.dropped_values
            self.report_errors += rendered.dropped_values
            if rendered.dropped_values:
                self._log_once("render", "dropped values that no EMF document could hold")
            lines.extend(rendered.lines)
        return lines

    def _line(self, line: bytes) -> int:
        try:
            report = parse_report(line)
            self.report_errors += report.rejected_values
            if report.group_errors:
                groups = ", ".join(sorted(set(report.group_errors)))
                self._log_once("group", f"the monitor reported errors in: {groups}")
            if not report.valid:  # nothing usable (only errors, or no data): it adds no sample
                return 0
            self._interval.add(report, map_report(report, self._metrics, self._runtime_tags))
        except ReportError as exc:
            self.report_errors += 1
            self._log_once("report", f"rejected a line from the monitor: {exc}")
            return 0
        except Exception:  # the one per-item guard: a bug on one odd report must not stop metrics
            self.internal_errors += 1
            self.report_errors += 1
            if "internal" not in self._error_kinds_logged:
                self._error_kinds_logged.add("internal")
                logger.exception("internal error while processing a report (counted, skipped)")
            return 0
        return 1

    def _count_oversize(self) -> None:
        new = self._splitter.oversize_lines - self._oversize_seen
        if new:
            self._oversize_seen = self._splitter.oversize_lines
            self.report_errors += new
            self._log_once("oversize", "dropped a report line longer than the line limit")

    def _log_once(self, kind: str, message: str) -> None:
        """State changes are logged once, not per report."""
        if kind not in self._error_kinds_logged:
            self._error_kinds_logged.add(kind)
            logger.warning("%s (further ones are only counted in ReportErrors)", message)
