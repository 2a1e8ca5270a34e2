"""What one clause of a text does, for an activity whose performer is known (or not).

:func:`clause_kind` gives ``demand`` (the applicant supplies papers), ``courier`` (he
fetches them from another agency), ``courier_demand`` (fetches and hands them in),
``handover`` (a handover nobody says the direction of), ``output`` (something goes to
the applicant), ``negated`` (explicitly not asked), ``mention`` (named without an
action), or the name of another action (``internal``, ``inquiry``, ``payment``,
``notify``, ``biometric``, ``sign``, ``visit``, ``create``, ``entry``, ``letter``,
``fetch``). :func:`text_kinds` does it for every clause of a text, letting a bare verb
share the next clause's object and a direction at the end of a name count.
"""

from __future__ import annotations

from bpmn.signals import Clause, Reading

__all__ = ["AGENCY", "APPLICANT", "UNKNOWN", "clause_kind", "text_kinds"]

APPLICANT, AGENCY, UNKNOWN = "applicant", "agency", "unknown"
# First words of catalog courier phrases that also hand the paper in.
_HAND_IN = frozenset({"ارائه", "تحویل", "ارسال", "submit", "present", "hand", "bring", "deliver"})


def clause_kind(clause: Clause, performer: str, previous: str | None) -> str:
    """What one clause does, read for an activity whose performer is known (or not)."""
    head = clause.head
    actions = clause.actions
    if "biometric" in actions:
        return "biometric"
    if head is None:
        # A list after «مدارک لازم:» or "(برگ سبز)" continues the clause before it.
        return previous if previous in ("demand", "courier", "courier_demand", "negated") else "mention"
    if clause.negated and (head in ("request", "transfer", "receive", "fetch", "courier")
                           or "request" in actions):
        return "negated"
    # "send an SMS", «ارسال پیامک»: a notification, unless it carries a named paper («اسکن پایان خدمت با ایمیل»).
    if head == "notify" or ("notify" in actions and head in ("transfer", "entry", "output") and not clause.has_docs):
        return "notify"
    if head in ("payment", "internal", "output", "create"):
        return head
    # Persian puts the verb last: «... در دفترخانه حاضر شود یا اجازه‌نامه را ارائه کند» demands papers.
    if head in ("visit", "entry", "sign") and "request" in actions[1:]:
        return "demand"
    if head == "courier":
        # «ارائه پاسخ استعلام», "present the inquiry answer": he fetched it and now hands it in.
        handed = any(h.split(" ", 1)[0] in _HAND_IN for h in clause.hits.courier)
        return "courier_demand" if handed else "courier"
    if head == "inquiry":
        # «دریافت پاسخ استعلام» by the applicant himself is carrying the answer, not an inquiry.
        return "courier" if performer == APPLICANT else "inquiry"
    if head == "request":
        if clause.participle:
            return "mention"
        if clause.nounreq_head and performer == AGENCY and not clause.has_docs:
            return "internal"  # «اسکن مدارک و بایگانی»: the clerk digitises what he already has
        return "output" if clause.to_role and not clause.from_role else "demand"
    if head == "transfer":
        return _transfer(clause, performer)
    if head == "fetch":
        if clause.from_role:
            return "demand"
        elsewhere = clause.from_agency or clause.letter
        # «اخذ کپی مدارک», "take the originals": the agency takes papers from the applicant.
        if not elsewhere and (performer == AGENCY or clause.hits.qualifier or clause.generic_docs):
            return "demand"
        # «اخذ گواهی ماده ۱۸۷», "obtain a certificate": fetching paper from elsewhere (not «اخذ اذن ولی»).
        kind = "courier" if clause.certificate or elsewhere else "fetch"
    elif head == "receive":
        kind = _receive(clause, performer)
    else:
        return head
    # «گواهی را از شهرداری دریافت و به بانک ارائه می‌کند»: fetched, then handed in, in one clause.
    if kind == "courier" and "request" in actions[1:]:
        return "courier_demand"
    return kind


def _transfer(clause: Clause, performer: str) -> str:
    """«تحویل/ارسال», "deliver/send/hand": the direction decides."""
    if clause.participle:
        return "mention"
    if clause.to_role and not clause.from_role:
        return "output"
    if clause.letter and performer != APPLICANT and not clause.by_role:
        return "letter"
    if clause.from_role or clause.by_role or performer == APPLICANT:
        return "demand"
    if clause.to_agency:
        return "output" if performer == AGENCY else "demand"
    return "output" if performer == AGENCY else "handover"


def _receive(clause: Clause, performer: str) -> str:
    """«دریافت», "receive": from the applicant, from another agency, or the applicant receiving."""
    if clause.from_role:
        return "demand"
    if "inquiry" in clause.actions or clause.letter:
        return "courier" if performer == APPLICANT else "letter" if clause.letter else "inquiry"
    if clause.from_agency:
        return "courier" if performer != AGENCY or clause.by_role else "inquiry"
    if clause.by_role or performer == APPLICANT:
        return "output"  # «دریافت پروانه توسط متقاضی»: the applicant receives
    return "demand" if performer == AGENCY else "handover"


def text_kinds(reading: Reading, performer: str) -> tuple[str, ...]:
    """The kind of every clause of a reading, in order."""
    kinds: list[str] = []
    previous: str | None = None
    bare: str | None = None
    visited_agency = False
    for clause in reading.clauses:
        kind = clause_kind(clause, performer, previous)
        # «صدور و تحویل X», "sign and hand in X", «دریافت و بررسی مدارک»: a bare verb shares the
        # next clause's object, and the way it points settles an ambiguous handover.
        if bare in ("output", "create") and kind == "handover":
            kind = bare
        elif bare == "demand" and kind in ("internal", "entry"):
            kind = "demand"
        # «مراجعه به بانک و دریافت گواهی»: what he receives at another agency he carries on.
        if kind == "output" and clause.head in ("receive", "fetch") and visited_agency:
            kind = "courier"
        kinds.append(kind)
        previous = kind
        bare = kind if clause.head is not None and len(clause.text.split(" ")) <= 2 else None
        visited_agency = kind == "visit" and clause.to_agency
    # «تحویل پروانه (به متقاضی)»: a direction in the verbless clauses after a handover is its own.
    clauses = reading.clauses
    for i, clause in enumerate(clauses):
        if clause.head not in ("transfer", "request") or kinds[i] not in ("demand", "handover"):
            continue
        j = i + 1
        while j < len(clauses) and clauses[j].head is None:
            if clauses[j].to_role and not clauses[j].from_role:
                kinds[i:j + 1] = ["output"] * (j + 1 - i)
                break
            j += 1
    return tuple(kinds)
