"""Person names in German and Spanish text, where no NER model installs offline (see the README's
Redaction section): layout and cue rules in those languages, and a gazetteer of given names.

* titles: Herr, Frau, Dr., Sr., Sra., Srta., Don, Doña, D., Dña. and the name after them;
* greetings ("Hallo Anna", "Liebe Frau Schmidt", "Hola Lucía", "Querido Juan", "Estimada Sra. Ruiz")
  and sign-offs on their own line ("Viele Grüße\nAnna", "LG, Jonas", "Un abrazo,\nMaría José");
* a known given name (Faker's given-name lists of de_DE, es_ES, en_US and en_GB: published civil-register
  names, about 3,500) and what follows it: surnames from the surname lists, any capitalised word in
  Spanish text (where nouns are lower case), particles ("de", "del", "de la", "y", "von", "zu") and
  hyphenated double surnames ("Schuster-Flantz", "Lorenzo-Vega", "García López").

German capitalises every noun, so there a capitalised word after a given name counts as a surname only
when the surname list has it, a title or greeting introduced the name, or the word is rare in German: not
among the words wordfreq's small German list holds (frequency >= 1 per million), or double-barrelled. Nouns
that stand next to a given name ("Termin", "Kuchen", "Dienstag") are common; surnames outside the list
("Oberhauser", "Brandhuber") are not. The same test takes a name whose given name is not in the list when a cue
("mit", "für", "con", "para") comes before it and every word of it is rare.
"""

from __future__ import annotations

import functools
import re

_UP = "A-ZÄÖÜÀ-ÖØ-Þ"
_LO = "a-zäöüßà-öø-ÿ"
_WORD = rf"[{_UP}][{_LO}]+(?:-[{_UP}][{_LO}]+)*"
_PARTICLES = r"(?:de\s+la|de\s+las|de\s+los|del|de|y|i|von\s+der|von\s+dem|von|zu|van|van\s+der)"
_SEQ = rf"{_WORD}(?:[ \t]+(?:{_PARTICLES}[ \t]+)?{_WORD}){{0,3}}"
_TITLES = (r"(?:Herrn?|Frau|Fr\.|Hr\.|Dr\.|Prof\.|Sr\.|Sra\.|Srta\.|Señor|Señora|Señorita|Don|Doña|D\.|Dña\.|"
           r"Dra\.|Onkel|Tante|Oma|Opa|Tío|Tía|Abuela|Abuelo|med\.|dent\.|rer\.\s?nat\.|phil\.|jur\.|Dipl\.-\w+\.)")
_GREET = (r"(?:Hallo|Hi|Hey|Servus|Moin|Liebe|Lieber|Liebes|Guten\s+(?:Morgen|Tag|Abend)|Sehr\s+geehrte[rs]?|"
          r"Hola|Querid[oa]s?|Estimad[oa]s?|Buen[oa]s(?:\s+(?:días|tardes|noches))?|Apreciad[oa])")
_CLOSE = (r"(?:(?:Viele|Liebe|Beste|Herzliche|Schöne|Freundliche)\s+Grüße|Mit\s+freundlichen\s+Grüßen|Gruß|Grüße|"
          r"LG|VG|MfG|Bis\s+bald|Danke|Tschüss|Ciao|Saludos|Un\s+saludo|Un\s+abrazo|Abrazos|Besos|Un\s+beso|"
          r"Atentamente|Cordialmente|Hasta\s+(?:pronto|luego)|Gracias|Muchas\s+gracias)")
# titles chain ("Frau Dr. Annegret Wöhler", "Herrn Prof. Dr. Hans Brandt", "Sra. Dña. Ana Ruiz")
TITLE_RE = re.compile(rf"(?<![\w]){_TITLES}(?:[ \t]+{_TITLES})*[ \t]+(?P<names>{_SEQ})")
GREET_RE = re.compile(rf"(?m)^[ \t]*{_GREET}[ \t,]+(?:{_TITLES}[ \t]+)?(?P<names>{_SEQ})(?:[ \t]*(?:,|&|und|y)[ \t]*"
                      rf"(?P<more>{_SEQ}))?[ \t]*(?=[,!:.]|$)")
SIGNOFF_RE = re.compile(rf"(?m)^[ \t]*{_CLOSE}[ \t]*[,!.]?[ \t]*(?:\n[ \t]*|[ \t]+)(?P<names>{_SEQ})[ \t]*[.!]?[ \t]*$")
CAND_RE = re.compile(rf"(?<![\w@.-]){_SEQ}")
_PARTICLE_RE = re.compile(_PARTICLES.replace(r"\s+", " "))
# a name after a preposition or conjunction that often introduces a person; every word must be rare
_CUES = {"de": r"(?:mit|für|an|von|bei|und|Herr|Frau|Familie|Fam\.)",
         "es": r"(?:con|para|a|y|de|llamar\s+a|familia)"}
