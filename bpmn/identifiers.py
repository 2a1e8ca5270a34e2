"""Check digits of Iranian identifiers: national code, IBAN (SHEBA), bank card.

One implementation of each rule, used by the catalog's identifier validation
(``bpmn.catalog.Identifier.is_valid``), by forms, and by the registry
simulator's generators (``engine.identifiers``). Pure arithmetic on digit strings
(Persian digits count as digits); callers strip separators first.
"""

from __future__ import annotations


def national_code_check_digit(first9: str) -> int:
    """The check digit of a national code from its first nine digits."""
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(first9)) % 11
    return remainder if remainder < 2 else 11 - remainder


def is_national_code(value: str) -> bool:
    """Ten digits whose check digit holds; all-same-digit strings are never issued."""
    if len(value) != 10 or not value.isdigit() or len(set(value)) == 1:
        return False
    return national_code_check_digit(value[:9]) == int(value[9])


def iban_remainder(iban: str) -> int:
    """ISO 13616 mod-97 remainder of an IBAN (1 when its check digits are right)."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged.upper())) % 97


def is_iban(value: str) -> bool:
    """An IBAN of any country whose mod-97 check holds."""
    if not (value.isascii() and value.isalnum() and len(value) > 4):
        return False
    return iban_remainder(value) == 1


def luhn_ok(digits: str) -> bool:
    """The Luhn check used by bank card numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0
