"""Vehicle licence plates of the US, the UK, Germany and Spain.

Shapes distinctive enough to stand alone are taken anywhere: the UK's current AB12 CDE, Germany's
B-MW 1234 (district, hyphen, letters, digits), Spain's 1234 BCD (no vowels since 2000) and its older
M-1234-AB, and California's 7ABC123. Anything plate-like right after a cue ("plate", "reg",
"Kennzeichen", "matrícula") is taken too, which covers the many US state formats that look like any
other code (ABC 1234, 6690).
"""

from __future__ import annotations

import re

_L, _R = r"(?<![\w-])", r"(?![\w-])"
_CONS = "BCDFGHJKLMNPRSTVWXYZ"
SHAPES = [
    re.compile(_L + r"[A-Z]{2}\d{2}[ ]?[A-Z]{3}" + _R),                                  # UK: AB12 CDE
    re.compile(_L + r"[A-ZÄÖÜ]{1,3}-[A-Z]{1,2}[ -]?\d{1,4}[EH]?" + _R),                  # DE: B-MW 1234, DL-ZG-587
    re.compile(_L + rf"\d{{4}}[ -]?[{_CONS}]{{3}}" + _R),                                 # ES: 1234 BCD
    re.compile(_L + r"[A-Z]{1,2}[ -]\d{4}[ -][A-Z]{1,2}" + _R),                           # ES (old): M-1234-AB
    re.compile(_L + r"\d[A-Z]{3}\d{3}" + _R),                                             # US (CA): 7ABC123
    re.compile(_L + r"[A-Z]{3}-\d{4}" + _R),                                              # US: ABC-1234
]
_CUE = (r"(?i:licen[cs]e[ -]?plates?(?:\s+(?:number|no\.?))?|number[ -]?plates?|plates?|tags?|"
        r"reg(?:istration)?(?:\s+(?:number|no\.?|plate))?|kfz-?kennzeichen|kennzeichen|nummernschild|"
        r"amtliches\s+kennzeichen|matr[íi]cula|placa)")
# the plate after a cue: 2-4 groups of capitals and digits, at least one digit, 4-10 characters in all
CUED = re.compile(
    rf"(?<![\w]){_CUE}[\s:#\-–]*(?:(?:is|was|ist|es|of|de|del|the|our|my|unser|mi)\s+){{0,2}}"
    r"(?P<plate>(?=[A-ZÄÖÜ0-9 -]{4,12}(?![\w-]))(?=[^\s]*\d|[A-ZÄÖÜ0-9-]+ [A-ZÄÖÜ0-9]*\d)"
    r"[A-ZÄÖÜ0-9]{1,8}(?:[ -][A-ZÄÖÜ0-9]{1,8}){0,3})(?![\w-])"
)


def find(text: str) -> list[tuple[int, int, str, str]]:
    if not any(c.isdigit() for c in text):
        return []
    out = [(m.start(), m.end(), "LICENSE_PLATE", "plate") for rx in SHAPES for m in rx.finditer(text)]
    out += [(m.start("plate"), m.end("plate"), "LICENSE_PLATE", "plate-cue") for m in CUED.finditer(text)]
    return out
