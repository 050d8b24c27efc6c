"""Phone numbers through libphonenumber (the `phonenumbers` port), in every format it knows.

National formats carry no country code ("0176/1234567", "0151 23456789", "612 345 678"), so a number is
only a number in some region: the text's own region is tried first, then the other supported ones.
`Leniency.VALID` keeps only numbers whose length and prefix are assigned in that region's plan, which is
what stops dates, prices and order numbers from being taken for phones.
"""

from __future__ import annotations

import re

from phonenumbers import Leniency, PhoneNumberMatcher

_ORDER = ("US", "GB", "DE", "ES")


def regions_for(region: str) -> tuple[str, ...]:
    return (region, *(r for r in _ORDER if r != region))


# what libphonenumber could still take for a number: 6+ digits with separators between them
_CANDIDATE = re.compile(r"\d[\d \t()/.\-]{4,}\d")


def find(text: str, region: str, covered: bytearray | None = None) -> list[tuple[int, int, str, str]]:
    """Phones in `text`, trying `region` first. `covered`: positions other recognizers already took (their
    text is blanked first, so the matcher parses only what is left: it costs a parse per candidate and
    region, the largest part of the redactor's rule pass otherwise)."""
    taken = bytearray(covered) if covered is not None else bytearray(len(text))
    out: list[tuple[int, int, str, str]] = []
    for reg in regions_for(region):
        view = text if not any(taken) else "".join(" " if t else c for c, t in zip(text, taken))
        if not _CANDIDATE.search(view):
            break
        for m in PhoneNumberMatcher(view, reg, leniency=Leniency.VALID):
            if any(taken[m.start:m.end]):
                continue
            taken[m.start:m.end] = b"\x01" * (m.end - m.start)
            out.append((m.start, m.end, "PHONE", f"libphonenumber:{reg}"))
    return out
