"""Iranian identifiers: validation, normalisation and generation.

The rules follow the catalog's ``identifiers`` section (national code check
digit, 10-digit postal codes without 0/2 in the first five digits, 11-digit
legal-entity ids, IBAN mod-97 ...). Validators accept Persian and Arabic-Indic
digits, because that is what citizens type; they answer ``bool`` and never
raise, so they can be used in forms, the simulator and tests alike.

The generators take a :class:`random.Random` so that a seeded population is
reproducible. They exist for the simulator and for tests; nothing in the
engine invents identifiers for real people.
"""

from __future__ import annotations

import random
import re
from datetime import date

import jdatetime

from bpmn.identifiers import iban_remainder, is_national_code, luhn_ok, national_code_check_digit

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def ascii_digits(text: str) -> str:
    """``text`` with Persian and Arabic-Indic digits turned into ASCII ones."""
    return text.translate(_DIGITS)


def _digits_only(value: object, length: int) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = ascii_digits(str(value)).strip().replace("-", "").replace(" ", "")
    return text if len(text) == length and text.isdigit() else None


# --- national code (کد ملی) -------------------------------------------------

def normalize_national_code(value: object) -> str | None:
    """The ten ASCII digits of a valid national code, or ``None``.

    Accepts Persian digits and dashes. Rejects wrong lengths, a wrong check
    digit, and all-same-digit strings (``1111111111`` passes the arithmetic
    but is not issued).
    """
    text = _digits_only(value, 10)
    return text if text is not None and is_national_code(text) else None


def is_valid_national_code(value: object) -> bool:
    """True when ``value`` is a well-formed national code (see :func:`normalize_national_code`)."""
    return normalize_national_code(value) is not None


def generate_national_code(rng: random.Random) -> str:
    """A random valid national code (first three digits look like a city code)."""
    while True:
        first9 = f"{rng.randint(1, 999):03d}{rng.randint(0, 999999):06d}"
        code = first9 + str(national_code_check_digit(first9))
        if len(set(code)) > 1:
            return code


# --- legal-entity national id (شناسه ملی اشخاص حقوقی) ------------------------

_LEGAL_WEIGHTS = (29, 27, 23, 19, 17)


def legal_id_check_digit(first10: str) -> int:
    """The check digit of an 11-digit legal-entity id (the commonly published rule).

    The catalog says only "has its own check digit"; this is the algorithm
    published with the ILENC id. Generation and validation agree on it, which
    is what the simulator needs; verify before relying on it in production.
    """
    bump = int(first10[9]) + 2
    s = sum((bump + int(d)) * _LEGAL_WEIGHTS[i % 5] for i, d in enumerate(first10))
    r = s % 11
    return 0 if r == 10 else r


def is_valid_legal_id(value: object) -> bool:
    """True for an 11-digit legal-entity id with a correct check digit."""
    text = _digits_only(value, 11)
    return text is not None and len(set(text)) > 1 and legal_id_check_digit(text[:10]) == int(text[10])


def generate_legal_id(rng: random.Random) -> str:
    """A random valid 11-digit legal-entity id (``10100…`` like real ones)."""
    first10 = f"10{rng.randint(10000000, 99999999):08d}"
    return first10 + str(legal_id_check_digit(first10))


# --- postal code, mobile ------------------------------------------------------

def is_valid_postal_code(value: object) -> bool:
    """Ten digits, and neither 0 nor 2 among the first five (catalog rule)."""
    text = _digits_only(value, 10)
    return text is not None and not set(text[:5]) & {"0", "2"}


def generate_postal_code(rng: random.Random) -> str:
    """A random postal code that passes :func:`is_valid_postal_code`."""
    head = "".join(rng.choice("13456789") for _ in range(5))
    return head + f"{rng.randint(0, 99999):05d}"


_MOBILE = re.compile(r"^09\d{9}$")


def is_valid_mobile(value: object) -> bool:
    """``09`` followed by nine digits (Persian digits accepted)."""
    return isinstance(value, str) and bool(_MOBILE.match(ascii_digits(value).strip()))


def generate_mobile(rng: random.Random) -> str:
    """A random mobile number in the 0912/0935/0990-style ranges."""
    return f"09{rng.choice(('12', '13', '19', '35', '36', '90', '91', '01'))}{rng.randint(0, 9999999):07d}"


# --- IBAN, bank card ----------------------------------------------------------

