"""``panjereh render``: a model's diagram as an SVG file, optionally with an overlay.

    panjereh render IN.bpmn -o OUT.svg [--overlay findings|redesign]
                    [--changes CHANGES.json] [--diagram ID] [--lang en|fa]

``--overlay findings`` marks the paper steps ``bpmn.detect`` finds (orange when
an inquiry can replace a document, red when none can) with document counts;
``--overlay redesign`` marks what a redesign added, removed and changed, read
from its change log (``panjereh redesign --format json``), on IN, the
redesigned model. Models without BPMNDI are laid out automatically.

Exit codes: 0 written; 1 the input (model or change log) was refused or the
output could not be written, with the reason on stderr; 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bpmn.errors import LoadError, PanjerehError
from bpmn.load import load_path
from bpmn.model import read_model
from bpmn.overlay import Overlay, overlay_from_changes, overlay_from_findings
from bpmn.render import render_svg

MAX_CHANGE_LOG_BYTES = 8 * 1024 * 1024


def register(subparsers: Any) -> None:
    """Add the ``render`` subcommand to the ``panjereh`` parser."""
    parser = subparsers.add_parser("render", help="draw a model's diagram as SVG, with findings or changes marked")
    parser.add_argument("input", metavar="IN", help=".bpmn file (or a .zip bundle holding one model)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.svg", help="where to write the SVG ('-': stdout)")
    parser.add_argument("--overlay", choices=("findings", "redesign"), default=None,
                        help="mark paper-step findings, or a redesign's changes (needs --changes)")
    parser.add_argument("--changes", metavar="CHANGES.json", default=None,
                        help="change log of a redesign (panjereh.redesign/1) for --overlay redesign")
    parser.add_argument("--diagram", metavar="ID", default=None,
                        help="which BPMNDiagram to draw (default: the main one)")
    parser.add_argument("--lang", choices=("en", "fa"), default="en", help="language of the legend (default en)")
    parser.set_defaults(func=_cmd_render)


def _fail(message: str, code: int) -> int:
    print(f"panjereh render: {message}", file=sys.stderr)
    return code


def _read_change_log(path: str) -> dict[str, Any]:
    """The change log as a dict, or LoadError: it is a file a user chose, so it is checked."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_CHANGE_LOG_BYTES:
            raise LoadError("changes.size", f"the change log is larger than {MAX_CHANGE_LOG_BYTES:,} bytes", file=path)
        data = json.loads(p.read_bytes())
    except OSError as exc:
        raise LoadError("io.missing", f"cannot read the change log: {exc.strerror}", file=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LoadError("changes.json", f"the change log is not JSON: {exc}", file=path) from None
    if not isinstance(data, dict) or not isinstance(data.get("changes"), list):
        raise LoadError("changes.schema", "not a panjereh.redesign/1 change log (no 'changes' list)", file=path)
    return data


def _cmd_render(args: argparse.Namespace, out: Any) -> int:
    overlay_kind = args.overlay
    if args.changes and overlay_kind is None:
        overlay_kind = "redesign"
    if overlay_kind == "redesign" and not args.changes:
        return _fail("--overlay redesign needs --changes CHANGES.json (the redesign's change log)", 2)
    if overlay_kind == "findings" and args.changes:
        return _fail("--changes goes with --overlay redesign, not --overlay findings", 2)
    try:
        sources = load_path(args.input)
        if len(sources) != 1:
            raise LoadError("zip.models", f"the bundle holds {len(sources)} models; render draws one", file=args.input)
        model = read_model(sources[0])
        if args.diagram is not None and all(d.id != args.diagram for d in model.diagrams):
            known = ", ".join(d.id for d in model.diagrams) or "none"
            return _fail(f"no diagram {args.diagram!r} in {args.input} (diagrams: {known})", 2)
        overlay: Overlay | None = None
        if overlay_kind == "findings":
            from bpmn.detect import detect  # the catalog loads only when findings are asked for

            overlay = overlay_from_findings(detect(model), lang=args.lang)
        elif overlay_kind == "redesign":
            overlay = overlay_from_changes(_read_change_log(args.changes), lang=args.lang)
        svg = render_svg(model, overlay=overlay, diagram_id=args.diagram)
    except PanjerehError as exc:
        return _fail(str(exc), 1)
    if args.output == "-":
        out.write(svg + "\n")
        return 0
    try:
        Path(args.output).write_text(svg + "\n", encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror}", 1)
    marked = f", {len(overlay.marks)} elements marked" if overlay is not None else ""
    out.write(f"{args.output}: {len(svg):,} bytes{marked}\n")
    return 0
