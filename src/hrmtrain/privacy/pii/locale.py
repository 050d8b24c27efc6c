"""Which of the supported locales a text is written in, from its function words.

A household has one locale (``household.json``'s ``locale``), but its mail and notes are not all in that
language, and ``hrmtrain data redact`` takes files that mix them. So every text is guessed on its own: the
counts of a few hundred of the commonest German, Spanish and English function words decide, and the
household's locale breaks ties (and chooses between en_US and en_GB, which function words cannot).
"""

from __future__ import annotations

import re

SUPPORTED = ("en_US", "en_GB", "de_DE", "es_ES")
REGION = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "es_ES": "ES"}
DEFAULT = "en_US"

_WORDS = {
    "de": set("""der die das und ist nicht ich du wir ihr sie es ein eine einen einem einer mit auf für von zu
        im am um bei nach aus bitte danke morgen heute liebe lieber hallo grüße gruß viele termin uhr wann
        noch auch aber oder wenn dass kannst kann können wird werden habe hast hat sind war bis vom zum zur
        geburtstag einkaufen straße mein meine dein deine unser unsere euch bin diese dieser sehr schon uns
        dem den des sich wie was wo ja nein gern gerne ihm ihn mich dich treffen ruf anrufen kommt komme
        nächste nächsten woche wochenende abends mittags vielen herzliche freundlichen nicht unter über
        durch ohne gegen zwischen während frag schick bring hol holt erreichst wegen kaufen abholen holen
        bringen machen zahlen bezahlen putzen waschen buchen kündigen schicken zurückrufen
        geburtsdatum geboren geb kennzeichen adresse anschrift telefon handy notiz einkaufsliste aufgabe erledigen
        januar februar märz juni juli oktober dezember montag dienstag mittwoch donnerstag freitag samstag sonntag
        milch brot butter eier käse äpfel kartoffeln nudeln zucker mehl wasser saft kaffee joghurt wurst
        hähnchen gemüse obst zwiebeln""".split()),
    "es": set("""el la los las y es no yo tú nosotros un una unos unas con en para por de del al que se su sus
        mi mis hola gracias mañana hoy querido querida saludos cita hora cuando pero o si está están estoy
        tengo tiene puedes puede hay muy ya también nuestro nuestra calle compra cumpleaños recuerda favor
        este esta estos estas le lo como nos te me eres somos vamos semana próxima llámame llama
        tarde noche día días abrazo besos querida vale bueno comprar llamar pagar recoger llevar hacer
        reservar limpiar renovar
        nacimiento nació matrícula dirección teléfono móvil nota lista tarea pendiente
        enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre lunes martes
        miércoles jueves viernes sábado domingo leche pan mantequilla huevos queso manzanas patatas arroz
        azúcar harina agua zumo café yogur pollo verduras fruta cebollas""".split()),
    "en": set("""the and is not i you we they it a an with on for of to in at by from please thanks tomorrow
        today dear hi hello regards appointment when also but or if that can will have has are was be this
        these my your our their just about get got need don't it's i'm let me call
        born birth date plate address phone mobile note list buy pick up reminder
        january february march june july october december monday tuesday wednesday thursday friday saturday
        sunday milk bread eggs cheese apples potatoes rice sugar flour water juice coffee chicken
        onions""".split()),
}
_TOKEN = re.compile(r"[a-zäöüßáéíóúñ']+")
_DE_CHARS = re.compile(r"[äöüß]")
_ES_CHARS = re.compile(r"[ñ¿¡]|[a-z][áéíóú]|[áéíóú][a-z]")


def words(lang: str) -> frozenset[str]:
    """The function words of `lang` ('de', 'es', 'en') this module counts."""
    return frozenset(_WORDS[lang])


def normalise(locale: str | None) -> str | None:
    """'de-DE', 'de_de', 'de' -> 'de_DE'; None for a locale this redactor has no rules for."""
    if not locale:
        return None
    loc = locale.replace("-", "_").strip()
    for s in SUPPORTED:
        if loc.lower() == s.lower():
            return s
    lang = loc.split("_")[0].lower()
    return {"de": "de_DE", "es": "es_ES", "en": "en_GB" if loc.upper().endswith("GB") else None}.get(lang)


def guess(text: str, default: str = DEFAULT) -> str:
    """The locale of `text`: the language with the most function words (at least two, and more than
    any other); English keeps the household's country (en_US or en_GB); a tie gives `default`."""
    counts = {"de": 0.0, "es": 0.0, "en": 0.0}
    for tok in _TOKEN.findall(text.lower()):
        for lang, words in _WORDS.items():
            if tok in words:
                counts[lang] += 1
    # umlauts and ß (German), ñ, ¿, ¡ and accented vowels (Spanish): half a vote per word that has one, as
    # names carry them too ("Jürgen Müller" in an English note)
    for word in text.lower().split():
        counts["de"] += 0.5 * bool(_DE_CHARS.search(word))
        counts["es"] += 0.5 * bool(_ES_CHARS.search(word))
    lang, n = max(counts.items(), key=lambda kv: kv[1])
    if n < 2 or sum(1 for v in counts.values() if v == n) > 1:
        return default
    if lang == "en":
        return default if default.startswith("en_") else DEFAULT
    return {"de": "de_DE", "es": "es_ES"}[lang]
