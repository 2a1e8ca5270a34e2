"""Normalisation of Persian and English text (bpmn.text), rule by rule."""

from __future__ import annotations

import random

import pytest

from bpmn.text import compact, normalize, normalize_with_offsets


@pytest.mark.parametrize(("raw", "expected"), [
    # NFKC folds Arabic presentation forms and full-width Latin
    ("\ufb8e\ufe8e\ufead\ufe97 \ufee3\ufee0\ufef2", "کارت ملی"),
    ("ＩＤ", "id"),
    # harakat, superscript alef and hamza above are removed
    ("شَناسنامِه", "شناسنامه"),
    ("مفاصاً حساب", "مفاصا حساب"),
    ("ارائهٔ", "ارایه"),
    ("رحمٰن", "رحمن"),
    # yeh family → ی
    ("ملي", "ملی"),
    ("ملى", "ملی"),
    ("ارائه", "ارایه"),
    # kaf → ک
    ("كارت", "کارت"),
    # teh marbuta and heh with yeh above → ه
    ("ارائة", "ارایه"),
    ("شناسنامۀ", "شناسنامه"),
    # alef with hamza or madda → ا ; waw with hamza → و
    ("تأمین", "تامین"),
    ("إقرار", "اقرار"),
    ("آگهی", "اگهی"),
    ("مؤدی", "مودی"),
    # hamza on the line and tatweel disappear
    ("سوء پیشینه", "سو پیشینه"),
    ("کـــارت", "کارت"),
    # Persian and Arabic-Indic digits → ASCII; × and * → x
    ("۱۲۳۴۵۶۷۸۹۰", "1234567890"),
    ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
    ("عکس ۳×۴", "عکس 3x4"),
    ("عکس 3*4", "عکس 3x4"),
    # ZWNJ, ZWJ, NBSP, bidi marks and any whitespace → one space
    ("اجاره\u200cنامه", "اجاره نامه"),
    ("اجاره\u200dنامه", "اجاره نامه"),
    ("کد\u00a0پستی", "کد پستی"),
    ("کد\u200fپستی", "کد پستی"),
    ("  کد\t\n  پستی  ", "کد پستی"),
    # punctuation and symbols separate words
    ("«کپی»، شناسنامه؛ (اصل)", "کپی شناسنامه اصل"),
    ("Scan of ID-card (both sides).", "scan of id card both sides"),
    ("ق.م.م", "ق م م"),
    ("driver's licence", "driver s licence"),
    # Latin is lower-cased
    ("National ID Card", "national id card"),
])
def test_normalize_rule(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("spelling", ["ارائه", "ارایه", "ارائة", "ارائهٔ", "ارائـه", "اراِئه"])
def test_araeh_spellings_are_one_word(spelling: str) -> None:
    assert normalize(spelling) == normalize("ارائه")


@pytest.mark.parametrize(("a", "b"), [
    ("کدپستی", "کد پستی"),
    ("کد\u200cپستی", "کد پستی"),
    ("مفاصاحساب", "مفاصا حساب"),
    ("سوءپیشینه", "سو پیشینه"),
    ("پایان‌خدمت", "پایانخدمت"),
])
def test_compact_joins_spelling_variants(a: str, b: str) -> None:
    assert compact(a) == compact(b)
    assert " " not in compact(a)


def test_normalize_is_idempotent() -> None:
    samples = ["ارائه كپي كارت‌ملي ۳×۴", "Upload the National ID  card", "سوء‌پیشینهٔ"]
    for sample in samples:
        assert normalize(normalize(sample)) == normalize(sample)


def test_empty_and_blank_text() -> None:
    assert normalize("") == ""
    assert normalize(" \u200c\n\t ") == ""
    assert compact("«»") == ""
    assert normalize_with_offsets("") == ("", ())


def test_offsets_point_back_to_the_original_characters() -> None:
    text = "ارائه  كپي\u200cكارت ملي (اصل)"
    spaced, origin = normalize_with_offsets(text)
    assert spaced == normalize(text) == "ارایه کپی کارت ملی اصل"
    start = spaced.index("کارت ملی")
    end = start + len("کارت ملی")
    assert text[origin[start]:origin[end - 1] + 1] == "كارت ملي"


def test_offsets_skip_removed_marks() -> None:
    text = "گواهی عدم سوء‌پیشینهٔ کیفری"
    spaced, origin = normalize_with_offsets(text)
    assert spaced == normalize(text)
    start = spaced.index("سو پیشینه")
    end = start + len("سو پیشینه")
    assert text[origin[start]:origin[end - 1] + 1] == "سوء‌پیشینه"


# Letters, separators, removed marks, ligatures, digits and Latin: the nasty mix of real labels.
_ALPHABET = [*"ابپتثجکگیيكةۀأإآؤئءـ  xX*×.,،؛()«»-_AbCdé۱۲٣",
             "\u200c", "\u200d", "\u00a0", "\u064b", "\u0654", "\ufefb", "\ufdf2", "\u200f", "\t", "\n", "¼"]


def test_offsets_agree_with_normalize_on_random_text() -> None:
    rng = random.Random(1404)
    for _ in range(3000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 25)))
        spaced, origin = normalize_with_offsets(text)
        assert spaced == normalize(text)
        assert len(origin) == len(spaced)
        assert list(origin) == sorted(origin)
        for i, ch in enumerate(spaced):
            if ch != " ":
                # each character comes from a source character that folds to something containing it
                assert ch in normalize(text[origin[i]]) or ch in text[origin[i]].lower()
