"""``panjereh redesign IN.bpmn -o OUT.bpmn [--only ID,...] [--format text|json] [--make-room]`` (DESIGN.md §7).

Reads one model, finds its paper steps, applies the replaceable ones (or
those listed with ``--only``) as once-only inquiries and writes the new model
to OUT, with the form files the redesign changed next to it (form files the
model still uses unchanged are copied there too when OUT is in another
folder, so OUT opens with all its forms). Prints the change log: text for
people, or ``panjereh.redesign/1`` JSON (``contracts/redesign.schema.json``).

Exit codes: 0 done (also when there was nothing to change), 1 the input was
refused or the output could not be written (the reason on stderr, no
traceback), 2 usage error (for instance ``--only`` naming an element that has
no replaceable paper-document finding).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from bpmn.detect import detect
from bpmn.errors import LoadError, PanjerehError
from bpmn.load import Source, load_path
from bpmn.model import read_model
from bpmn.redesign import PAPER_KIND, Choices, Redesign, redesign


def register(subparsers: Any) -> None:
    """Add the ``redesign`` subcommand to the ``panjereh`` parser."""
    p = subparsers.add_parser(
        "redesign", help="replace paper-document steps with inquiries and write the new model",
        description="Apply the once-only redesign to one model: each replaceable paper step becomes (or is "
                    "preceded by) an inquiry with a fallback; the diagram keeps its layout.")
    p.add_argument("input", metavar="IN.bpmn", help="the model (.bpmn file or a .zip bundle with one model)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.bpmn", help="where to write the new model")
    p.add_argument("--only", metavar="ID,...", help="apply only the findings on these element ids")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--make-room", action="store_true",
                   help="move shapes to the right where new steps do not fit between their neighbours "
                        "(by default nothing drawn moves and new steps go into free space)")
    p.set_defaults(func=run)


def _usage(message: str) -> int:
    print(f"panjereh redesign: error: {message}", file=sys.stderr)
    return 2


def _refused(message: str) -> int:
    print(f"panjereh redesign: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace, out: Any) -> int:
    """Run the subcommand; returns the exit code."""
    only: frozenset[str] | None = None
    if args.only is not None:
        ids = [i.strip() for i in args.only.split(",") if i.strip()]
        if not ids:
            return _usage("--only needs at least one element id")
        only = frozenset(ids)
    try:
        sources = load_path(args.input)
    except LoadError as exc:
        return _refused(str(exc))
    if len(sources) != 1:
        return _refused(f"{args.input}: the bundle holds {len(sources)} models; redesign takes one")
    source = sources[0]
    try:
        model = read_model(source)
        findings = detect(model)
    except PanjerehError as exc:
        return _refused(f"{args.input}: {exc}")
    if only is not None:
        replaceable = {f.element_id for f in findings if f.kind == PAPER_KIND and f.replaceable}
        unknown = sorted(only - replaceable)
        if unknown:
            return _usage(f"--only {', '.join(unknown)}: no replaceable paper-document finding on "
                          f"{'that element' if len(unknown) == 1 else 'those elements'}"
                          + (f" (replaceable: {', '.join(sorted(replaceable))})" if replaceable else ""))
    result = redesign(model, findings, Choices(only=only, make_room=args.make_room))
    try:
        written = _write(result, source, Path(args.input), Path(args.output))
    except OSError as exc:
        return _refused(f"{args.output}: cannot write: {exc.strerror or exc}")
    if args.format == "json":
        json.dump(result.change_log_json(args.input, args.output), out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        out.write(format_change_log(result, args.input, args.output, written, model) + "\n")
    return 0


def _inside(folder: Path, ref: str) -> Path | None:
    """``folder/ref`` when ``ref`` is a plain relative path that stays inside ``folder``."""
    rel = PurePosixPath(ref.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or ":" in rel.parts[0]:
        return None
    return folder.joinpath(*rel.parts)


def _write(result: Redesign, source: Source, input_path: Path, output: Path) -> list[str]:
    """Write the model and its form files; returns the form files written."""
    folder = output.parent
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, blob in result.files.items():
        target = _inside(folder, name)
        if target is None:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        written.append(name)
    output.write_bytes(result.data)
    same_folder = os.path.realpath(folder) == os.path.realpath(input_path.parent)
    if not same_folder:
        # The new model still uses the forms it did not change: give it copies, never overwriting.
        new_model = read_model(result.as_source(source))
        refs = {r for p in new_model.processes for n in p.nodes.values() if n.form is not None
                for r in (n.form.ref, n.form.ui_ref) if r}
        for ref in sorted(refs - set(result.files)):
            target = _inside(folder, ref)
            blob = source.side_file(ref)
            if target is None or blob is None or target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
            written.append(ref)
    return written


def format_change_log(result: Redesign, source: str, output: str, written: list[str], model: Any) -> str:
    """The change log for people: ids and counts first on each line, model text (often Persian) last."""
    lines = [f"{source} -> {output}"]
    if not result.changed:
        lines.append("  nothing to change: no replaceable paper step was selected (the model is copied as it was)")
        return "\n".join(lines)
    s = result.summary()
    lines.append(f"  steps replaced: {s['steps_replaced']}, documents no longer asked for: "
                 f"{s['documents_eliminated']}, paper steps kept: {len(s['kept'])}")
    for change in result.changes:
        services = f" [{', '.join(change.inquiry_services)}]" if change.inquiry_services else ""
        counts = f" +{len(change.added)}" if change.added else ""
        counts += f" -{len(change.removed)}" if change.removed else ""
        lines.append(f"  {change.action} {change.element_id}{services}{counts}: {change.reason}")
    for kept in s["kept"]:
        node = model.node(kept)
        name = " ".join((node.name or "").split()) if node is not None else ""
        lines.append(f"  kept {kept}: still asks for paper" + (f" «{name}»" if name else ""))
    if written:
        lines.append(f"  form files written: {', '.join(written)}")
    return "\n".join(lines)
