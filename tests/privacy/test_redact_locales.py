"""The PII types and locales beyond the first set: each value in the formats households write it in is
redacted, ordinary numbers and words next to them are not, and the commands pick the locale."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import ROOT, run_cli
from hrmtrain.errors import DataError
from hrmtrain.privacy.directory import Directory
from hrmtrain.privacy.pii import locale as pii_locale
from hrmtrain.privacy.redact import Redactor

CAUGHT = [
    # phones in national formats, no country code
    ("Ruf mich an: 0176/1234567.", "0176/1234567", "PHONE"),
    ("Handy 0151 23456789, Festnetz 030 1234567", "0151 23456789", "PHONE"),
    ("Mi móvil es 612 345 678.", "612 345 678", "PHONE"),
    ("Call me on 07911 123456 tonight", "07911 123456", "PHONE"),
    # national IDs in every common writing
    ("SSN: 123456789", "123456789", "US_SSN"),
    ("tax form needs 123.45.6789", "123.45.6789", "US_SSN"),
    ("NHS number 9434765919", "9434765919", "UK_NHS"),
    ("NHS no. 943-476-5919", "943-476-5919", "UK_NHS"),
    ("DNI 12345678Z", "12345678Z", "ES_DNI"),
    ("su NIE es X1234567L", "X1234567L", "ES_DNI"),
    ("Steuer-ID 65 929 970 489", "65 929 970 489", "DE_TAX_ID"),
    # dates of birth in three languages
    ("geboren am 8. Januar 2008 in Köln", "8. Januar 2008", "DATE_OF_BIRTH"),
    ("DOB 07/25/1934", "07/25/1934", "DATE_OF_BIRTH"),
    ("Emma (born 1954-08-08) is coming", "1954-08-08", "DATE_OF_BIRTH"),
    ("fecha de nacimiento: 3 de mayo de 1990", "3 de mayo de 1990", "DATE_OF_BIRTH"),
    ("Olga ist am 17.06.1993 geboren.", "17.06.1993", "DATE_OF_BIRTH"),
    ("Festnetz (01328) 48084", "(01328) 48084", "PHONE"),
    # network identifiers
    ("the NAS is at 192.168.1.40", "192.168.1.40", "IP_ADDRESS"),
    ("router 2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334", "IP_ADDRESS"),
    ("book at https://calendly.com/jane-doe/30min.", "https://calendly.com/jane-doe/30min", "URL"),
    ("code on github.com/janedoe", "github.com/janedoe", "URL"),
    ("follow @jane_doe88 for photos", "@jane_doe88", "URL"),
    # licence plates of four countries
    ("Kennzeichen B-MW 1234", "B-MW 1234", "LICENSE_PLATE"),
    ("matrícula 1234 BCD", "1234 BCD", "LICENSE_PLATE"),
    ("car reg AB12 CDE", "AB12 CDE", "LICENSE_PLATE"),
    ("our plate is 7ABC123", "7ABC123", "LICENSE_PLATE"),
    # German and Spanish addresses and names
    ("Wir wohnen in der Musterstraße 12b, 10115 Berlin.", "Musterstraße 12b, 10115 Berlin", "ADDRESS"),
    ("Vivo en Calle de Alcalá, 45, 28014 Madrid.", "Calle de Alcalá, 45, 28014 Madrid", "ADDRESS"),
    ("Hallo Jonas,\nwir sehen uns am Montag.\nViele Grüße\nMarta", "Jonas", "PERSON"),
    ("Mañana vemos a Juan García López en el parque.", "Juan García López", "PERSON"),
    ("Frag Fatima Gute-Trubin wegen der Fahrgemeinschaft.", "Fatima Gute-Trubin", "PERSON"),
    ("Please call Dr. Roland Mülichen MBA about it.", "Dr. Roland Mülichen MBA", "PERSON"),
    # titles in a chain, particles of several words, German surnames outside the list (rare words)
    ("Ruf Frau Dr. Annegret Wöhler-Schmitz an.", "Annegret Wöhler-Schmitz", "PERSON"),
    ("Nota: Jorge Luis Fernández de la Vega cumple años.", "Jorge Luis Fernández de la Vega", "PERSON"),
    ("Termin mit Jürgen Oberhauser am Dienstag.", "Jürgen Oberhauser", "PERSON"),
    ("Termin mit Dr. med. Jasper Lindqvist am Montag.", "Jasper Lindqvist", "PERSON"),
    ("Rückfragen an Bartholomäus Pfeiffer-Wendt bitte.", "Bartholomäus Pfeiffer-Wendt", "PERSON"),
    ("Recordatorio: cena con Inmaculada Ferrer Soler el viernes.", "Inmaculada Ferrer Soler", "PERSON"),
    # after its own cue an ID's shape is enough, a wrong check digit included
    ("Steuer-ID 12 345 678 901 für die Steuererklärung", "12 345 678 901", "DE_TAX_ID"),
    ("NHS no. 123 456 7890 (from the letter)", "123 456 7890", "UK_NHS"),
    ("SSN: 000-12-3456 on the old form", "000-12-3456", "US_SSN"),
]


@pytest.fixture(scope="module")
def redactor():
    return Redactor()


@pytest.mark.parametrize("text,value,typ", CAUGHT, ids=[c[1] for c in CAUGHT])
def test_each_new_type_is_redacted_whole_in_its_own_format(redactor, text, value, typ):
    out, spans = redactor.redact(text)
    assert value not in out, out
    start = text.index(value)
    covering = [s for s in spans if s.start <= start and s.end >= start + len(value)]
    assert covering, (out, spans)  # one placeholder for the whole value
    assert covering[0].type == typ, covering


@pytest.mark.parametrize("text", [
    "Meeting moved to 10:30:00, bring £12.50 and order #4829301.",
    "Termin am 12.03.2026 um 14:30 Uhr, Rechnung 2026-118.",
    "La cita es el 12/03/2026 a las 10:00, son 45 euros.",
    "Anna Geburtstag Kuchen kaufen",  # a German noun after a given name is not a surname
    "Einkauf für Anna: Milch, Eier, Butter.",  # English name cues (", X.") do not run on German text
    "Party on 2026-06-14, kids born in the spring love it.",  # a date that no birth cue introduces
    "version 3.2 of the app, room 101, 2 x 500 g flour",
])
def test_ordinary_numbers_and_words_stay(redactor, text):
    out, spans = redactor.redact(text)
    kept = [s for s in spans if s.type != "PERSON" or s.original != "Anna"]
    assert not kept, (out, spans)


def test_a_texts_language_picks_the_locale_and_english_keeps_the_households_country():
    assert pii_locale.guess("Hallo, wir treffen uns morgen um 10 Uhr in der Küche.") == "de_DE"
    assert pii_locale.guess("Hola, ¿nos vemos mañana en la plaza?", "en_GB") == "es_ES"
    assert pii_locale.guess("Can you pick up the kids at four?", "en_GB") == "en_GB"
    assert pii_locale.guess("milk", "de_DE") == "de_DE"  # too little to tell: the household's
    # a form with no function words: its field names and months tell
    assert pii_locale.guess("Geburtsdatum: 8. Januar 2008. Kennzeichen B-MW 1234.") == "de_DE"
    # umlauts in names alone do not make an English note German
    assert pii_locale.guess("Pick up Brötchen and Käse at Bäckerei Müller", "en_GB") == "en_GB"
    assert pii_locale.normalise("de-DE") == "de_DE" and pii_locale.normalise("fr_FR") is None


def test_a_phone_in_brackets_keeps_its_brackets(redactor):
    out, _ = redactor.redact("Rückfragen an Herrn Pfeiffer (0170 9876543).")
    assert out.endswith("(<PHONE_1>)."), out


def test_placeholders_stay_consistent_for_new_types(redactor):
    out, _ = redactor.redact("Reg AB12 CDE, again: AB12CDE. IP 10.0.0.1 then 10.0.0.1.")
    assert out.count("<LICENSE_PLATE_1>") == 2 and out.count("<IP_ADDRESS_1>") == 2, out


def test_data_redact_takes_mixed_locales_and_a_lines_own_locale(tmp_path):
    rows = [{"id": 1, "text": "Hallo Jonas, ruf mich unter 0176/1234567 an.\nViele Grüße\nMarta"},
            {"id": 2, "text": "Hola Lucía, mi móvil es 612 345 678.\nUn abrazo,\nCarmen"},
            # no language to tell from: its own field says Spanish, so 612... is tried as a Spanish number first
            {"id": 3, "text": "612345678", "locale": "es_ES"}]
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    res = run_cli(["data", "redact", str(src), str(dst), "--locale", "en_GB"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    out = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == [1, 2, 3] and out[2]["locale"] == "es_ES"
    for secret in ("Jonas", "0176/1234567", "Marta", "Lucía", "612 345 678", "Carmen"):
        assert all(secret not in o["text"] for o in out), out
    assert out[2]["text"] == "<PHONE_1>"
    bad = run_cli(["data", "redact", str(src), str(dst), "--locale", "fr_FR"], cwd=tmp_path)
    assert bad.returncode != 0 and "fr_FR" in bad.stderr and "de_DE" in bad.stderr


def test_a_household_locale_without_rules_is_named(tmp_path):
    path = tmp_path / "household.json"
    path.write_text(json.dumps({"members": [{"name": "Ana"}], "locale": "pt_BR"}))
    with pytest.raises(DataError, match="pt_BR") as exc:
        Directory.load(path)
    assert str(path) in str(exc.value)
    path.write_text(json.dumps({"members": [{"name": "Ana"}], "locale": "es-ES"}))
    assert Directory.load(path).locale == "es-ES"


def test_the_locales_benchmark_runs_and_reports_every_bar(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "redaction_locales.py"), "--n", "40",
                           "--split", "dev", "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for line in ("PERSON", "LICENSE_PLATE", "locale:de_DE", "over-redaction", "speed:"):
        assert line in proc.stdout, proc.stdout
    figures = json.loads(out.read_text())["splits"]["dev"]
    assert figures["docs"] >= 40 and 0 <= figures["over_redaction"] <= 1
    assert figures["caught"]["all"] > 0.5  # the redactor works at all; the bars are in benchmarks/README.md