def is_valid_iban(value: object) -> bool:
    """An Iranian IBAN (``IR`` + 24 digits) whose ISO 13616 mod-97 check holds."""
    if not isinstance(value, str):
        return False
    text = ascii_digits(value).replace(" ", "").upper()
    return bool(re.fullmatch(r"IR\d{24}", text)) and iban_remainder(text) == 1


def generate_iban(rng: random.Random) -> str:
    """A random valid Iranian IBAN."""
    bban = f"0{rng.choice(('17', '12', '18', '15', '55', '57', '62'))}0{rng.randint(0, 10**18 - 1):018d}"
    check = 98 - iban_remainder("IR00" + bban)
    return f"IR{check:02d}{bban}"


def is_valid_card_number(value: object) -> bool:
    """A 16-digit bank card number passing the Luhn check."""
    text = _digits_only(value, 16)
    return text is not None and luhn_ok(text)


def generate_card_number(rng: random.Random) -> str:
    """A random Luhn-valid card number with an Iranian bank prefix."""
    body = rng.choice(("603799", "589210", "627353", "610433", "603769")) + f"{rng.randint(0, 10**9 - 1):09d}"
    for last in "0123456789":
        if luhn_ok(body + last):
            return body + last
    raise AssertionError("unreachable: one Luhn digit always fits")


# --- vehicles -----------------------------------------------------------------

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
               **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
               **dict(zip("STUVWXYZ", range(2, 10), strict=True))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def is_valid_vin(value: object) -> bool:
    """Seventeen ISO 3779 characters (no I, O or Q).

    The position-9 check digit is a North-American rule and Iranian makers do
    not all follow it, so it is not enforced.
    """
    return isinstance(value, str) and bool(re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", value.strip().upper()))


def generate_vin(rng: random.Random) -> str:
    """A random VIN with an Iranian-looking maker prefix (and a valid position-9 check digit)."""
    chars = list(rng.choice(("NAA", "NAP", "NAS", "NA1")) + "".join(rng.choice(_VIN_CHARS) for _ in range(14)))
    chars[8] = "0"
    s = sum(_VIN_VALUES[c] * w for c, w in zip(chars, _VIN_WEIGHTS, strict=True)) % 11
    chars[8] = "X" if s == 10 else str(s)
    return "".join(chars)


PLATE_LETTERS = "بجدسصطقلمنوهیع"
_PLATE = re.compile(r"^(\d{2})([\u0621-\u06FF])(\d{3})(\d{2})$")


def plate_key(value: object) -> str | None:
    """A vehicle plate reduced to ``NNLNNNNN`` (two digits, letter, three digits, region), or ``None``.

    Accepts the forms people write: ``۱۲ ب ۳۴۵ ایران ۶۷``, ``12ب345-67``,
    ``ایران ۶۷ – ۳۴۵ ب ۱۲`` (region first).
    """
    if not isinstance(value, str):
        return None
    text = ascii_digits(value)
    region_first = re.match(r"^\s*ایران\s*(\d{2})", text)
    compact = re.sub(r"[\s\-–|]|ایران", "", text)
    if region_first:
        m = re.fullmatch(r"(\d{2})(\d{3})([\u0621-\u06FF])(\d{2})", compact)
        if not m:
            return None
        region, three, letter, two = m.groups()
        compact = f"{two}{letter}{three}{region}"
    m = _PLATE.match(compact)
    return "".join(m.groups()) if m else None


def format_plate(key: str) -> str:
    """The display form of a plate key: ``12 ب 345 ایران 67``."""
    return f"{key[:2]} {key[2]} {key[3:6]} ایران {key[6:]}"


def generate_plate(rng: random.Random) -> str:
    """A random plate key (see :func:`plate_key`)."""
    return f"{rng.randint(11, 99)}{rng.choice(PLATE_LETTERS)}{rng.randint(111, 999)}{rng.randint(10, 99)}"


# --- dates ----------------------------------------------------------------------

def parse_jalali(value: object) -> jdatetime.date | None:
    """A Jalali ``YYYY/MM/DD`` date (``-`` also accepted, Persian digits too), or ``None``.

    A Gregorian ISO date (year above 1700) is accepted and converted, since
    machine callers often hold Gregorian dates.
    """
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", ascii_digits(value).strip())
    if not m:
        return None
    y, mo, d = (int(g) for g in m.groups())
    try:
        if y > 1700:
            return jdatetime.date.fromgregorian(date=date(y, mo, d))
        return jdatetime.date(y, mo, d)
    except ValueError:
        return None


def format_jalali(value: jdatetime.date) -> str:
    """``YYYY/MM/DD`` with ASCII digits (the catalog's birth-date format)."""
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"
