"""ASCII transliteration of names for the goAML fields that demand it.

goAML 5.0.2 restricts person and account names (``first_name``, ``middle_name``, ``prefix``, ``last_name``,
``account_name``, entity ``name`` and ``commercial_name``) to the pattern ``[a-zA-Z0-9 .'-]*``: a report that
carries "Łukasz Żółć" or "Дмитрий" there is rejected by the FIU. :func:`to_ascii` keeps what can be kept:

1. letters that do not decompose in Unicode are mapped by :data:`TABLE` (ß → ss, Ø → O, Ł → L, Đ → D,
   Æ → AE, Œ → OE, Þ → Th, and basic Cyrillic (ISO 9 / passport-style romanisation) and Greek (ELOT 743);
2. everything else is NFKD-decomposed and combining marks dropped (é → e, Ż → Z, ü → u, ö → o);
3. characters still outside the pattern become spaces, runs of spaces collapse.

Why hand-written: the well-known libraries (``unidecode``: GPL and a 1 MB table; ``anyascii``,
``text-unidecode``: large tables for every script) would be a big dependency for the handful of letters a
name field needs, and the output of our table is reviewable here, in one screen. Scripts outside the table
(Chinese, Arabic…) cannot be romanised reliably by a table at all: they come out empty, and the caller falls
back to goAML's unknown marker and carries the original in a free-text field (see the builder).
"""

from __future__ import annotations

import re
import unicodedata

#: Letters that NFKD does not reduce to ASCII.
TABLE: dict[str, str] = {
    "ß": "ss", "ẞ": "SS", "Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d",
    "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th", "Ħ": "H", "ħ": "h", "ı": "i",
    "Ŀ": "L", "ŀ": "l", "Ŧ": "T", "ŧ": "t", "ĸ": "k", "ŉ": "n", "Ŋ": "N", "ŋ": "n", "ſ": "s",
    "’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "‐": "-", "‑": "-", "–": "-", "—": "-",
    # Cyrillic (Russian, Ukrainian, Belarusian, Serbian, Bulgarian basics)
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ё": "E", "Ж": "Zh", "З": "Z", "И": "I",
    "Й": "I", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T",
    "У": "U", "Ф": "F", "Х": "Kh", "Ц": "Ts", "Ч": "Ch", "Ш": "Sh", "Щ": "Shch", "Ъ": "", "Ы": "Y", "Ь": "",
    "Э": "E", "Ю": "Iu", "Я": "Ia", "Є": "Ie", "І": "I", "Ї": "I", "Ґ": "G", "Ў": "U", "Ђ": "Dj", "Ј": "J",
    "Љ": "Lj", "Њ": "Nj", "Ћ": "C", "Џ": "Dz",
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "iu", "я": "ia", "є": "ie", "і": "i", "ї": "i", "ґ": "g", "ў": "u", "ђ": "dj", "ј": "j",
    "љ": "lj", "њ": "nj", "ћ": "c", "џ": "dz",
    # Greek (ELOT 743, simplified)
    "Α": "A", "Β": "V", "Γ": "G", "Δ": "D", "Ε": "E", "Ζ": "Z", "Η": "I", "Θ": "Th", "Ι": "I", "Κ": "K",
    "Λ": "L", "Μ": "M", "Ν": "N", "Ξ": "X", "Ο": "O", "Π": "P", "Ρ": "R", "Σ": "S", "Τ": "T", "Υ": "Y",
    "Φ": "F", "Χ": "Ch", "Ψ": "Ps", "Ω": "O",
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}  # fmt: skip

#: Runs of characters outside the class goAML allows in name fields (``[a-zA-Z0-9 .'-]``).
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9 .'-]+")
_SPACES = re.compile(r"\s+")


def _greek_accents_first(text: str) -> str:
    # Accented Greek vowels (ά, έ…) decompose to the base letter + a mark: strip the mark before the table.
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


#: Greek digraphs romanised as a unit (before the letter table).
DIGRAPHS: dict[str, str] = {"ου": "ou", "Ου": "Ou", "ΟΥ": "OU", "μπ": "b", "Μπ": "B", "ντ": "d", "Ντ": "D"}


def to_ascii(text: str) -> str:
    """``text`` reduced to goAML's name alphabet ``[a-zA-Z0-9 .'-]`` (may be empty for other scripts)."""
    plain = _greek_accents_first(text)
    for digraph, latin in DIGRAPHS.items():
        plain = plain.replace(digraph, latin)
    mapped = "".join(TABLE.get(ch, ch) for ch in plain)
    decomposed = unicodedata.normalize("NFKD", mapped)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_only = _NOT_ALLOWED.sub(" ", stripped)
    return _SPACES.sub(" ", ascii_only).strip()


def split_name(full_name: str) -> tuple[str, str | None, str]:
    """``(first, middle, last)`` of a transliterated full name; ``-`` (goAML's unknown) for missing parts.

    The last word is the family name, the first the given name, anything between the middle names: the
    order in which our KYC records names. A single word is a family name with an unknown given name.
    """
    words = to_ascii(full_name).split()
    if not words:
        return "-", None, "-"
    if len(words) == 1:
        return "-", None, words[0]
    middle = " ".join(words[1:-1]) or None
    return words[0], middle, words[-1]
