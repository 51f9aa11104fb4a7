"""Ticker -> Qlib instrument code -> folder name, and back.

Qlib reads an instrument's files from ``features/<folder>/`` and ``financial/<folder>/`` with
``folder = code_to_fname(code).lower()``, ``code`` being the symbol in ``instruments/all.txt``
(``code_to_fname`` puts ``_qlib_`` before the Windows device names CON, PRN, AUX, NUL, COM0-9 and
LPT0-9). Folder names are lower case, so two tickers that differ only in case would share a
folder; and a dot in a symbol reads as a file extension to many tools. The code written for a
ticker is therefore:

- ``A``-``Z`` and ``0``-``9`` as they are;
- ``.`` (not as the first character) as ``_``: ``BRK.B`` -> ``BRK_B``;
- any other character (a lower-case letter, ``_``, ``-``, a leading ``.``) as ``-`` and its code
  point in two upper-case hex digits (``-UXXXXXX`` beyond U+00FF): ``ABRpD`` -> ``ABR-70D``.

A code holds only ``A-Z 0-9 _ -`` and never starts with ``_``, so lower-casing it loses nothing
and no code can look like a ``_qlib_``-prefixed folder: ticker -> code -> folder is one-to-one and
``ticker_from_folder`` undoes it. (Qlib's own ``fname_to_code`` strips the prefix with
``lstrip("_qlib_")``, which strips characters, not a prefix: ``_qlib_lpt1`` becomes ``pt1``; the
export never relies on it, and ``instruments/symbols.tsv`` lists every ticker, code and folder.)
"""

import re

QLIB_DEVICE_PREFIX = "_qlib_"
WINDOWS_DEVICE_NAMES = frozenset(["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                                  *(f"LPT{i}" for i in range(10))])
"""The names ``qlib.utils.code_to_fname`` prefixes (a file cannot have them on Windows)."""

_KEPT = re.compile(r"[A-Z0-9]")
_ESCAPE = re.compile(r"-(U[0-9A-F]{6}|[0-9A-F]{2})|_")


def qlib_code(ticker: str) -> str:
    """The instrument code written for ``ticker`` (see the module docstring)."""
    if not ticker:
        raise ValueError("an empty ticker has no Qlib code")
    parts = []
    for position, character in enumerate(ticker):
        if _KEPT.fullmatch(character):
            parts.append(character)
        elif character == "." and position > 0:
            parts.append("_")
        elif ord(character) <= 0xFF:
            parts.append(f"-{ord(character):02X}")
        else:
            parts.append(f"-U{ord(character):06X}")
    return "".join(parts)


def ticker_from_code(code: str) -> str:
    """The ticker whose code is ``code`` (of either case: a folder name is a lower-cased code)."""
    code = code.upper()
    if not re.fullmatch(r"(?:[A-Z0-9]|" + _ESCAPE.pattern + r")+", code) or code.startswith("_"):
        raise ValueError(f"{code!r} is not a code qlib_code writes")
    return _ESCAPE.sub(_unescape, code)


def _unescape(match: re.Match) -> str:
    if match.group(0) == "_":
        return "."
    digits = match.group(1)
    return chr(int(digits[1:] if digits.startswith("U") else digits, 16))


def qlib_folder(code: str) -> str:
    """The folder Qlib reads ``code``'s files from: ``qlib.utils.code_to_fname(code).lower()``."""
    return (QLIB_DEVICE_PREFIX + code if code.upper() in WINDOWS_DEVICE_NAMES else code).lower()


def code_from_folder(folder: str) -> str:
    """The code whose folder is ``folder`` (the exact ``_qlib_`` prefix removed, not ``lstrip``)."""
    if folder.startswith(QLIB_DEVICE_PREFIX):
        folder = folder[len(QLIB_DEVICE_PREFIX):]
        if folder.upper() not in WINDOWS_DEVICE_NAMES:
            raise ValueError(f"{QLIB_DEVICE_PREFIX}{folder!r} prefixes a name that is not a Windows device name")
    return folder.upper()


def ticker_folder(ticker: str) -> str:
    return qlib_folder(qlib_code(ticker))


def ticker_from_folder(folder: str) -> str:
    return ticker_from_code(code_from_folder(folder))
