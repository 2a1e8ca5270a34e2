"""Deploying a model: a validated version becomes a deployed version, its spec built once.

:func:`check_model` gathers every reason a model cannot run: the validation
of ``bpmn.validate`` (schema, references, structure), whether SpiffWorkflow
can build each executable process (``engine.spiff.check_executable``) and
whether the safe evaluator can run its scripts and expressions
(``engine.scriptcheck``). Any *error* rejects the model.

:func:`deploy_model` then parses the model once more with a fresh parser
(``engine.spiff.build_specs``), and stores the BPMN bytes, the form files and
the JSON spec in one ``process_versions`` row (``engine.versions``): the spec
is stored once per version, never inside instances, and each process of the
engine restores it once and caches it (``engine.spiff``). Deploying the same
bytes again returns the existing version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy.orm import Session

from bpmn.diagnostics import Diagnostic, sort_key
from bpmn.load import BPMN_NS, Source
from bpmn.model import Model, read_model
from bpmn.references import describe_node
from bpmn.validate import validate
from engine.call_bindings import Binding, calls, read_bindings, with_bindings
from engine.clock import Clock
from engine.data_associations import data_association_warnings
from engine.models import EventSubscription, HumanTask, ProcessVersion, column_length, fit_column
from engine.sandbox import Sandbox
from engine.scriptcheck import check_model_scripts
from engine.spiff import build_specs, check_executable
from engine.versions import Versions, VersionView


@dataclass(frozen=True)
class Deployment:
    """The outcome of a deployment: the version (``None`` when rejected) and every diagnostic."""

    version: VersionView | None
    processes: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default_factory=tuple)

    @property
    def rejected(self) -> bool:
        """True when the model did not pass the checks (``version`` is then ``None``)."""
        return self.version is None

    @property
    def errors(self) -> list[Diagnostic]:
        """The diagnostics that rejected the model."""
        return [d for d in self.diagnostics if d.severity == "error"]


def check_model(model: Model, sandbox: Sandbox | None = None) -> list[Diagnostic]:
    """Every diagnostic that bears on running ``model`` (errors reject it), sorted."""
    found = list(validate(model))
    found += check_executable(model).diagnostics
    found += check_model_scripts(model, sandbox)
    found += check_engine_limits(model)
    found += data_association_warnings(model.source.root)
    found += read_bindings(model)[1]
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=sort_key)


MAX_ID_LENGTH = column_length(HumanTask.element_id)  # as the instance, job, inbox and inquiry rows keep ids
MAX_EVENT_NAME = column_length(EventSubscription.name)  # message and signal names


def check_engine_limits(model: Model) -> list[Diagnostic]:
    """What the model asks of the engine that it does not do (the library would silently ignore it).

    * ``startQuantity``/``completionQuantity`` below 1 (an error: BPMN needs
      at least one token) or above 1 (a warning: the engine runs an activity
      once per arriving token and sends one token on, as if it were 1);
    * a negative ``loopMaximum`` or a negative constant ``loopCardinality``:
      no number of repetitions can be negative (BPMN 2.0 §13.3.7);
    * an id longer than the engine's columns keep (``MAX_ID_LENGTH``: the
      ids of processes and of the elements instances stop at are stored with
      their rows), or a message or signal name longer than ``MAX_EVENT_NAME``:
      PostgreSQL refused the rows of every instance, SQLite kept them.
    """
    out: list[Diagnostic] = []
    for el in model.source.root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
            continue
        local = etree.QName(el).localname
        owner = el.getparent()
        ident = el.get("id") or ""
        if len(ident) > MAX_ID_LENGTH:
            out.append(Diagnostic("error", "engine.id_length", f"{local} {ident[:40]}… has an id of {len(ident)} "
                                  f"characters; the engine keeps at most {MAX_ID_LENGTH}", ident, el.sourceline))
        name = el.get("name") or ""
        if local in ("message", "signal") and len(name) > MAX_EVENT_NAME:
            out.append(Diagnostic("error", "engine.event_name", f"the {local} {ident} has a name of {len(name)} "
                                  f"characters; the engine keeps at most {MAX_EVENT_NAME}", ident, el.sourceline))
        for attr in ("startQuantity", "completionQuantity"):
            value = (el.get(attr) or "1").strip()
            if value != "1":
                below = _negative(value) or value == "0"
                out.append(Diagnostic("error" if below else "warning", "engine.token_quantity",
                                      f"{local} {el.get('id')} has {attr}={value!r}; " + (
                                          "an activity needs at least one token" if below else
                                          "the engine runs an activity once per arriving token and sends one "
                                          "token on, as if it were 1"), el.get("id"), el.sourceline))
        if local == "standardLoopCharacteristics" and _negative(el.get("loopMaximum")):
            owner_id = owner.get("id") if owner is not None else None
            out.append(Diagnostic("error", "engine.loop_maximum",
                                  f"the loop of {owner_id} has a negative loopMaximum ({el.get('loopMaximum')})",
                                  owner_id, el.sourceline))
        if local == "loopCardinality" and _negative(el.text):
            task = owner.getparent() if owner is not None else None
            out.append(Diagnostic("error", "engine.loop_cardinality",
                                  f"the multi-instance activity {task.get('id') if task is not None else '?'} has a "
                                  f"negative number of instances ({(el.text or '').strip()})",
                                  task.get("id") if task is not None else None, el.sourceline))
    return out


def _negative(text: str | None) -> bool:
    try:
        return int((text or "").strip()) < 0
    except ValueError:
        return False


def deploy_model(session: Session, clock: Clock, source: Source, *, key: str | None = None, name: str | None = None,
                 form_files: Mapping[str, Any] | None = None, deployed_by: str | None = None,
                 sandbox: Sandbox | None = None) -> Deployment:
    """Check ``source`` and, if nothing rejects it, store it as the newest version of ``key``.

    ``key`` defaults to the id of the model's first runnable process.
    """
    model = read_model(source)
    diagnostics = check_model(model, sandbox)
    if any(d.severity == "error" for d in diagnostics):
        return Deployment(None, (), tuple(diagnostics))
    built = build_specs(model)
    extra = [d for d in built.diagnostics if d not in diagnostics]
    diagnostics = sorted(diagnostics + extra, key=sort_key)
    if built.specs is None or any(d.severity == "error" for d in extra):
        return Deployment(None, (), tuple(diagnostics))
    versions = Versions(session, clock)
    bindings = read_bindings(model)[0]
    diagnostics = sorted(diagnostics + _calls_elsewhere(model, versions, bindings), key=sort_key)
    version = versions.deploy(
        key=key or built.processes[0], bpmn=source.data, name=name or _model_name(model, built.processes[0]),
        form_files=dict(form_files or {}), spec=with_bindings(built.specs, model, bindings), deployed_by=deployed_by)
    return Deployment(version, built.processes, tuple(diagnostics))


CALL_NOT_DEPLOYED = "exec.call_not_deployed"
CALL_LINKED = "exec.call_linked"


def _calls_elsewhere(model: Model, versions: Versions, bindings: Mapping[str, Binding]) -> list[Diagnostic]:
    """What the call activities that call a process of another model will run, as deployed now.

    An instance resolves each such call when it starts, by the call's binding
    (``engine.call_bindings``), and keeps that version: say which one it is
    now, or that none is yet.
    """
    out = []
    for node, called in calls(model):
        binding = bindings.get(called)
        if binding is None:  # a process of this model (or a binding check_model refused)
            continue
        holder = versions.holding(called, binding)
        if holder is None:
            out.append(Diagnostic(
                "warning", CALL_NOT_DEPLOYED,
                f"the {describe_node(node)} calls {binding.describe()} of the process {called}, which no "
                "deployed version provides: deploy it before starting instances, or they fail when they reach "
                "this step", node.id, node.line))
        else:
            view = versions.get(holder)
            out.append(Diagnostic(
                "info", CALL_LINKED,
                f"the {describe_node(node)} calls the process {called} of another model: an instance runs "
                f"{binding.describe()} of it, as deployed when the instance starts (now {view.key} "
                f"version {view.number}), and keeps that version", node.id, node.line))
    return out


def _model_name(model: Model, process_id: str) -> str:
    """The version's name: its process's (cut to its column, an ellipsis ending it)."""
    process = model.process(process_id)
    return fit_column((process.display_name if process is not None else "") or process_id, ProcessVersion.name) \
        or process_id
