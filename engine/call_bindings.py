"""Which version of a process in another model a call activity runs: Camunda's call bindings.

Camunda 7 models say it on the call activity, and tag the called process:

* ``camunda:calledElementBinding``: ``latest`` (the default), ``version``,
  ``versionTag`` or ``deployment``;
* ``camunda:calledElementVersion``: the version number, with ``version``;
* ``camunda:calledElementVersionTag``: the tag, with ``versionTag``;
* ``camunda:versionTag`` on the called ``process`` element.

(``camunda:calledElementTenantId`` gets a warning: there are no tenants here.)

Attributes are matched by local name, so any prefix bound to Camunda's
namespace (or a copy of it) works. What each binding means here, resolved
when an instance starts and then pinned for the instance's life
(``Engine._resolve_calls``):

* ``latest``: the most recently deployed version holding the process;
* ``version`` N: the N-th deployed version holding the process, counting from
  the oldest (as Camunda numbers a process's versions: one per deployment
  that holds it);
* ``versionTag`` T: the most recently deployed version whose process element
  carries the version tag T;
* ``deployment``: the process of the caller's own model. For a process that
  only another model holds it can never be met, so deployment refuses it.

Deployment stores what it read in the version's spec (:func:`with_bindings`),
so starting an instance does not parse the BPMN again. One model runs one
version of each process it calls: two call activities of one model asking
for the same process with different bindings are refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bpmn.diagnostics import Diagnostic
from bpmn.model import FlowNode, Model
from bpmn.references import describe_node, is_dynamic_call

CALL_BINDING = "exec.call_binding"

LATEST, VERSION, VERSION_TAG, DEPLOYMENT = "latest", "version", "versionTag", "deployment"
_KINDS = (LATEST, VERSION, VERSION_TAG, DEPLOYMENT)
MAX_TAG_LENGTH = 200  # the width of version_processes.version_tag


@dataclass(frozen=True)
class Binding:
    """How one call picks the version of the process it calls."""

    kind: str = LATEST
    version: int | None = None
    tag: str | None = None

    def describe(self) -> str:
        """In words, for messages: "the newest deployed version", "version 3", ..."""
        if self.kind == VERSION:
            return f"version {self.version}"
        if self.kind == VERSION_TAG:
            return f"the newest deployed version tagged '{self.tag}'"
        return "the newest deployed version"

    def to_json(self) -> dict[str, Any]:
        """The binding as stored in a version's spec."""
        return {"kind": self.kind, **({"version": self.version} if self.version is not None else {}),
                **({"tag": self.tag} if self.tag is not None else {})}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Binding:
        """The binding stored by :meth:`to_json`."""
        return cls(str(value.get("kind", LATEST)), value.get("version"), value.get("tag"))


LATEST_BINDING = Binding()


def _attr(attrs: Mapping[str, str], local: str) -> str | None:
    """The attribute named ``local`` in any namespace (or none), stripped."""
    value = next((v for k, v in attrs.items() if k.rpartition("}")[2] == local), None)
    return value.strip() if value is not None else None


def version_tags(model: Model) -> dict[str, str]:
    """The version tag of each process of ``model`` that has one (``camunda:versionTag``)."""
    tags = {}
    for process in model.processes:
        element = process.element
        if element is None:
            continue
        tag = _attr(element.attrib, "versionTag")
        if tag:
            tags[process.id] = tag[:MAX_TAG_LENGTH]
    return tags


def calls(model: Model) -> Iterator[tuple[FlowNode, str]]:
    """Each call activity of ``model`` that names the process it calls (not an expression), with that id."""
    for process in model.processes:
        for node in process.nodes.values():
            called = (node.called_element or "").strip()
            if node.tag == "callActivity" and called and not is_dynamic_call(called):
                yield node, called


