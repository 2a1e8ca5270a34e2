"""`panjereh analyze` over the whole shared corpus: a report for every file, never an exception.

Every file of ../shared/corpus (models, DMN tables, forms, JSON, text) goes
through the same guarded pipeline as the command line; each yields a report
that validates against the contract, either analysed or refused with a clean
error code. Prints the counts (ok / rejected by reason).
"""

from __future__ import annotations

import collections
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jsonschema
import pytest

from engine.analysis import analyze_file

pytestmark = pytest.mark.corpus


def _analyze(path: str) -> list[dict]:
    # No guard here: an exception must fail the test, not become a report.
    return analyze_file(path)


def test_every_corpus_file_gives_a_valid_report(shared: Path):
    corpus = shared / "corpus"
    files = sorted(str(p) for p in corpus.rglob("*") if p.is_file())
    assert len(files) > 4000
    schema = json.loads((shared / "contracts" / "analysis.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    outcome: collections.Counter[str] = collections.Counter()
    findings: collections.Counter[str] = collections.Counter()
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        for path, reports in zip(files, pool.map(_analyze, files, chunksize=32), strict=True):
            assert reports, path
            for rep in reports:
                errors = list(validator.iter_errors(rep))
                assert not errors, (path, errors[0].message)
                if "error" in rep:
                    assert rep["error"]["code"] and rep["error"]["message"], path
                    outcome["rejected:" + rep["error"]["code"]] += 1
                else:
                    outcome["ok"] += 1
                    findings.update(f["kind"] for f in rep["findings"])
    print(f"\ncorpus: {len(files)} files -> {sum(outcome.values())} reports")
    for key, count in outcome.most_common():
        print(f"  {key}: {count}")
    print("  findings by kind:", dict(findings.most_common()))
    model_files = [f for f in files if f.lower().endswith((".bpmn", ".bpmn2", ".bpmn20.xml"))]
    assert outcome["ok"] >= 0.9 * len(model_files)
