"""The words that decide what a clause of a label does, compiled once per catalog.

:mod:`bpmn.signals` reads texts with a :class:`Vocabulary`: the catalog's phrase lists
(request verbs, qualifiers, internal processing, inquiries, payments, couriers, applicant
roles) plus the action words detection needs that are not document signals and so are
not in the catalog — handovers and their direction, visits, signatures, biometrics,
notifications, drafting, data entry — and the markers around them (letters, electronic
channels, organisations, foreign or informal papers, negation). Every list is compiled
into a prefix-tree regular expression over the normalised text (:mod:`bpmn.text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bpmn.catalog import Catalog
from bpmn.text import normalize

__all__ = ["LETTER_FA", "Vocabulary"]

# ---------------------------------------------------------------- vocabulary beyond the catalog
# Action words that decide what a clause does but are not document signals, so the
# catalog does not list them. Written naturally; normalised when compiled.
_EXTRA: dict[str, tuple[str, ...]] = {
    "request": (
        "ارائه دهد", "ارائه کند", "ارائه نماید", "ارائه شود", "ارائه گردد", "ارائه دهید", "بیاورد",
        "همراه بیاورد", "همراه داشته باشد", "ضمیمه کند", "پیوست کند", "بارگذاری کند", "بارگذاری شود",
        "submits", "submitting", "provides", "providing", "presents", "presenting", "brings", "bringing",
        "uploads", "uploading", "attaches", "attaching", "hands in", "handing in", "must be submitted",
        "must be provided", "must be attached", "must be presented", "to be submitted", "to be provided",
        "is submitted by", "are submitted by", "are handed in", "is handed in", "request", "requests",
        "requesting", "ask for", "asks for", "require", "requires", "مطالبه", "submitted by", "provided by",
        "presented by", "uploaded by", "delivered by", "handed in by", "brought by"),
    "transfer": (
        "تحویل", "ارسال", "فرستادن", "ارسال کردن", "عودت", "استرداد", "بازگرداندن", "برمی گرداند", "برگرداندن",
        "deliver", "delivers", "hand over", "hands over", "hand", "send", "sends", "give", "gives", "mail",
        "post", "return", "forward", "delivery of", "handover of", "sending of"),
    "receive": ("دریافت", "تحویل گرفتن", "receive", "receives", "receiving", "collect", "collects", "take",
                "takes"),
    "fetch": ("اخذ", "گرفتن", "تهیه", "obtain", "obtains", "get", "gets", "fetch", "fetches", "pick up"),
    "notify": (
        "پیامک", "ارسال پیامک", "اطلاع", "اطلاع رسانی", "ابلاغ", "اعلام نتیجه", "ایمیل", "پست الکترونیک",
        "notify", "notifies", "inform", "informs", "email", "e mail", "sms", "text message", "remind"),
    "visit": (
        "مراجعه", "مراجعه حضوری", "حضور", "حضوری", "حاضر شود", "حاضر شوند", "attend", "attends",
        "appear", "appears", "in person", "come to", "go to", "visit the"),
    "sign": ("امضا", "امضای", "امضا و", "sign", "signs", "signing"),
    "biometric": (
        "عکس بیومتریک", "اخذ عکس", "اثر انگشت", "تصویر زنده", "عکس زنده", "تصویر چهره", "چهره نگاری",
        "live photo", "fingerprint", "fingerprints", "biometric", "biometrics", "capture a photo",
        "photo is taken", "photos are taken"),
    "create": (
        "تکمیل", "تنظیم", "پر کردن", "تهیه پیش نویس", "fill in", "fill out", "complete the", "draft",
        "drafts", "prepare", "prepares"),
    "entry": (
        "ثبت", "اعلام", "ورود", "درج", "وارد کردن", "enter", "enters", "declare", "record", "records",
        "register", "registers", "type in", "look up", "looks up", "looks"),
    "internal": ("تصمیم گیری", "طرح در کمیته", "decide", "assess"),
    "inquiry": ("query", "queries", "web service", "استعلام"),
    "payment": ("پرداخت", "واریز", "pay", "pays", "collect the fee", "collect the permit fee"),
    "output": ("صدور", "چاپ", "issue", "issues", "print"),
}
# Catalog request phrases whose direction depends on who acts: they are read as
# handovers (to or from the applicant) or as fetching, never as a demand by themselves.
_FORCED: dict[str, tuple[str, ...]] = {
    "transfer": ("تحویل", "ارسال", "deliver", "hand over"),
    "fetch": ("دریافت گواهی از", "اخذ گواهی", "تهیه گواهی", "obtain", "applicant must obtain"),
}
# Markers: words that qualify a clause without being its action.
_LETTER = ("اعلامیه", "مکاتبه", "مکاتبات", "پاسخ کتبی", "جواب کتبی", "letter", "letters", "correspondence",
           "written reply", "written answer", "memo")
# «نامه» alone is a letter; after another noun it ends a compound (اجاره‌نامه, شرکت‌نامه, بیمه‌نامه)
# that ZWNJ normalisation has split into two words.
LETTER_FA = re.compile(r"(?:(?<![^ ])(?:ارسال|تنظیم|تهیه|دریافت|صدور|نگارش|نوشتن|طی|با|و|یک|اخذ|تحویل|به|از) |^)"
                        r"نامه(?:ای|های|ها)?(?![^ ])")
# What a fetch brings back when no catalog name says it: a certificate, an answer, a clearance.
_CERTIFICATE = ("گواهی", "گواهینامه", "تاییدیه", "مفاصا", "مفاصاحساب", "استعلام", "پاسخ استعلام", "certificate",
                "clearance", "confirmation", "attestation", "statement", "extract")
_ELECTRONIC = ("الکترونیک", "الکترونیکی", "برخط", "سامانه", "سیستمی", "electronic", "electronically",
               "online", "system", "web service", "e mail", "email", "portal")
_INTERNAL_NOTE = ("داخلی", "internal", "inter office")
_GENERIC_DOCS = ("مدارک", "مدرک", "مدرکی", "مستندات", "اسناد", "document", "documents", "papers", "paperwork",
                 "certificates", "evidence")
# Said right next to a document name, these make a partial document unreplaceable.
_FOREIGN = ("خارجی", "اتباع", "تبعه", "foreign", "foreigner", "foreigners", "non iranian")
_INFORMAL = ("عادی", "غیر رسمی", "بنگاهی", "دستنویس", "informal", "unofficial", "handwritten", "unregistered")
# English «no» is mostly a determiner ("no criminal record", "no violations"): only fixed phrases count.
_NEGATION = ("نمی", "نیست", "ندارد", "نیازی", "نباید", "هیچ", "بدون ارائه", "بدون نیاز", "not", "nothing",
             "never", "doesn t", "don t", "isn t", "no need", "no documents", "no document", "no paper",
             "no papers", "no longer", "without submitting", "without presenting")
_NOT_INVOLVED = ("not involved", "no documents", "no document", "nothing is asked", "is not asked",
                 "مدرکی دریافت نمی", "مدرکی بارگذاری نمی", "مدرکی ارائه نمی", "هیچ مدرکی", "دخالتی ندارد",
                 "نقشی ندارد")
# Where a handover goes: organisations and desks (the agency side).
_AGENCY = (
    "اداره", "اداره کل", "دفتر", "دفترخانه", "سردفتر", "شعبه", "اتحادیه", "شهرداری", "سازمان", "دانشگاه",
    "بانک", "کارشناس", "کارمند", "متصدی", "مسئول", "مامور", "واحد", "مرکز", "پیشخوان", "باجه", "کمیته",
    "کمیسیون", "هیئت", "رئیس", "مدیر", "معاون", "معاونت", "دبیرخانه", "بایگانی", "کارگزینی", "منابع انسانی",
    "وزارت", "پلیس", "دادگاه", "مرجع", "ستاد", "خدمات", "امور", "شورا", "نیروی انتظامی", "ثبت احوال",
    "office", "offices", "desk", "counter", "department", "dept", "unit", "manager", "head", "director",
    "hr", "committee", "back office", "front desk", "registry", "inspector", "agent", "staff", "team",
    "board", "authority", "agency", "ministry", "municipality", "bank", "university", "police", "notary",
    "branch", "administration", "centre", "center", "fund", "finance", "officer", "clerk", "court",
    "service", "services", "support", "station", "organisation", "organization", "registrar", "council",
    "insurer")


def _alternation(phrases: Iterable[str]) -> str:
    """One regex for many normalised phrases, as a prefix tree (a flat alternation of hundreds of
    phrases would be tried one by one at every position). Longer continuations are tried first,
    so the longest phrase wins at a position, and backtracking still finds a shorter one."""
    root: dict[str, dict] = {}
    for phrase in {normalize(p) for p in phrases} - {""}:
        node = root
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root) or "(?!)"


def _words(phrases: Iterable[str]) -> re.Pattern[str]:
    """Whole-word matcher for phrases in the spaced normal form (plural endings allowed)."""
    return re.compile(f"(?<![^ ])(?:{_alternation(phrases)})(?:ها|های|s)?(?![^ ])")


class Vocabulary:
    """The action words, markers and role words, compiled once from a catalog."""

    def __init__(self, catalog: Catalog) -> None:
        phrases = catalog.phrases
        qualifiers = {normalize(p) for p in (*phrases.qualifier.fa, *phrases.qualifier.en)}
        request = [p for p in (*phrases.request.fa, *phrases.request.en) if normalize(p) not in qualifiers]
        categories: dict[str, list[str]] = {
            "request": request + list(_EXTRA["request"]),
            "nounreq": sorted(qualifiers & {normalize(p) for p in (*phrases.request.fa, *phrases.request.en)}),
            "internal": [*phrases.internal_processing.fa, *phrases.internal_processing.en, *_EXTRA["internal"]],
            "inquiry": [*phrases.already_inquiry.fa, *phrases.already_inquiry.en, *_EXTRA["inquiry"]],
            "payment": [*phrases.payment.fa, *phrases.payment.en, *_EXTRA["payment"]],
            "courier": [*phrases.courier.fa, *phrases.courier.en],
        }
        for name in ("transfer", "receive", "fetch", "notify", "visit", "sign", "biometric", "create", "entry",
                     "output"):
            categories.setdefault(name, []).extend(_EXTRA[name])
        # Each phrase belongs to the first category that claims it, in this order of precedence:
        # a longer phrase always wins at a position because the alternation is longest-first.
        order = ("biometric", "courier", "notify", "payment", "request", "inquiry", "visit", "sign", "output",
                 "create", "internal", "transfer", "receive", "fetch", "entry", "nounreq")
        owner: dict[str, str] = {normalize(p): c for c, words in _FORCED.items() for p in words}
        for name in order:
            for phrase in categories.get(name, ()):
                owner.setdefault(normalize(phrase), name)
        owner.pop("", None)
        self.category_of = owner
        self.actions = re.compile(f"(?<![^ ])(?:{_alternation(owner)})(?![^ ])")
        roles = [*phrases.applicant_role.fa, *phrases.applicant_role.en]
        role = _alternation(roles)
        agency = _alternation(_AGENCY)
        self.roles = _words(roles)
        self.agency = _words(_AGENCY)
        self.to_role = re.compile(f"(?<![^ ])(?:به|برای|to|for)(?: the| his| her| their)? (?:[^ ]+ ){{0,2}}?(?:{role})"
                                  f"(?:ها|ان|s)?(?![^ ])")
        self.from_role = re.compile(f"(?<![^ ])(?:از|from)(?: the)? (?:[^ ]+ ){{0,1}}?(?:{role})(?![^ ])")
        # The applicant as the one who acts: «توسط متقاضی», «از سوی مالک», "by the applicant".
        self.by_role = re.compile(f"(?<![^ ])(?:توسط|از سوی|از طرف|by)(?: the)? (?:[^ ]+ ){{0,1}}?(?:{role})(?![^ ])")
        self.to_agency = re.compile(f"(?<![^ ])(?:به|to|at|in|into)(?: the| a)? (?:[^ ]+ ){{0,2}}?(?:{agency})"
                                    f"(?![^ ])")
        self.from_agency = re.compile(f"(?<![^ ])(?:از|from)(?: the| a| an)? (?:[^ ]+ ){{0,3}}?(?:{agency})"
                                      f"(?![^ ])")
        self.letter = _words(_LETTER)
        self.electronic = _words(_ELECTRONIC)
        self.internal_note = _words(_INTERNAL_NOTE)
        self.generic_docs = _words(_GENERIC_DOCS)
        self.certificate = _words(_CERTIFICATE)
        self.foreign = _words(_FOREIGN)
        self.informal = _words(_INFORMAL)
        self.negation = _words(_NEGATION)
        self.not_involved = re.compile(f"(?:{_alternation(_NOT_INVOLVED)})")
        # "submitted documents", «مدارک ارائه شده»: a past participle describes, it does not demand.
        self.participle = re.compile(r"(?<![^ ])(?:شده|شد|گردیده|submitted|provided|presented|uploaded|"
                                     r"attached|delivered)(?![^ ])")
