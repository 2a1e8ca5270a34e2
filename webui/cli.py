"""The ``panjereh`` command line (DESIGN.md §7).

This is an edge: domain errors become exit codes and messages here, and
nowhere else. ``panjereh analyze`` prints one report per input, as text for
people or as ``panjereh.analysis/1`` JSON for tools.

Exit codes: 0 every input was analysed; 1 some input could not be (its
report carries ``error``); 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bpmn.errors import LoadError, PanjerehError
from bpmn.report import error_report
from engine.analysis import analyze_file, expand_inputs
from webui.textreport import format_report


def _analyze_guarded(path: str) -> list[dict[str, Any]]:
    """One input's reports; a defect in our own code becomes a report, not a traceback."""
    try:
        return analyze_file(path)
    except PanjerehError as exc:
        return [error_report(path, LoadError("internal.domain", str(exc)))]
    except Exception as exc:  # noqa: BLE001 - the CLI edge: a bug must not lose the other inputs
        return [error_report(path, LoadError("internal.error", f"analysis failed: {type(exc).__name__}: {exc}"))]


def _reports(files: list[str], jobs: int) -> Iterator[dict[str, Any]]:
    if jobs <= 1 or len(files) < 8:
        for f in files:
            yield from _analyze_guarded(f)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for reports in pool.map(_analyze_guarded, files, chunksize=16):
            yield from reports


def _cmd_analyze(args: argparse.Namespace, out: Any) -> int:
    missing = [p for p in args.paths if not os.path.exists(p)]
    files = expand_inputs([p for p in args.paths if p not in missing])
    if not files and not missing:
        print("panjereh analyze: no model files (.bpmn, .bpmn2, .bpmn20.xml, .zip) found", file=sys.stderr)
        return 1
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    reports = [error_report(p, LoadError("io.missing", "no such file or folder", file=p)) for p in missing]
    failed = bool(missing)
    if args.format == "json":
        reports.extend(_reports(files, jobs))
        failed = any("error" in r for r in reports)
        # One input -> one report object (the contract); several -> an array of them.
        json.dump(reports[0] if len(reports) == 1 else reports, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return 1 if failed else 0
    # text and jsonl stream: a long folder shows progress as it goes.
    for rep in itertools.chain(reports, _reports(files, jobs)):
        failed = failed or "error" in rep
        out.write((json.dumps(rep, ensure_ascii=False) if args.format == "jsonl" else format_report(rep)) + "\n")
        out.flush()
    return 1 if failed else 0


# Other subcommands live in their own modules, each exposing
# ``register(subparsers)`` that adds its parser and sets ``func(args, out) -> int``.
COMMAND_MODULES: tuple[str, ...] = (
    "webui.cmd_redesign",
    "webui.cmd_render",
    "webui.cmd_run",
    "webui.cmd_simulator",
    "webui.cmd_worker",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="panjereh",
        description="Panjereh: find paper-document steps in BPMN models and replace them with inquiries.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    an = sub.add_parser("analyze", help="validate models and find the steps that ask citizens for documents")
    an.add_argument("paths", nargs="+", metavar="PATH", help=".bpmn file, .zip bundle or folder")
    an.add_argument("--format", choices=("text", "json", "jsonl"), default="text")
    an.add_argument("--jobs", type=int, default=None, help="processes for many inputs (default: one per core)")
    an.set_defaults(func=_cmd_analyze)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``panjereh`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    out = sys.stdout
    try:
        return args.func(args, out)
    except BrokenPipeError:  # `panjereh analyze ... | head` is not an error
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
