"""Dates of birth: a full date (day, month and year) that a birth cue introduces, in English, German and
Spanish. A date alone is an appointment, not PII; "born", "DOB", "geb.", "Geburtsdatum", "fecha de
nacimiento", "nacida el" within a few words before it make it one.

Dates in any of these writings: 1954-08-08, 08/07/1954 (either order), 8.7.1954, 8. Januar 2008,
8 January 2008, January 8th, 2008, 8th of January 2008, 3 de mayo de 1990, and two-digit years after a
cue (08/07/54). German may put the cue after the date ("am 8. Januar 2008 geboren") or mark it with the
genealogical star ("(* 8.1.2008)").
"""

from __future__ import annotations

import re

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "januar|jänner|februar|märz|maerz|mai|juni|juli|oktober|dezember|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MON = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_ORD = r"(?:st|nd|rd|th|º|°|\.)?"
_DATE = (
    rf"(?:{_YEAR}[-/.]{_MON}[-/.]{_DAY}"                                            # 1954-08-08
    rf"|{_DAY}[/.-]{_DAY}[/.-](?:{_YEAR}|\d\d)"                                    # 08/07/1954, 8.7.54
    rf"|{_DAY}{_ORD}\s*(?:of\s+|de\s+)?(?:{_MONTHS})\.?,?\s*(?:de(?:l)?\s+)?{_YEAR}"  # 8. Januar 2008, 3 de mayo de 1990
    rf"|(?:{_MONTHS})\.?\s+{_DAY}{_ORD},?\s*{_YEAR})"                             # January 8th, 2008
)
_CUE = (
    r"(?:date\s+of\s+birth|birth\s*date|birthdate|d\.?\s?o\.?\s?b\.?|born(?:\s+on)?|b\.|"
    r"geburtsdatum|geb\.|geboren(?:\s+am)?|geburtstag|"
    r"fecha\s+de\s+nacimiento|f\.\s*(?:de\s+)?nac(?:imiento)?\.?|nacid[oa](?:\s+el)?|naci[óo](?:\s+el)?|"
    r"birthday|cumpleaños)"
)
# the cue, then at most a few filler words ("is", "was", ":", "on the", "am", "el") before the date
DOB_RE = re.compile(
    rf"(?i)(?<![\w]){_CUE}[\s:,\-–(]*(?:(?:is|was|on|the|am|el|es|ist|war)\s+){{0,3}}(?P<date>{_DATE})(?![\w])"
)

# German puts the cue after the date ("ist am 8. Januar 2008 geboren"); "(* 8.1.2008)" is the genealogical star
DOB_AFTER_RE = re.compile(rf"(?i)(?<![\w])(?P<date>{_DATE})\s+(?:in\s+\w+\s+)?(?:geboren|zur\s+welt\s+gekommen)\b")
DOB_STAR_RE = re.compile(rf"\(\s*\*\s*(?P<date>{_DATE})(?![\w])")


def find(text: str) -> list[tuple[int, int, str, str]]:
    if not any(c.isdigit() for c in text):
        return []
    return [(m.start("date"), m.end("date"), "DATE_OF_BIRTH", "dob")
            for rx in (DOB_RE, DOB_AFTER_RE, DOB_STAR_RE) for m in rx.finditer(text)]