CUED_RE = {lang: re.compile(rf"(?<![\w])(?i:{cue})[ \t]+(?P<names>{_WORD}(?:[ \t]+(?:{_PARTICLES}[ \t]+)?{_WORD}){{1,3}})")
           for lang, cue in _CUES.items()}


@functools.lru_cache(maxsize=1)
def gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """(given names, surnames) from Faker's person providers of the four locales."""
    from faker.providers.person.de_DE import Provider as De
    from faker.providers.person.en_GB import Provider as Gb
    from faker.providers.person.en_US import Provider as Us
    from faker.providers.person.es_ES import Provider as Es

    given, family = set(), set()
    for p in (De, Es, Us, Gb):
        given.update(p.first_names)
        family.update(p.last_names)
    given = {g for g in given if len(g) > 2}
    return frozenset(given), frozenset(f for f in family if len(f) > 2)


@functools.lru_cache(maxsize=4)
def common_words(lang: str) -> frozenset[str]:
    """Words of `lang` at >= 1 per million in wordfreq's small list (zipf >= 3), lower case."""
    from wordfreq import get_frequency_dict

    return frozenset(get_frequency_dict(lang, wordlist="small"))


def _rare(word: str, lang: str) -> bool:
    return all(p.lower() not in common_words(lang) for p in word.split("-"))


def _split_words(seq: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in re.finditer(r"\S+", seq)]


def _trim(start: int, seq: str, lang: str, cued: bool, stop: frozenset[str]) -> tuple[int, int] | None:
    """The longest name at the head of `seq`: words kept while they are particles followed by a name word,
    or surname-like (see the module docstring)."""
    given, family = gazetteer()
    words = _split_words(seq)
    keep = 0
    i = 0
    while i < len(words):
        w = words[i][1]
        lw = w.lower()
        if i:  # a particle of one or more words ("de la", "von der") joins what follows it
            n = next((k for k in (3, 2, 1) if i + k < len(words)
                      and _PARTICLE_RE.fullmatch(" ".join(x.lower() for _, x in words[i:i + k]))), 0)
            if n:
                i += n
                continue
        if lw in stop:
            break
        parts = w.split("-")
        if i == 0:
            ok = cued or w in given or all(p in given or p in family for p in parts)
        else:
            # German: a surname from the list, a rare word, or a double-barrelled name ("Pfeiffer-Wendt";
            # hyphenated compound nouns do not follow a given name)
            ok = (cued or lang == "es" or (lang == "de" and len(parts) > 1)
                  or all(p in family or p in given or (lang == "de" and _rare(p, lang)) for p in parts))
        if not ok:
            break
        keep = i + 1
        i += 1
    if keep == 0:
        return None
    a = start + words[0][0]
    b = start + words[keep - 1][0] + len(words[keep - 1][1])
    return a, b


def find(text: str, locale: str, stop: frozenset[str] = frozenset()) -> list[tuple[int, int, str, str]]:
    """PERSON candidates in German or Spanish `text`. `stop`: lower-case words never part of a name."""
    lang = locale[:2]
    given, _ = gazetteer()
    out: list[tuple[int, int, str, str]] = []
    for rx, src in ((TITLE_RE, "title"), (GREET_RE, "greet"), (SIGNOFF_RE, "signoff")):
        for m in rx.finditer(text):
            for g in ("names", "more"):
                if g in m.groupdict() and m.group(g):
                    span = _trim(m.start(g), m.group(g), lang, True, stop)
                    if span:
                        out.append((*span, "PERSON", src))
    cued = CUED_RE.get(lang)
    for m in cued.finditer(text) if cued else ():
        seq = m.group("names")
        words = re.findall(_WORD, seq)  # the capitalised words, without particles
        if all(_rare(w, lang) or w in given for w in words) and not any(w.lower() in stop for w in words):
            span = _trim(m.start("names"), seq, lang, True, stop)
            if span:
                out.append((*span, "PERSON", "cue"))
    for m in CAND_RE.finditer(text):
        # the name may start anywhere in a run of capitalised words ("Frag Friedo Flantz", "Danke Anna")
        for w in re.finditer(r"\S+", m.group()):
            if w.group().split("-")[0] in given:
                rest = m.group()[w.start():]
                span = _trim(m.start() + w.start(), rest, lang, False, stop)
                if span:
                    out.append((*span, "PERSON", "gazetteer"))
                break
    return out
