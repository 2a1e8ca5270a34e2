"""Benchmark of `panjereh analyze` (a script, not a test).

Prints what it measures, and as its last line one JSON object:

* ``corpus_files`` / ``corpus_seconds`` - every file of ../shared/corpus analysed
  with the command's own pipeline (one process per core, as the CLI does);
* ``model100_seconds`` / ``model500_seconds`` - full analysis (load, model,
  validation, executability check, detection) of generated 100- and
  500-activity models, best of 5 runs in this process;
* ``growth_500_vs_100`` - their ratio (5 means linear).

Targets (issue 2): corpus under 60 s on 2 cores, 500 activities under 0.5 s,
growth close to 5.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# bench/ goes last: bench/engine.py must not shadow the engine package.
sys.path.append(str(Path(__file__).resolve().parent))

from modelgen import generate

from bpmn.catalog import default_catalog
from bpmn.load import load_bytes
from engine.analysis import analyze_source
from webui.cli import _reports

SHARED = Path(os.environ.get("PANJEREH_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def time_model(n: int, runs: int = 5) -> float:
    data = generate(n)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        report = analyze_source(load_bytes(data, f"generated-{n}.bpmn"))
        best = min(best, time.perf_counter() - start)
    assert report["summary"]["activities"] == n
    return best


def main() -> None:
    default_catalog()  # loaded once, as a running server would
    analyze_source(load_bytes(generate(10), "warm-up.bpmn"))  # compile schemas and patterns
    t100 = time_model(100)
    t500 = time_model(500)
    print(f"model100: {t100:.3f}s  model500: {t500:.3f}s  growth: {t500 / t100:.2f}")

    corpus = SHARED / "corpus"
    files = sorted(str(p) for p in corpus.rglob("*") if p.is_file())
    start = time.perf_counter()
    outcome: collections.Counter[str] = collections.Counter()
    reports = 0
    for rep in _reports(files, os.cpu_count() or 1):
        reports += 1
        outcome["ok" if "error" not in rep else "rejected:" + rep["error"]["code"]] += 1
    corpus_seconds = time.perf_counter() - start
    print(f"corpus: {len(files)} files, {reports} reports in {corpus_seconds:.1f}s")
    for key, count in outcome.most_common():
        print(f"  {key}: {count}")
    print(
        json.dumps(
            {
                "corpus_files": len(files),
                "corpus_reports": reports,
                "corpus_seconds": round(corpus_seconds, 2),
                "model100_seconds": round(t100, 4),
                "model500_seconds": round(t500, 4),
                "growth_500_vs_100": round(t500 / t100, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
