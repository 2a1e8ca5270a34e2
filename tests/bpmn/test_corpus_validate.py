"""Every file of the shared corpus is validated and checked without an exception escaping.

Run with ``-s`` to see the counts (files, refusals by code, processes,
buildable processes, the most frequent diagnostic codes).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest

from bpmn.errors import LoadError
from bpmn.load import load_path
from bpmn.model import read_model
from bpmn.validate import validate
from engine.spiff import NOT_BUILDABLE, check_executable
from tests.conftest import SHARED

CORPUS = Path(os.environ.get("PANJEREH_CORPUS", SHARED / "corpus"))
SEVERITIES = {"error", "warning", "info"}


@pytest.mark.corpus
def test_every_corpus_file_is_validated_and_checked_without_exceptions():
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    assert len(files) > 4000, f"the corpus at {CORPUS} looks incomplete ({len(files)} files)"
    refused: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    models = processes = buildable = 0
    inconsistent: list[str] = []
    started = time.perf_counter()
    for path in files:
        try:
            sources = load_path(path)
        except LoadError as exc:
            refused[exc.code] += 1
            continue
        for source in sources:
            models += 1
            model = read_model(source)
            diagnostics = validate(model)
            result = check_executable(model)
            diagnostics += result.diagnostics
            processes += len(result.processes)
            buildable += sum(result.processes.values())
            for d in diagnostics:
                assert d.severity in SEVERITIES and d.code and d.message, (source.name, d)
                assert d.line is None or (isinstance(d.line, int) and d.line > 0), (source.name, d)
                assert d.element_id is None or (isinstance(d.element_id, str) and d.element_id), (source.name, d)
                assert "has no implementation" not in d.message, (source.name, d)  # data stores are supported
                codes[d.code] += 1
            # A process that does not build always comes with a reason.
            failed = [pid for pid, ok in result.processes.items() if not ok]
            if failed and not any(d.code == NOT_BUILDABLE for d in result.diagnostics):
                inconsistent.append(source.name)
    elapsed = time.perf_counter() - started

    print(f"\ncorpus {CORPUS}: {len(files)} files, {models} models loaded, "
          f"{sum(refused.values())} refused {dict(refused.most_common())}")
    print(f"processes checked {processes}, buildable {buildable}; {elapsed:.1f}s")
    print("most frequent diagnostics:", ", ".join(f"{c} {n}" for c, n in codes.most_common(25)))

    assert inconsistent == []
    assert models > 3900
    assert set(refused) <= {"bpmn.not_bpmn", "xml.syntax", "xml.doctype", "xml.empty", "xml.encoding"}
    assert processes > 4000 and buildable > 2000
    assert codes["xsd.invalid"] > 0 and codes["exec.not_buildable"] > 0 and codes["event.unknown_ref"] > 0
