"""A second, independent corpus for the redactor: four locales, twelve PII types, two splits.

It shares nothing with `redaction_corpus.py` (the generator the redactor was first tuned on) but Faker's
value providers: its own sentences in English, German and Spanish, its own layouts of mails, calendar
entries, notes, to-dos and shopping lists, and values written in the national formats a household
would write them in (`0176/1234567`, `612 345 678`, `8. Januar 2008`, `B-MW 1234`).

Every sentence pattern exists in two versions: `dev` documents use only the first, `heldout` documents
only the second, so the held-out split's wording was never seen while the rules were tuned. The
held-out split also draws its values from a different seed, and `redaction_handwritten.jsonl` (beside
this file) adds hand-written texts with their own split label.

Gold: `spans` = [start, end, type] of every inserted value; `words` outside them are the non-PII words
over-redaction is measured on.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from faker import Faker

LOCALES = ("en_US", "en_GB", "de_DE", "es_ES")
KINDS = ("mail", "calendar", "note", "todo", "shopping")
TYPES = ("PERSON", "EMAIL", "PHONE", "ADDRESS", "DATE_OF_BIRTH", "NATIONAL_ID", "IP_ADDRESS", "URL",
         "LICENSE_PLATE", "CREDIT_CARD", "IBAN")
HANDWRITTEN = Path(__file__).with_name("redaction_handwritten.jsonl")

MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split(),
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split(),
}

# Sentences per locale and slot: (dev version, held-out version). {v} is the value, {p} a person.
PHRASES = {
    "en": {
        "PHONE": ("You can reach {p} on {v}.", "{p}'s mobile is {v} if the line drops."),
        "EMAIL": ("Reply to {v} with the forms.", "Send the photos over to {v} when you can."),
        "ADDRESS": ("The party is at {v}.", "Parcel goes to {v}, ring twice."),
        "DATE_OF_BIRTH": ("Date of birth: {v}.", "{p} was born on {v}, so bring the card."),
        "IP_ADDRESS": ("The printer sits at {v} on the home network.", "Router admin page: {v}"),
        "URL": ("Book a slot at {v}", "{p} put the photos on {v}"),
        "LICENSE_PLATE": ("Parking permit for plate {v}.", "The car's registration is {v}."),
        "CREDIT_CARD": ("Card on file: {v}.", "Paid with {v} (expires next year)."),
        "IBAN": ("Transfer the deposit to {v}.", "Bank details for the rent: {v}"),
        "PERSON": ("Ask {v} about the school run.", "{v} is picking the kids up at four."),
    },
    "de": {
        "PHONE": ("Du erreichst {p} unter {v}.", "Handy von {p}: {v}"),
        "EMAIL": ("Schick die Unterlagen an {v}.", "Die Fotos bitte an {v} mailen."),
        "ADDRESS": ("Die Feier ist in der {v}.", "Lieferadresse: {v}"),
        "DATE_OF_BIRTH": ("Geburtsdatum: {v}", "{p} ist am {v} geboren, also Karte mitbringen."),
        "IP_ADDRESS": ("Der Drucker hat die Adresse {v}.", "Router-Oberfläche unter {v}"),
        "URL": ("Termin buchen über {v}", "{p} hat die Bilder auf {v} hochgeladen"),
        "LICENSE_PLATE": ("Parkausweis für das Kennzeichen {v}.", "Unser Auto hat das Kennzeichen {v}."),
        "CREDIT_CARD": ("Kreditkarte: {v}", "Bezahlt mit der Karte {v}."),
        "IBAN": ("Bitte die Kaution auf {v} überweisen.", "Kontoverbindung für die Miete: {v}"),
        "PERSON": ("Frag {v} wegen der Fahrgemeinschaft.", "{v} holt die Kinder um vier ab."),
    },
    "es": {
        "PHONE": ("Puedes llamar a {p} al {v}.", "El móvil de {p} es {v}."),
        "EMAIL": ("Manda los papeles a {v}.", "Envía las fotos a {v} cuando puedas."),
        "ADDRESS": ("La fiesta es en {v}.", "Dirección de entrega: {v}"),
        "DATE_OF_BIRTH": ("Fecha de nacimiento: {v}", "{p} nació el {v}, así que lleva la tarjeta."),
        "IP_ADDRESS": ("La impresora está en {v}.", "Panel del router: {v}"),
        "URL": ("Reserva cita en {v}", "{p} ha subido las fotos a {v}"),
        "LICENSE_PLATE": ("Permiso de aparcamiento para la matrícula {v}.", "La matrícula del coche es {v}."),
        "CREDIT_CARD": ("Tarjeta: {v}", "Pagado con la tarjeta {v}."),
        "IBAN": ("Transfiere la fianza a {v}.", "Cuenta para el alquiler: {v}"),
        "PERSON": ("Pregunta a {v} por el coche compartido.", "{v} recoge a los niños a las cuatro."),
    },
}
ID_PHRASES = {
    "en_US": ("SSN for the tax form: {v}", "{p}'s social security number is {v}."),
    "en_GB": ("NHS number: {v}", "{p}'s NHS no. is {v} for the GP."),
    "de_DE": ("Steuer-ID: {v}", "Die Steuer-Identifikationsnummer von {p} ist {v}."),
    "es_ES": ("DNI: {v}", "El NIE de {p} es {v}."),
}
FRAMES = {
    "en": {"greet": (["Hi {p},", "Dear {p},"], ["Hello {p},", "Morning {p}!"]),
           "close": (["Thanks,\n{p}", "Best,\n{p}"], ["Cheers,\n{p}", "Speak soon,\n{p}"]),
           "subject": ("Subject: {t}", "Re: {t}"),
           "topics": ["school trip", "the party", "boiler service", "rent", "photos"],
           "when": ("When: {d} 10:00", "Time: {d}, 3pm"), "where": ("Where: {v}", "Location: {v}"),
           "todo": ("- [ ] {s}", "* {s}"), "shop": ("Shopping list", "Groceries for the week"),
           "items": ["2 x milk", "eggs", "bread", "bin bags", "apples", "coffee"]},
    "de": {"greet": (["Hallo {p},", "Liebe {p},"], ["Hi {p},", "Guten Morgen {p},"]),
           "close": (["Viele Grüße\n{p}", "Liebe Grüße,\n{p}"], ["LG\n{p}", "Bis bald,\n{p}"]),
           "subject": ("Betreff: {t}", "AW: {t}"),
           "topics": ["Klassenfahrt", "die Feier", "Heizungswartung", "Miete", "Fotos"],
           "when": ("Wann: {d} 10:00 Uhr", "Zeit: {d}, 15 Uhr"), "where": ("Wo: {v}", "Ort: {v}"),
           "todo": ("- [ ] {s}", "* {s}"), "shop": ("Einkaufsliste", "Einkauf für die Woche"),
           "items": ["2 x Milch", "Eier", "Brot", "Müllbeutel", "Äpfel", "Kaffee"]},
    "es": {"greet": (["Hola {p},", "Querida {p}:"], ["Buenos días {p},", "Hola, {p}:"]),
           "close": (["Un abrazo,\n{p}", "Saludos,\n{p}"], ["Besos,\n{p}", "Hasta pronto,\n{p}"]),
           "subject": ("Asunto: {t}", "RE: {t}"),
           "topics": ["excursión del colegio", "la fiesta", "revisión de la caldera", "alquiler", "fotos"],
           "when": ("Cuándo: {d} 10:00", "Hora: {d}, 15:00"), "where": ("Dónde: {v}", "Lugar: {v}"),
           "todo": ("- [ ] {s}", "* {s}"), "shop": ("Lista de la compra", "Compra de la semana"),
           "items": ["2 x leche", "huevos", "pan", "bolsas de basura", "manzanas", "café"]},
}


@dataclass
class Doc:
    id: str
    locale: str
    kind: str
    split: str
    text: str = ""
    spans: list = field(default_factory=list)  # [start, end, type]


class _Builder:
    def __init__(self, doc: Doc):
        self.doc, self.parts, self.pos = doc, [], 0

    def add(self, template: str, **slots) -> None:
        """Append `template` with its slots filled; slots given as (value, type) are gold spans."""
        i = 0
        while i < len(template):
            j = template.find("{", i)
            if j < 0:
                self._text(template[i:])
                break
            self._text(template[i:j])
            k = template.index("}", j)
            value = slots[template[j + 1:k]]
            if isinstance(value, tuple):
                self.doc.spans.append([self.pos, self.pos + len(value[0]), value[1]])
                self._text(value[0])
            else:
                self._text(value)
            i = k + 1

    def _text(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def done(self) -> Doc:
        self.doc.text = "".join(self.parts)
        return self.doc


def _nhs(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def _idnr(rng: random.Random) -> str:
    from stdnum.de import idnr

    while True:
        body = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))
        for c in "0123456789":
            if idnr.is_valid(body + c):
                return body + c


class Values:
    """Faker values written the way a household in `locale` writes them."""

    def __init__(self, locale: str, rng: random.Random, split: str):
        self.loc, self.rng, self.split = locale, rng, split
        self.f = Faker(locale)
        self.f.seed_instance(rng.randint(0, 2**31))
        self.lang = locale[:2]

    def pick(self, *options):
        return self.rng.choice(options)

    def person(self) -> str:
        f = self.f
        return self.pick(f.name(), f.name(), f"{f.first_name()} {f.last_name()}", f.first_name())

    def full_name(self) -> str:
        return f"{self.f.first_name()} {self.f.last_name()}"

    def email(self, name: str | None = None) -> str:
        return self.f.email() if not name or self.rng.random() < 0.5 else \
            f"{name.split()[0].lower()}.{name.split()[-1].lower()}@{self.f.free_email_domain()}".translate(
                str.maketrans("äöüßáéíóúñ", "aousaeioun"))

    def phone(self) -> str:
        r = self.rng
        national = {
            "en_US": lambda: self.pick(f"({r.randint(201, 989)}) {r.randint(200, 999)}-{r.randint(0, 9999):04d}",
                                       f"{r.randint(201, 989)}-{r.randint(200, 999)}-{r.randint(0, 9999):04d}",
                                       f"+1 {r.randint(201, 989)} {r.randint(200, 999)} {r.randint(0, 9999):04d}"),
            "en_GB": lambda: self.pick(f"07{r.randint(100, 999)} {r.randint(100000, 999999)}",
                                       f"020 {r.randint(7000, 8999)} {r.randint(1000, 9999)}",
                                       f"+44 7{r.randint(100, 999)} {r.randint(100000, 999999)}"),
            "de_DE": lambda: self.pick(f"015{r.randint(1, 9)} {r.randint(10000000, 99999999)}",
                                       f"0176/{r.randint(1000000, 9999999)}",
                                       f"030 {r.randint(1000000, 9999999)}",
                                       f"+49 171 {r.randint(1000000, 9999999)}"),
            "es_ES": lambda: self.pick(f"6{r.randint(10, 99)} {r.randint(100, 999)} {r.randint(100, 999)}",
                                       f"9{r.randint(10, 19)} {r.randint(100, 999)} {r.randint(100, 999)}",
                                       f"+34 6{r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)}"),
        }[self.loc]
        return self.pick(national(), national(), self.f.phone_number())

    def address(self) -> str:
        f = self.f
        one_line = f.address().replace("\n", ", ")
        return self.pick(f.address(), one_line, f.street_address())

    def dob(self) -> str:
        d: date = self.f.date_of_birth(minimum_age=1, maximum_age=95)
        m = MONTHS[self.lang][d.month - 1]
        forms = {
            "en_US": [f"{d.month:02d}/{d.day:02d}/{d.year}", f"{m} {d.day}, {d.year}", d.isoformat()],
            "en_GB": [f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.day} {m} {d.year}", d.isoformat()],
            "de_DE": [f"{d.day:02d}.{d.month:02d}.{d.year}", f"{d.day}. {m} {d.year}", d.isoformat()],
            "es_ES": [f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.day} de {m} de {d.year}", d.isoformat()],
        }[self.loc]
        return self.rng.choice(forms)

    def national_id(self) -> str:
        r = self.rng
        if self.loc == "en_US":
            s = self.f.ssn()
            return self.pick(s, s.replace("-", " "), s.replace("-", ""))
        if self.loc == "en_GB":
            n = _nhs(r)
            return self.pick(f"{n[:3]} {n[3:6]} {n[6:]}", n, f"{n[:3]}-{n[3:6]}-{n[6:]}")
        if self.loc == "de_DE":
            n = _idnr(r)
            return self.pick(n, f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:]}")
        return self.pick(self.f.nif(), self.f.nie())

    def ip(self) -> str:
        return self.pick(self.f.ipv4_private(), self.f.ipv4(), self.f.ipv6())

    def url(self, name: str) -> str:
        first, last = (name.split() + ["x"])[:2] if " " in name else (name, self.f.last_name())
        first, last = (s.lower().translate(str.maketrans("äöüßáéíóúñ", "aousaeioun")) for s in (first, last))
        tld = {"en_US": "com", "en_GB": "co.uk", "de_DE": "de", "es_ES": "es"}[self.loc]
        return self.pick(f"https://calendly.com/{first}-{last}/30min", f"github.com/{first}{last}",
                         f"www.{first}{last}.{tld}", f"https://{first}-{last}.photos/album/2024",
                         f"instagram.com/{first}.{last}", f"https://{last}{first}.blog")

    def plate(self) -> str:
        r = self.rng
        L = "ABCDEFGHJKLMNPRSTUVWXYZ"
        if self.loc == "en_US":
            return self.pick(f"{r.randint(1, 9)}{''.join(r.choices(L, k=3))}{r.randint(100, 999)}",
                             f"{''.join(r.choices(L, k=3))}-{r.randint(1000, 9999)}",
                             f"{''.join(r.choices(L, k=3))} {r.randint(1000, 9999)}")
        if self.loc == "de_DE":
            return self.pick(self.f.license_plate(),
                             f"{r.choice(['B', 'M', 'HH', 'K', 'F', 'S'])}-{''.join(r.choices(L, k=2))} {r.randint(1, 9999)}")
        return self.f.license_plate()

    def card(self) -> str:
        n = self.f.credit_card_number()
        return self.pick(n, " ".join(n[i:i + 4] for i in range(0, len(n), 4)))

    def iban(self) -> str:
        n = self.f.iban()
        return self.pick(n, " ".join(n[i:i + 4] for i in range(0, len(n), 4)))


def _fact(b: _Builder, v: Values, slot: str, which: int, people: list[str]) -> None:
    p = (people[0], "PERSON")
    lang = v.lang
    if slot == "NATIONAL_ID":
        b.add(ID_PHRASES[v.loc][which], v=(v.national_id(), "NATIONAL_ID"), p=p)
        return
    tpl = PHRASES[lang][slot][which]
    value = {"PHONE": v.phone, "EMAIL": lambda: v.email(people[0]), "ADDRESS": v.address, "DATE_OF_BIRTH": v.dob,
             "IP_ADDRESS": v.ip, "URL": lambda: v.url(people[0]), "LICENSE_PLATE": v.plate, "CREDIT_CARD": v.card,
             "IBAN": v.iban, "PERSON": v.person}[slot]()
    b.add(tpl, v=(value, slot), p=p)


def document(i: int, locale: str, kind: str, split: str, rng: random.Random) -> Doc:
    v = Values(locale, rng, split)
    w = 0 if split == "dev" else 1
    fr = FRAMES[v.lang]
    doc = Doc(f"{split}-{i:04d}", locale, kind, split)
    b = _Builder(doc)
    people = [v.person(), v.full_name()]
    slots = rng.sample([s for s in TYPES if s not in ("PERSON",)], k=rng.randint(2, 4)) + ["PERSON"]
    rng.shuffle(slots)
    if kind == "mail":
        b.add(fr["subject"][w] + "\n\n", t=rng.choice(fr["topics"]))
        b.add(rng.choice(fr["greet"][w]) + "\n", p=(people[0], "PERSON"))
        for s in slots:
            _fact(b, v, s, w, people)
            b.add(" ")
        b.add("\n\n" + rng.choice(fr["close"][w]), p=(people[1], "PERSON"))
    elif kind == "calendar":
        b.add(rng.choice(fr["topics"]).capitalize() + "\n")
        b.add(fr["when"][w] + "\n", d=f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026")
        b.add(fr["where"][w] + "\n", v=(v.address(), "ADDRESS"))
        for s in slots:
            _fact(b, v, s, w, people)
            b.add("\n")
    elif kind == "todo":
        for s in slots:
            b.add(fr["todo"][w].split("{s}")[0])
            _fact(b, v, s, w, people)
            b.add("\n")
    elif kind == "shopping":
        b.add(fr["shop"][w] + "\n")
        for item in rng.sample(fr["items"], 3):
            b.add(f"- {item}\n")
        for s in slots:
            _fact(b, v, s, w, people)
            b.add("\n")
    else:  # note
        for s in slots:
            _fact(b, v, s, w, people)
            b.add(" ")
    return b.done()


def generate(n_per_split: int = 200, seed: int = 0) -> list[Doc]:
    """`n_per_split` documents in each split, spread evenly over locales and kinds; the held-out split
    uses its own sentence versions and a different value seed."""
    docs = []
    for split, offset in (("dev", 0), ("heldout", 7919)):
        rng = random.Random(seed * 1_000_003 + offset)
        for i in range(n_per_split):
            docs.append(document(i, LOCALES[i % 4], KINDS[(i // 4) % 5], split, rng))
    return docs + handwritten()


def handwritten() -> list[Doc]:
    """Hand-written texts (redaction_handwritten.jsonl): {"id", "locale", "kind", "split", "text",
    "values": [[value, type], ...]}; each value's every occurrence in the text is gold."""
    docs = []
    if not HANDWRITTEN.is_file():
        return docs
    for line in HANDWRITTEN.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        doc = Doc(row["id"], row["locale"], row["kind"], row["split"], row["text"])
        for value, typ in row["values"]:
            start = row["text"].find(value)
            if start < 0:
                raise ValueError(f"{HANDWRITTEN.name}: {row['id']}: {value!r} is not in its text")
            while start >= 0:
                doc.spans.append([start, start + len(value), typ])
                start = row["text"].find(value, start + len(value))
        docs.append(doc)
    return docs


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.out, "w", encoding="utf-8") as fh:
        for d in generate(a.n, a.seed):
            fh.write(json.dumps(d.__dict__, ensure_ascii=False) + "\n")
