"""Conformance: the betsy BPMN suite (../shared/corpus/betsy) run through our engine, persisted between steps.

SpiffWorkflow 3.2.0 alone, driven by a careful harness, passes 85 of the 136
tests, rejects 107 of the 301 constraint files and also rejects 18 valid
processes. Ours must not be worse on any of the three (harness:
``tests/engine/betsy_harness.py``), nor fall back from what it reached
(``OURS_*``: raise them when the engine gets better).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.engine.betsy_harness import run_betsy

LIBRARY_PASSED, LIBRARY_REJECTED, LIBRARY_VALID_REJECTED = 85, 107, 18
# 145, not the 156 of before: 10 constraint files were refused only for lacking a start event, which
# BPMN allows where there is no end event either (they break rules the check does not test: data
# association types, references of call activities and events, events without flows), and one
# (EXT105_2) has a sub-process with a start event and no end event, which BPMN forbids and the check
# warns about: the engine runs it to the end of its paths, as Camunda does, instead of refusing it.
# 203, not 146, since bpmn.event_rules: triggers an event cannot have where it stands, cancel events
# outside transactions, non-interrupting error starts and boundaries, flows into event sub-processes,
# event-based gateways leading to something other than one waiting event, links that do not pair up,
# escalations thrown without a code, event-based gateways with one branch, empty ad-hoc sub-processes.
OURS_PASSED, OURS_REJECTED, OURS_VALID_REJECTED = 113, 203, 9


@pytest.mark.corpus
def test_betsy_conformance(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("engine.worker").setLevel(logging.ERROR)  # dead jobs are part of some tests
    figures, processes, _ = run_betsy(shared / "corpus" / "betsy")
    with capsys.disabled():
        print(f"\n{figures}")
        failed = [p.name for p in processes if not p.passed]
        print(f"betsy: failing tests ({len(failed)}): {', '.join(failed)}")
    assert figures.processes == 136 and figures.constraints == 301
    assert figures.passed >= OURS_PASSED > LIBRARY_PASSED
    assert figures.constraints_rejected >= OURS_REJECTED > LIBRARY_REJECTED
    assert figures.valid_rejected <= OURS_VALID_REJECTED < LIBRARY_VALID_REJECTED
    assert figures.rejected <= LIBRARY_VALID_REJECTED  # even counting the ones rejected on purpose
    # The suite's own facts: two ad-hoc tests expect a marker no script writes.
    assert not any(p.passed for p in processes if p.name.startswith("AdHocSubProcess_"))
