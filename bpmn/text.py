"""Persian and English text normalisation for matching catalog terms.

BPMN labels come from Arabic and Persian keyboards, Word and PDF copy-paste,
with or without ZWNJ (نیم‌فاصله). Matching them against the catalog needs one
canonical form, built by the rules in the catalog's ``meta.normalization``:

* NFKC (folds Arabic presentation forms, full-width Latin, NBSP);
* harakat and Quranic marks removed; tatweel and the on-line hamza ``ء`` removed;
* ``ي ى ئ`` → ``ی``, ``ك`` → ``ک``, ``ة ۀ`` → ``ه``, ``أ إ ٱ آ`` → ``ا``, ``ؤ`` → ``و``
  (so «ارائه» = «ارایه» = «ارائة», «سوء پیشینه» = «سوپیشینه», «تأمین» = «تامین»);
* Persian and Arabic-Indic digits → ASCII; ``×`` and ``*`` → ``x`` (۳×۴ = 3*4 = 3x4);
* ZWNJ, ZWJ, bidi marks, any whitespace and any punctuation or symbol → one space;
* Latin lower-cased.

:func:`normalize` gives the *spaced* form (words separated by single spaces);
:func:`compact` the same without spaces, so «کدپستی» = «کد پستی» = «کد‌پستی».
Both are a single ``str.translate`` over a table built once at import, because
they run on every name, label and documentation of large models.
:func:`normalize_with_offsets` gives the spaced form plus, for every character,
where it came from, so a match can be shown as the user wrote it.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["compact", "normalize", "normalize_with_offsets"]

# Letter unification. Values are what the character becomes ("" = removed).
_LETTERS: dict[str, str] = {
    # yeh family → Persian yeh
    "\u064a": "\u06cc", "\u0649": "\u06cc", "\u0626": "\u06cc", "\u0678": "\u06cc",
    "\u06cd": "\u06cc", "\u06d0": "\u06cc", "\u063d": "\u06cc", "\u063e": "\u06cc", "\u063f": "\u06cc",
    # kaf family → Persian kaf
    "\u0643": "\u06a9", "\u06aa": "\u06a9",
    # teh marbuta, heh with yeh above and other heh shapes → heh
    "\u0629": "\u0647", "\u06c0": "\u0647", "\u06c1": "\u0647", "\u06c2": "\u0647",
    "\u06be": "\u0647", "\u06d5": "\u0647",
    # alef with hamza/madda/wasla → bare alef
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0671": "\u0627", "\u0622": "\u0627",
    "\u0672": "\u0627", "\u0673": "\u0627", "\u0675": "\u0627",
    # waw with hamza → waw
    "\u0624": "\u0648", "\u0676": "\u0648",
    # hamza on the line, tatweel and the soft hyphen disappear inside words
    "\u0621": "", "\u0640": "", "\u00ad": "",
    # dimensions: 3×4 = 3*4 = 3x4
    "\u00d7": "x", "*": "x",
}

# Diacritics (harakat, superscript alef, Quranic marks, small high signs).
_MARK_RANGES = ((0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06ED),
                (0x08D3, 0x08E1), (0x08E3, 0x08FF))

# Characters that separate words although Unicode does not call them spaces.
_SEPARATORS = "\u200c\u200d\u200e\u200f\u200b\u2060\ufeff\u061c\u202a\u202b\u202c\u202d\u202e" \
              "\u2066\u2067\u2068\u2069"

# Code points whose NFKC form or category may need a table entry. Beyond these
# ranges nothing in Persian or English government text changes.
_TABLE_RANGES = ((0x0000, 0x3000), (0xF900, 0xFFFF))


def _fold_char(ch: str) -> str:
    """Apply the letter, digit, case and separator rules to one (NFKC) character."""
    if ch in _LETTERS:
        return _LETTERS[ch]
    code = ord(ch)
    if any(lo <= code <= hi for lo, hi in _MARK_RANGES):
        return ""
    if 0x06F0 <= code <= 0x06F9:
        return chr(0x30 + code - 0x06F0)
    if 0x0660 <= code <= 0x0669:
        return chr(0x30 + code - 0x0660)
    if ch.isspace() or ch in _SEPARATORS:
        return " "
    category = unicodedata.category(ch)
    # Punctuation, symbols and control/format characters only ever separate words.
    if category[0] in "PSZ" or category in ("Cc", "Cf"):
        return " "
    lower = ch.lower()
    return lower if len(lower) == 1 else ch


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for lo, hi in _TABLE_RANGES:
        for code in range(lo, hi + 1):
            if 0xD800 <= code <= 0xDFFF:
                continue
            ch = chr(code)
            folded = "".join(_fold_char(c) for c in unicodedata.normalize("NFKC", ch))
            if folded != ch:
                table[code] = folded
    return table


_TABLE = _build_table()


def normalize(text: str) -> str:
    """Return the spaced normal form of ``text``: unified letters, ASCII digits, single spaces."""
    return " ".join(text.translate(_TABLE).split())


def compact(text: str) -> str:
    """Return the normal form of ``text`` without any spaces (joined, spaced and ZWNJ spellings meet)."""
    return "".join(text.translate(_TABLE).split())


# Characters whose folded form is not exactly one character (removed marks, ligatures...).
# Texts without them fold index-for-index, which lets offsets be computed per word.
_RESHAPING = re.compile("[" + "".join(re.escape(chr(c)) for c, v in sorted(_TABLE.items()) if len(v) != 1) + "]")
_WORD = re.compile(r"\S+")


def normalize_with_offsets(text: str) -> tuple[str, tuple[int, ...]]:
    """Return ``(spaced, origin)``: :func:`normalize` of ``text`` and, per character, where it came from.

    ``origin[i]`` is the index in ``text`` of the character that produced ``spaced[i]``, so the
    original surface of ``spaced[i:j]`` is ``text[origin[i]:origin[j - 1] + 1]``.
    """
    if _RESHAPING.search(text) is None:
        folded = text.translate(_TABLE)     # same length as text: index i of folded is index i of text
        words = []
        origin: list[int] = []
        for match in _WORD.finditer(folded):
            if words:
                origin.append(match.start() - 1)
            words.append(match.group())
            origin.extend(range(match.start(), match.end()))
        return " ".join(words), tuple(origin)
    return _normalize_with_offsets_slow(text)


def _normalize_with_offsets_slow(text: str) -> tuple[str, tuple[int, ...]]:
    chars: list[str] = []
    origin: list[int] = []
    space_at = -1       # index of the separator that precedes the next word, once a word was seen
    for index, ch in enumerate(text):
        for out in _TABLE.get(ord(ch), ch):
            if out.isspace():
                if chars:
                    space_at = index
                continue
            if space_at >= 0:
                chars.append(" ")
                origin.append(space_at)
                space_at = -1
            chars.append(out)
            origin.append(index)
    return "".join(chars), tuple(origin)
