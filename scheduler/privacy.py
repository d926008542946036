"""Words that must never reach a lock screen: drug, route and diagnosis names (English, Spanish).

One home for the list: the protocol parser checks the titles patients may see, the clinic form
checks the sender names, and the content test checks every rendered subject and SMS against it.
Carriers filter texts naming controlled substances, and a subject line or an SMS preview is
read by whoever holds the phone, so the rule applies even when a clinic allows naming the
treatment in email bodies.
"""

from __future__ import annotations

import re

__all__ = ["PRIVATE_WORDS", "private_words_in"]

PRIVATE_WORDS = re.compile(
    r"\b(?:es)?ketamin[ae]?\b|\bspravato\b|\binfusi[oó]n|\bdepressi|\bdepresi[oó]n|\bdepresiv"
    r"|\bptsd\b|\btept\b|\bsuicid|\banxiety\b|\bansiedad\b|\bpain\b|\bdolor cr[oó]nico"
    r"|\bpsychedelic|\bpsicod[eé]lic|\bcontrolled substance|\bsustancia controlada"
    r"|\bbipolar\b|\bschizo|\besquizo|\bopioid|\baddiction\b|\badicci[oó]n\b|\bnarcotic"
    r"|\bnarc[oó]tic|\bmdma\b|\bpsilocyb|\bpsilocib|\bphq-?9\b|\bgad-?7\b",
    re.IGNORECASE,
)


def private_words_in(text: str) -> list[str]:
    """The private words found in ``text``, as written there (empty when it is safe)."""
    return PRIVATE_WORDS.findall(text or "")
