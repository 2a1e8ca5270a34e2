"""A case that loops back («نقص مدارک» → resubmit) 2,000 times completes, and a step stays as cheap as at the start.

SpiffWorkflow 3.2.0 alone keeps every completed task in the tree; its
``TaskIterator`` stops at depth 1000, so near iteration 500 it finds no READY
task and calls the workflow complete, and each step walks the whole history.
Pruning (``engine.spiff.LiveInstance.prune``) keeps the live tree small.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bpmn.load import load_path
from engine.db import Database
from engine.models import InstanceStatePart
from engine.runtime import Engine

MODEL = Path(__file__).resolve().parents[1] / "data" / "engine" / "resubmit_loop.bpmn"
ITERATIONS = 2000


def test_a_case_resubmitted_2000_times_completes(db: Database, clock) -> None:
    engine = Engine(db, clock)
    deployment = engine.deploy(load_path(MODEL)[0])
    assert not deployment.rejected, deployment.errors
    state = engine.start(deployment.version.id, data={"rounds": 0, "defects": 0}, business_key="LOOP-1")
    parts_seen: list[int] = []
    for i in range(ITERATIONS):
        (task,) = state.human_tasks
        assert task.element_id == "t_submit"
        state = engine.complete_task(task.id, user="applicant", data={"pages": 3 if i == ITERATIONS - 1 else 1})
        if i in (10, ITERATIONS // 2, ITERATIONS - 2):
            with db.session_scope(readonly=True) as session:
                parts_seen.append(session.scalar(select(func.count()).select_from(InstanceStatePart)
                                                 .where(InstanceStatePart.instance_id == state.id)))
    (issue,) = state.human_tasks
    assert issue.element_id == "t_issue"
    state = engine.complete_task(issue.id, user="clerk", data={})
    assert state.status == "completed"
    assert state.data["rounds"] == ITERATIONS and state.data["defects"] == ITERATIONS - 1
    history = engine.history(state.id)
    assert history.count("t_submit") == ITERATIONS and history.count("t_defect") == ITERATIONS - 1
    assert history[0] == "start" and history[-1] == "end"
    # The stored state does not grow with the iterations done.
    assert max(parts_seen) == min(parts_seen), parts_seen
    # The cost of a step is measured by bench/engine.py (loop_step_1000_vs_10), not asserted here.