def _read(node: FlowNode, called: str, own: bool) -> tuple[Binding | None, Diagnostic | None]:
    """The binding one call activity asks for, or the diagnostic saying why it cannot have it."""
    kind = _attr(node.attrs, "calledElementBinding") or LATEST
    who = describe_node(node)

    def refuse(why: str) -> tuple[None, Diagnostic]:
        return None, Diagnostic("error", CALL_BINDING, f"the {who} calls the process {called} {why}",
                                node.id, node.line)

    if kind not in _KINDS:
        return refuse(f"with the binding '{kind}', which Panjereh does not know (it knows "
                      f"{', '.join(_KINDS)})")
    if own:
        if kind in (VERSION, VERSION_TAG):
            return None, Diagnostic("warning", CALL_BINDING,
                                    f"the {who} asks for {kind} binding of the process {called}, which this "
                                    "model holds: the engine runs this model's own process", node.id, node.line)
        return LATEST_BINDING, None
    if kind == DEPLOYMENT:
        return refuse("with the deployment binding (the process of the same model), but this model does not "
                      "hold it: deploy them in one file, or bind to the latest version")
    if kind == VERSION:
        raw = _attr(node.attrs, "calledElementVersion") or ""
        if not raw.isdecimal() or int(raw) < 1:
            return refuse(f"bound to a version, but its version '{raw}' is not a number from 1 up (Panjereh "
                          "resolves the version when the instance starts and evaluates no expression there)")
        return Binding(VERSION, version=int(raw)), None
    if kind == VERSION_TAG:
        tag = _attr(node.attrs, "calledElementVersionTag") or ""
        if not tag or "${" in tag or "#{" in tag or len(tag) > MAX_TAG_LENGTH:
            return refuse(f"bound to a version tag, but its tag '{tag[:60]}' is missing, an expression or longer "
                          f"than {MAX_TAG_LENGTH} characters")
        return Binding(VERSION_TAG, tag=tag), None
    return LATEST_BINDING, None


def read_bindings(model: Model) -> tuple[dict[str, Binding], list[Diagnostic]]:
    """The binding of each process ``model`` calls in another model, and what cannot be honoured."""
    own = {p.id for p in model.processes}
    found: dict[str, tuple[Binding, FlowNode]] = {}
    diagnostics = []
    for node, called in calls(model):
        binding, problem = _read(node, called, called in own)
        if problem is not None:
            diagnostics.append(problem)
        if _attr(node.attrs, "calledElementTenantId"):
            diagnostics.append(Diagnostic(
                "warning", CALL_BINDING, f"the {describe_node(node)} names a tenant for the process {called}; "
                "Panjereh has no tenants and looks among all deployed versions", node.id, node.line))
        if binding is None or called in own:
            continue
        earlier = found.get(called)
        if earlier is None:
            found[called] = (binding, node)
        elif earlier[0] != binding:
            diagnostics.append(Diagnostic(
                "error", CALL_BINDING,
                f"the {describe_node(node)} asks for {binding.describe()} of the process {called}, but the "
                f"{describe_node(earlier[1])} asks for {earlier[0].describe()}: a case runs one version of a "
                "process it calls, so give them the same binding", node.id, node.line))
    return {called: binding for called, (binding, _) in found.items()}, diagnostics


def with_bindings(specs: Mapping[str, Any], model: Model, bindings: Mapping[str, Binding]) -> dict[str, Any]:
    """``specs`` plus the model's call bindings and version tags (left out when it has none)."""
    out = dict(specs)
    stored = {called: b.to_json() for called, b in bindings.items() if b != LATEST_BINDING}
    if stored:
        out["call_bindings"] = stored
    tags = {pid: tag for pid, tag in version_tags(model).items() if pid in specs.get("processes", {})}
    if tags:
        out["version_tags"] = tags
    return out


def bindings_of(specs: Mapping[str, Any]) -> dict[str, Binding]:
    """The call bindings a version's stored spec holds (by called process id; absent means latest)."""
    return {called: Binding.from_json(value) for called, value in (specs.get("call_bindings") or {}).items()}


def tags_of(specs: Mapping[str, Any]) -> dict[str, str]:
    """The version tags a version's stored spec gives its processes."""
    return dict(specs.get("version_tags") or {})
