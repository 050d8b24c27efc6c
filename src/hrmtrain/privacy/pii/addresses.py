"""German and Spanish street addresses (the English ones are privacy/redact.py's STREET_RE and ZIP/postcode
rules): the street, its number, and a following postcode and town where they are written with it.

German: a street name ending in a street word, written as one word or apart ("Musterstraße 12b",
"Karl-Marx-Allee 3", "Alte Schönhauser Str. 5", "Am Markt 1", "Unter den Linden 77"), a house number
(12, 12b, 5-7, 5/0), then "10115 Berlin" on the same line after a comma or on the next line.
Spanish: a street type first ("Calle de Alcalá, 45", "C/ Mayor 3, 2º B", "Avda. de la Constitución
12", "Paseo de Gracia 43"), a number, floor and door ("Piso 3", "Puerta 2", "3º izq."), then
"28014 Madrid" (or "Madrid, 28014", as Faker writes it).
"""

from __future__ import annotations

import re

_UP = "A-ZÄÖÜÀ-ÖØ-Þ"
_W = rf"[{_UP}][\wäöüßáéíóúñç'’-]*"
_DE_SUFFIX = (r"(?:stra(?:ß|ss)e|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|pfad|markt|hof|berg|"
              r"graben|kamp|stieg|wall|zeile|park|garten|feld|brücke|tor|promenade|anger|aue|au|gürtel|"
              r"kai|höhe|grund|winkel|bogen|blick|acker|wiese|heide|tal|insel|stadt|dorf|siedlung|hain|eck)")
_DE_SEP_WORD = (r"(?:Stra(?:ß|ss)e|Str\.|Weg|Gasse|Platz|Allee|Ring|Damm|Ufer|Chaussee|Steig|Pfad|Markt|Hof|"
                r"Berg|Graben|Kamp|Wall|Park|Garten|Promenade|Anger)")
_DE_NUM = r"\d{1,4}\s?[a-zA-Z]?(?:\s?[-/]\s?\d{1,4}[a-zA-Z]?)?"
_DE_STREET = (
    rf"(?:(?:{_W}[ -]){{0,4}}[{_UP}][\wäöüß-]*{_DE_SUFFIX}"              # Musterstraße, Karl-Marx-Allee, Alte Schönhauser Str.
    rf"|(?:{_W}[ -]){{1,3}}{_DE_SEP_WORD}"                            # Berliner Straße
    rf"|(?:Am|An\s+der|An\s+den|Auf\s+dem|Auf\s+der|Im|In\s+der|In\s+den|Unter\s+den|Zum|Zur|Hinter\s+der|"
    rf"Vor\s+dem|Alt|Alte|Neue|Neuer)\s+{_W}(?:\s+{_W})?)"           # Am Markt, Unter den Linden
)
_PLZ_TOWN = rf"\d{{5}}\s+{_W}(?:[ -](?:an\s+der\s+|am\s+|im\s+|in\s+der\s+|bei\s+|de\s+|del\s+|de\s+la\s+)?{_W}){{0,3}}"
DE_RE = re.compile(
    rf"(?<![\w-]){_DE_STREET}\s+{_DE_NUM}(?![\w])"
    rf"(?:(?:\s*,\s*|\s*\n\s*)(?:D-)?{_PLZ_TOWN})?"
)
_ES_TYPE = (r"(?:Calle|C/|C\.|Cl\.|Avenida|Avda\.?|Av\.|Plaza|Pza\.|Pl\.|Paseo|P[ºo]\.?|Camino|Carretera|Ctra\.|"
            r"Ronda|Travesía|Travesia|Glorieta|Rambla|Callejón|Callejon|Vía|Via|Vial|Urbanización|Urb\.|Pasaje|Cuesta|"
            r"Acceso|Cañada|Pasadizo|Alameda|Bulevar|Barrio|Polígono|Sector|Costanilla|Partida|Vereda|Rúa|Rua|Carrer|"
            r"Passeig|Plaça|Avinguda)")
_ES_NAME = rf"(?:(?:de|del|de\s+la|de\s+las|de\s+los|la|las|los|el|y|i|d'|l')\s+|{_W}\s*)+?"
_ES_NUM = r"(?:n[º°o]\.?\s*|núm\.?\s*|s/n\b)?\d{1,4}[A-Za-z]?"
_ES_FLOOR = (r"(?:\s*,?\s*(?:(?:Piso|Puerta|Planta|Portal|Escalera|Esc\.|Bajo|Bloque|Apt\.|Apto\.?|Dpto\.?)\s*\w{1,4}"
             r"|\d{1,2}\s*[º°ª]\s*[A-Za-z]?(?:\s*(?:izq(?:da)?|dcha|der|izquierda|derecha)\.?)?))*")
ES_RE = re.compile(
    rf"(?<![\w-]){_ES_TYPE}\s*{_ES_NAME}\s*,?\s*{_ES_NUM}(?![\w]){_ES_FLOOR}"
    rf"(?:(?:\s*,\s*|\s*\n\s*)(?:{_PLZ_TOWN}|{_W}(?:\s+{_W})?,\s*\d{{5}}))?"
)


def find(text: str) -> list[tuple[int, int, str, str]]:
    if not any(c.isdigit() for c in text):
        return []
    out = []
    for rx, src in ((DE_RE, "addr-de"), (ES_RE, "addr-es")):
        for m in rx.finditer(text):
            s, e = m.span()
            while e > s and text[e - 1] in " ,.\n\t":
                e -= 1
            out.append((s, e, "ADDRESS", src))
    return out
