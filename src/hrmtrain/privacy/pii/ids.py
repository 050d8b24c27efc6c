"""National identity numbers, each validated by its own check rule (python-stdnum) before it counts.

* US SSN (stdnum's area/group/serial rules) in every common writing: 123-45-6789, 123 45 6789,
  123.45.6789, and 123456789 (bare: certain after an SSN cue, else only where no other reading claims it;
  see PRIORITY in redact.py);
* UK NHS number (mod-11 check digit): 485 777 3456, 485-777-3456, 4857773456;
* Spanish DNI (8 digits and the mod-23 letter) and NIE (X/Y/Z, 7 digits, letter);
* German tax ID (Steuer-IdNr, 11 digits with its ISO 7064 check digit): 12 345 678 901 or bare.

Right after its own cue ("SSN:", "NHS no.", "Steuer-ID") the shape alone is enough: a number with a typo in
its check digit (or made up for a form) is still somebody's number, and nothing else reads that way there.
A valid NHS number with no cue is read as one in British text when it does not start with 0 (every UK phone
number does); elsewhere a phone reading wins (see PRIORITY in redact.py).
"""

from __future__ import annotations

import re

from stdnum.de import idnr as _idnr
from stdnum.es import dni as _dni
from stdnum.es import nie as _nie
from stdnum.gb import nhs as _nhs
from stdnum.us import ssn as _ssn

_EDGE_L = r"(?<![\w.+/-])"
_EDGE_R = r"(?![\w/-]|[.,]\d)"

SSN_RE = re.compile(_EDGE_L + r"\d{3}([- .])\d{2}\1\d{4}" + _EDGE_R)
NINE_DIGITS_RE = re.compile(_EDGE_L + r"\d{9}" + _EDGE_R)
SSN_CUE_RE = re.compile(r"(?i)\b(?:ssn|ss#|soc(?:ial)?\.?\s*sec(?:urity)?(?:\s*(?:number|no\.?|#))?|"
                        r"social\s+security(?:\s+(?:number|no\.?|#))?)\b")
NHS_RE = re.compile(_EDGE_L + r"\d{3}([ -]?)\d{3}\1\d{4}" + _EDGE_R)
NHS_CUE_RE = re.compile(r"(?i)\bnhs\b|national health")
DNI_RE = re.compile(r"(?<![\w-])\d{8}[ -]?[A-Za-z](?![\w-])")
NIE_RE = re.compile(r"(?<![\w-])[XYZxyz][ -]?\d{7}[ -]?[A-Za-z](?![\w-])")
# after a "DNI"/"NIE"/"NIF" cue the shape is enough: a mistyped check letter is still someone's number
ES_ID_CUED_RE = re.compile(r"(?i)\b(?:DNI|NIE|NIF|D\.N\.I\.)\b[\s:#.]*(?:[^\W\d_]+\.?[\s:]+){0,3}"
                           r"(?P<id>[XYZxyz]?[ -]?\d{7,8}[ -]?[A-Za-z])(?![\w-])")
IDNR_RE = re.compile(_EDGE_L + r"\d{2}[ ]?\d{3}[ ]?\d{3}[ ]?\d{3}" + _EDGE_R)
IDNR_CUE_RE = re.compile(r"(?i)\b(?:steuer[- ]?id(?:entifikationsnummer)?(?:[- ]?nr\.?)?|steuer[- ]?identifikations[- ]?nummer|"
                         r"idnr\.?|identifikationsnummer|tax\s+id)")
# (cue, shape) pairs whose shape alone counts right after the cue (up to 3 words and punctuation between)
_CUED_SHAPES = (
    (SSN_CUE_RE, re.compile(r"\d{3}([- .]?)\d{2}\1\d{4}"), "US_SSN"),
    (NHS_CUE_RE, re.compile(r"\d{3}([ -]?)\d{3}\1\d{4}"), "UK_NHS"),
    (IDNR_CUE_RE, re.compile(r"\d{2}[ ]?\d{3}[ ]?\d{3}[ ]?\d{3}"), "DE_TAX_ID"),
)
_BETWEEN = re.compile(r"[\s:#.,()-]*(?:[^\W\d_]+\.?[\s:#.,()-]+){0,3}")
_RIGHT_EDGE = re.compile(_EDGE_R)


def _cue_before(cue: re.Pattern, text: str, start: int, window: int = 40) -> bool:
    return bool(cue.search(text, max(0, start - window), start))


def _cued(text: str) -> list[tuple[int, int, str, str]]:
    out = []
    for cue, shape, type_ in _CUED_SHAPES:
        for c in cue.finditer(text):
            b = _BETWEEN.match(text, c.end())
            m = shape.match(text, b.end())
            if m and _RIGHT_EDGE.match(text, m.end()):
                out.append((m.start(), m.end(), type_, "id-cue"))
    return out


def find(text: str, region: str = "US") -> list[tuple[int, int, str, str]]:
    """ID candidates in `text`; `region` (US, GB, DE, ES) is the text's country (see the module docstring)."""
    if not any(c.isdigit() for c in text):
        return []
    out: list[tuple[int, int, str, str]] = _cued(text)
    for m in SSN_RE.finditer(text):
        if _ssn.is_valid(re.sub(r"[ .]", "-", m.group())):
            out.append((m.start(), m.end(), "US_SSN", "ssn"))
    for m in NINE_DIGITS_RE.finditer(text):
        if _ssn.is_valid(m.group()):
            # "SSN: 123456789" is certain; a lone 9-digit number is an SSN only if nothing else claims it
            src = "ssn-cue" if _cue_before(SSN_CUE_RE, text, m.start()) else "ssn-bare"
            out.append((m.start(), m.end(), "US_SSN" if src == "ssn-cue" else "US_SSN_BARE", src))
    for m in NHS_RE.finditer(text):
        if _nhs.is_valid(re.sub(r"\D", "", m.group())):
            sure = _cue_before(NHS_CUE_RE, text, m.start()) or (region == "GB" and m.group()[0] != "0")
            out.append((m.start(), m.end(), "UK_NHS" if sure else "UK_NHS_BARE", "nhs"))
    for m in DNI_RE.finditer(text):
        if _dni.is_valid(re.sub(r"[ -]", "", m.group()).upper()):
            out.append((m.start(), m.end(), "ES_DNI", "dni"))
    for m in NIE_RE.finditer(text):
        if _nie.is_valid(re.sub(r"[ -]", "", m.group()).upper()):
            out.append((m.start(), m.end(), "ES_DNI", "nie"))
    for m in ES_ID_CUED_RE.finditer(text):
        out.append((m.start("id"), m.end("id"), "ES_DNI", "dni-cue"))
    for m in IDNR_RE.finditer(text):
        if _idnr.is_valid(m.group().replace(" ", "")):
            out.append((m.start(), m.end(), "DE_TAX_ID", "idnr"))
    return out
