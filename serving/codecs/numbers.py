"""The one grammar by which a text value is a number, for every codec and every body size.

A value (surrounding blanks, spaces and tabs, already stripped) is a number when it is

- plain decimal or scientific notation: ``12``, ``-1.5``, ``.5``, ``5.``, ``+1e-3``, ``2E10``;
- an infinity as pandas reads one: ``inf`` or ``infinity`` in any case, with a sign or not;
- a NaN as pandas reads one: ``nan``, ``NaN``, ``-nan``, ``-NaN``;

and an empty value is missing (NaN). Anything else is text: hexadecimal (``0x10``), digit
separators (``1_000``), digits of other scripts, ``NAN``, ``NA`` or ``null``. Python's
``float()`` and Arrow's CSV reader each accept some of those; this grammar is checked on top
of both, so a body decodes the same whichever parser its size sends it through.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np

PATTERN = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity)|-?(?:nan|NaN)"
_NUMBER = re.compile(PATTERN)
#: RE2 (Arrow) form, anchored: Arrow's ``match_substring_regex`` searches
ARROW_PATTERN = f"^(?:{PATTERN})$"

# Bytes by which a value can be a number to ``float()`` or to Arrow and not to the grammar:
# ``_`` (digit separators), ``x`` (hexadecimal), ``n``/``a`` (NaN spellings), control
# characters but tab and line ends, and anything not ASCII (other digits, other spaces).
# A body without them reads the same by either parser as by the grammar, so the check of
# every value is skipped for it: the common case, numbers and category names.
_SUSPECT = b"_xXnNaA" + bytes(c for c in range(32) if c not in b"\t\r\n") + bytes(range(127, 256))
_HARMLESS = bytes(c for c in range(256) if c not in _SUSPECT)


def safe(body: bytes | str) -> bool:
    """Whether no value of ``body`` can be a number to a parser but not to the grammar."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return not data.translate(None, _HARMLESS)


def is_number(value: str) -> bool:
    return _NUMBER.fullmatch(value) is not None


def to_float(text: str, checked: bool = False) -> float | None:
    """One string as :func:`to_floats` reads it: its float, NaN when empty, None when it is not
    a number (``checked``: as there, ``float()`` alone decides)."""
    if text == "":
        return math.nan
    try:
        number = float(text)
    except ValueError:
        return None
    return number if checked or is_number(text.strip(" \t")) else None


def to_floats(values: Sequence, checked: bool = False) -> np.ndarray | None:
    """``values`` (strings, numbers, ``None``/``""`` for missing) as float64, or None if one is not a number.

    ``checked``: the body they come from is :func:`safe`, so ``float()`` alone decides.
    """
    try:
        out = np.array(values, dtype=np.float64)
    except (ValueError, TypeError):
        try:
            out = np.array([np.nan if v is None or v == "" else v for v in values], dtype=np.float64)
        except (ValueError, TypeError):
            return None
    if not checked and any(isinstance(v, str) and v != "" and not is_number(v.strip(" \t")) for v in values):
        return None
    return out
