"""The redesign rules table: what a once-only redesign does around each document's inquiry.

``data/redesign_rules.yaml`` says, per catalog document, which fallback runs
when the inquiry fails or does not answer (a clerk checks the original, or the
applicant uploads it), whether the applicant's consent or a preview is needed
first, and after how long a registry counts as not answering. :func:`load_rules`
checks the file (known keys, fallback kinds, ISO 8601 durations, document ids
of the catalog) and raises :class:`~bpmn.errors.CatalogError` naming the entry
at fault: like the catalog, a broken table is a start-up error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bpmn.catalog import Catalog
from bpmn.errors import CatalogError

RULES_PATH = Path(__file__).resolve().parent / "data" / "redesign_rules.yaml"
FALLBACK_KINDS = ("clerk", "upload")
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")


@dataclass(frozen=True)
class Rule:
    """What the redesign does around one inquiry: fallback kind, consent, preview, timeout."""

    fallback: str = "clerk"
    consent: bool = False
    preview: bool = False
    timeout: str = "PT2M"


@dataclass(frozen=True)
class Rules:
    """The redesign rules table: defaults and per-document settings."""

    defaults: Rule
    documents: Mapping[str, Rule]

    def for_documents(self, doc_ids: Iterable[str], overrides: Mapping[str, str] | None = None) -> Rule:
        """One rule for an inquiry covering ``doc_ids``: the strictest of theirs.

        A clerk fallback wins over an upload one (an original must be seen),
        consent and preview are needed when any document needs them, and the
        longest timeout applies. ``overrides`` maps document ids to a fallback kind.
        """
        rules = [self.documents.get(d, self.defaults) for d in doc_ids] or [self.defaults]
        kinds = [(overrides or {}).get(d, r.fallback) for d, r in zip(doc_ids, rules, strict=False)] or \
            [self.defaults.fallback]
        return Rule(
            fallback="clerk" if "clerk" in kinds else "upload",
            consent=any(r.consent for r in rules),
            preview=any(r.preview for r in rules),
            timeout=max((r.timeout for r in rules), key=duration_seconds),
        )


def duration_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration (years and months counted as 365 and 30 days)."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    units = (365 * 86400, 30 * 86400, 7 * 86400, 86400, None, 3600, 60, 1)
    total = 0.0
    for group, unit in zip(m.groups(), units, strict=True):
        if group and unit:
            total += int(group[:-1]) * unit
    return total


def is_duration(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 duration such as ``PT2M``."""
    return bool(_DURATION.match(text))


def _rule(raw: Any, base: Rule, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected a mapping of fallback/consent/preview/timeout")
    unknown = set(raw) - {"fallback", "consent", "preview", "timeout"}
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
    fallback = raw.get("fallback", base.fallback)
    if fallback not in FALLBACK_KINDS:
        raise CatalogError(f"{where}: fallback must be one of {FALLBACK_KINDS}, not {fallback!r}")
    timeout = str(raw.get("timeout", base.timeout))
    if not is_duration(timeout):
        raise CatalogError(f"{where}: timeout {timeout!r} is not an ISO 8601 duration")
    for key in ("consent", "preview"):
        if not isinstance(raw.get(key, False), bool):
            raise CatalogError(f"{where}: {key} must be true or false")
    return Rule(fallback, bool(raw.get("consent", base.consent)), bool(raw.get("preview", base.preview)), timeout)


def load_rules(path: str | Path | None = None, catalog: Catalog | None = None) -> Rules:
    """Read and check the rules table; raises :class:`CatalogError` naming the problem."""
    file = Path(path) if path is not None else RULES_PATH
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{file}: cannot read the redesign rules: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("defaults"), dict):
        raise CatalogError(f"{file}: expected 'defaults' and 'documents' mappings")
    defaults = _rule(data["defaults"], Rule(), f"{file}: defaults")
    docs: dict[str, Rule] = {}
    for doc_id, raw in (data.get("documents") or {}).items():
        if catalog is not None and doc_id not in catalog.documents:
            raise CatalogError(f"{file}: documents '{doc_id}': not a document of the catalog")
        docs[doc_id] = _rule(raw or {}, defaults, f"{file}: documents '{doc_id}'")
    return Rules(defaults, docs)


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    """The packaged rules, loaded once."""
    return load_rules()
