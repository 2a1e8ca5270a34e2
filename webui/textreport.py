"""Analysis reports as text for people at a terminal.

Layout rules: every line starts with left-to-right material (ids, codes,
numbers) and model text (often Persian) comes last on its line inside
«guillemets», so a bidi-aware terminal keeps the columns readable and no
Persian run is split by Latin text. Colour is used only on a terminal.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_COLOURS = {"error": "31", "warning": "33", "info": "36", "ok": "32", "dim": "2", "bold": "1"}


def _painter(enabled: bool):
    def paint(text: str, what: str) -> str:
        return f"\x1b[{_COLOURS[what]}m{text}\x1b[0m" if enabled else text

    return paint


def _quote(text: str | None) -> str:
    return f"«{' '.join(text.split())}»" if text else ""


def format_report(report: dict[str, Any], *, colour: bool | None = None) -> str:
    """One report as text; ``colour`` defaults to whether stdout is a terminal."""
    if colour is None:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    paint = _painter(colour)
    lines = [paint(report["file"], "bold")]
    if "error" in report:
        err = report["error"]
        where = f" (line {err['line']})" if err.get("line") else ""
        lines.append(f"  {paint('refused', 'error')} {err['code']}{where}: {err['message']}")
        return "\n".join(lines)
    for proc in report["processes"]:
        execu = proc.get("executable")
        state = "" if execu is None else (", executable" if execu else ", " + paint("not executable", "warning"))
        lines.append(
            f"  process {proc['id']}: {proc['activities']} activities{state} {_quote(proc.get('name'))}".rstrip()
        )
    s = report["summary"]
    lines.append(
        f"  paper steps: {s['paper_steps']} ({s['replaceable_steps']} replaceable by inquiry), "
        f"documents requested: {s.get('documents_requested', 0)}"
    )
    for f in report["findings"]:
        mark = paint("✔", "ok") if f["replaceable"] else paint("•", "dim")
        line = f" line {f['line']}" if f.get("line") else ""
        lines.append(
            f"  {mark} {f['kind']} {f['element_id']} ({f.get('element_type', '?')}{line}, "
            f"confidence {f['confidence']:.2f}) {_quote(f.get('name'))}".rstrip()
        )
        for d in f["documents"]:
            services = ", ".join(d.get("inquiry_services") or []) or "no inquiry"
            verdict = "replace by " + services if d["replaceable"] else "keep (" + services + ")"
            src = f"[{d['source']}] " if d.get("source") else ""
            lines.append(f"      {d['id']}: {verdict}; {src}{_quote(d.get('matched'))}".rstrip())
        if f.get("signals"):
            lines.append(paint(f"      signals: {', '.join(f['signals'])}", "dim"))
    diags = report["diagnostics"]
    if diags:
        counts = {k: sum(1 for d in diags if d["severity"] == k) for k in ("error", "warning", "info")}
        lines.append(f"  diagnostics: {counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes")
        for d in diags:
            where = f" line {d['line']}" if d.get("line") else ""
            elem = f" {d['element_id']}" if d.get("element_id") else ""
            lines.append(f"    {paint(d['severity'], d['severity'])} {d['code']}{elem}{where}: {d['message']}")
    return "\n".join(lines)
