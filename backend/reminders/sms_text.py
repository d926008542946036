"""SMS text encoding: keep texts in GSM-7 and count the segments a carrier will bill.

An SMS is sent in GSM-7 (the 3GPP TS 23.038 default alphabet) when every character is in it, and in
UCS-2 otherwise. One character outside GSM-7 -- a non-breaking space from a date formatter, a curly
apostrophe pasted from a word processor, an "a" with an acute accent in a first name -- switches the
whole text to UCS-2, which cuts a segment from 160 characters to 70 and so can triple the cost of a
reminder. ``to_gsm_friendly`` replaces those characters with their plain look-alikes before sending.

Segment sizes (https://www.twilio.com/docs/glossary/what-sms-character-limit):

- GSM-7: 160 septets in a single message, 153 per part of a concatenated one (the user data
  header takes the rest). Characters of the extension table (``^{}\\[~]|`` and the euro sign) are
  sent as an escape plus the character, so they cost two septets, and the pair is never split
  between parts.
- UCS-2: 70 UTF-16 code units single, 67 per part. Characters outside the Basic Multilingual Plane
  (most emoji) are a surrogate pair: two units that are never split between parts.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENDED",
    "is_gsm7",
    "sms_segments",
    "to_gsm_friendly",
    "to_plain_punctuation",
]

# The basic character set of 3GPP TS 23.038 (unicode.org GSM0338.TXT), without the escape code.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each of these is sent as ESC + character, two septets.
GSM7_EXTENDED: frozenset[str] = frozenset("\f^{}\\[~]|€")

_SINGLE_GSM7 = 160
_PART_GSM7 = 153
_SINGLE_UCS2 = 70
_PART_UCS2 = 67

# Look-alikes for characters that would force UCS-2. Accented letters are not listed: they are
# folded to their base letter by decomposition (see _fold), unless GSM-7 has them (é, ñ, ü, ...).
_REPLACEMENTS: dict[str, str] = {
    # Spaces of every width (date and time formatters emit U+00A0 and U+202F), and tabs.
    "\t": " ",
    "\u00a0": " ",
    "\u1680": " ",
    **{chr(code): " " for code in range(0x2000, 0x200B)},
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    # Invisible characters: zero-width space and joiners, word joiner, byte order mark, soft hyphen.
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    "\u00ad": "",
    # Line and paragraph separators.
    "\u2028": "\n",
    "\u2029": "\n",
    "\r\n": "\n",
    # Quotes and primes.
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2039": "'",
    "\u203a": "'",
    # Hyphens and dashes, the minus sign.
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    # Other punctuation.
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": "-",
    "\u2122": "",
    "\u00ae": "",
    "\u00a9": "(c)",
}


def _fold(char: str) -> str:
    """``char`` itself when GSM-7 has it, else its base letter when decomposition gives one.

    "í" becomes "i" and "ç" becomes "c", while "é" and "ñ" stay (GSM-7 has them). A character with
    no GSM-7 look-alike (an emoji, a CJK character) is kept: dropping it could change a name.
    """
    if char in GSM7_BASIC or char in GSM7_EXTENDED:
        return char
    base = "".join(
        part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
    )
    if base and all(part in GSM7_BASIC for part in base):
        return base
    return char


def to_plain_punctuation(text: str) -> str:
    """Return ``text`` with special spaces, invisible characters, curly quotes, dashes and the
    ellipsis replaced by plain ones, letters untouched: for a text sent in UCS-2 on purpose
    (content.SMS_ENCODING), which keeps its accents but gains nothing from a no-break space."""
    for old, new in _REPLACEMENTS.items():
        if old in text:
            text = text.replace(old, new)
    return text


def to_gsm_friendly(text: str) -> str:
    """Return ``text`` with characters that force UCS-2 replaced by GSM-7 look-alikes.

    Non-breaking and other special spaces become plain spaces, curly quotes straight ones, dashes
    hyphens, the ellipsis three dots, and accented letters missing from GSM-7 their base letter.
    Characters with no look-alike are left alone, so ``is_gsm7`` may still be false afterwards.
    """
    return "".join(_fold(char) for char in to_plain_punctuation(text))


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` can be sent in the GSM-7 alphabet."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def _parts(costs: list[int], single: int, part: int) -> int:
    """The number of parts needed for characters of the given costs, without splitting one."""
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def sms_segments(text: str) -> int:
    """The number of SMS segments ``text`` is sent as; 0 for an empty text.

    GSM-7 when ``is_gsm7(text)`` (160 septets single, 153 per part, extension characters cost 2),
    UCS-2 otherwise (70 code units single, 67 per part, surrogate pairs cost 2).
    """
    if not text:
        return 0
    if is_gsm7(text):
        costs = [2 if char in GSM7_EXTENDED else 1 for char in text]
        return _parts(costs, _SINGLE_GSM7, _PART_GSM7)
    costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return _parts(costs, _SINGLE_UCS2, _PART_UCS2)
