"""Seeded generator of synthetic household texts with ground-truth PII spans.

Each document is an e-mail, a calendar event, a to-do list or a shopping note, built from
templates whose slots are filled with Faker values. Every inserted PII value is recorded as a
gold span ``(start, end, type)``; decoys that must *not* be redacted (closing words such as
"Cheers", weekday and month names, dish names with eponyms, shop names, kinship words) are
recorded as negative spans ``(start, end, category)``.

Gold types: PERSON, EMAIL, PHONE, CREDIT_CARD, IBAN, US_SSN, UK_NINO, ADDRESS, LOCATION.

Usage:  python gen_corpus.py --n 1000 --seed 7 --out corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import unicodedata
from dataclasses import asdict, dataclass, field

from faker import Faker
from stdnum import luhn

# --------------------------------------------------------------------------- value pools

# Name locales and weights: mostly UK/US names, with a share of other European and Indian
# names, as a real household's contacts would have.
NAME_LOCALES = [("en_US", 30), ("en_GB", 30), ("en_IN", 8), ("es_ES", 8), ("de_DE", 8),
                ("fr_FR", 8), ("it_IT", 8)]
IBAN_LOCALES = ["en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "en_IE", "pl_PL", "pt_PT"]
TITLES = ["Mr", "Mrs", "Ms", "Dr", "Dr.", "Mr.", "Mrs.", "Miss", "Prof."]

DISHES = ["Shepherd's Pie", "Beef Wellington", "Eggs Benedict", "Caesar salad", "Victoria sponge",
          "Chicken Kiev", "Peach Melba", "Spaghetti Bolognese", "Lobster Thermidor",
          "Waldorf salad", "Cobb salad", "Reuben sandwich", "Earl Grey tea", "Bakewell tart",
          "Cottage pie", "Chicken Tikka Masala", "Toad in the Hole", "Lancashire hotpot",
          "Cornish pasties", "Margherita pizza", "Pavlova", "Yorkshire puddings",
          "Bananas Foster", "Oysters Rockefeller", "Chelsea buns", "Eton mess",
          "Battenberg cake", "Black Forest gateau", "Sunday roast", "Nicoise salad"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
SHOPS = ["Tesco", "Sainsbury's", "Costco", "Walmart", "Aldi", "Lidl", "Target", "Waitrose",
         "Amazon", "Netflix", "Boots", "IKEA", "Trader Joe's", "Whole Foods"]
KIN = ["Mum", "Dad", "Mom", "Grandma", "Grandpa", "Nan", "the kids", "the twins"]
CLOSINGS = ["Cheers", "Thanks", "Best", "Best wishes", "Kind regards", "Many thanks", "Love",
            "Regards", "Speak soon", "Thanks so much", "All the best", "Take care", "Warmly"]
GREETINGS = ["Hi", "Hello", "Hey", "Dear", "Hiya", "Morning", "Good morning"]
TIMES = ["9am", "10:30", "2pm", "4.15pm", "18:00", "noon", "7pm", "8:45am"]
ITEMS = ["milk", "eggs", "bread", "bin bags", "washing-up liquid", "bananas", "oat milk",
         "nappies", "coffee beans", "batteries", "dog food", "butter", "rice", "tomatoes"]
ACTIVITIES = ["swimming", "football practice", "piano lesson", "parents' evening", "dentist",
              "vet appointment", "book club", "yoga", "school run", "boiler service"]


def _ascii(s: str) -> str:
    """Strip accents and non-letters: 'José García' -> 'josegarcia' for e-mail local parts."""
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", s.lower())


# --------------------------------------------------------------------------- builder


@dataclass
class Doc:
    id: str
    kind: str
    text: str
    spans: list = field(default_factory=list)      # [start, end, TYPE, tag]; tag "household" or ""
    negatives: list = field(default_factory=list)  # [start, end, category]


class _Builder:
    """Appends text pieces and records the character span of every PII / decoy piece."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0
        self.spans: list[list] = []
        self.neg: list[list] = []

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.n += len(s)

    def pii(self, s: str, typ: str, tag: str = "") -> None:
        self.spans.append([self.n, self.n + len(s), typ, tag])
        self.add(s)

    def decoy(self, s: str, cat: str) -> None:
        self.neg.append([self.n, self.n + len(s), cat])
        self.add(s)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class Person:
    first: str
    last: str
    email: str
    title: str


class Generator:
    """Fills templates. Slots in templates look like ``{SLOT}``; see ``_fill``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc, _ in NAME_LOCALES}
        for loc in IBAN_LOCALES + ["en_US", "en_GB"]:
            self.fakers.setdefault(loc, Faker(loc))
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed * 1000 + i)
        self.us, self.gb = self.fakers["en_US"], self.fakers["en_GB"]
        # One household per corpus: its members' names are "known" to the redactor.
        loc = self.rng.choice(["en_US", "en_GB"])
        surname = self.fakers[loc].last_name()
        self.household = [self._person(loc, last=surname) for _ in range(4)]

    # ---- values ---------------------------------------------------------------------
    def _locale(self) -> str:
        locs, weights = zip(*NAME_LOCALES)
        return self.rng.choices(locs, weights)[0]

    def _person(self, loc: str | None = None, last: str | None = None) -> Person:
        f = self.fakers[loc or self._locale()]
        first = f.first_name()
        last = last or f.last_name()
        domain = self.rng.choice([f.free_email_domain(), f.domain_name()])
        local = self.rng.choice([f"{_ascii(first)}.{_ascii(last)}", f"{_ascii(first)}{_ascii(last)[:1]}",
                                 f"{_ascii(first)[:1]}{_ascii(last)}{self.rng.randint(1, 99)}",
                                 f.user_name()])
        return Person(first, last, f"{local}@{domain}", self.rng.choice(TITLES))

    def phone(self) -> str:
        r = self.rng.random()
        if r < 0.35:
            return self.us.phone_number()
        if r < 0.7:
            return self.gb.phone_number()
        if r < 0.85:  # UK mobile written the usual ways
            d = "7" + "".join(self.rng.choices(string.digits, k=9))
            return self.rng.choice([f"0{d[:4]} {d[4:]}", f"+44 {d[:4]} {d[4:]}", f"0{d}",
                                    f"+44 {d[:4]} {d[4:7]} {d[7:]}"])
        a = str(self.rng.randint(201, 989))  # US number with a space-separated style
        b = f"{self.rng.randint(200, 999)}"
        c = f"{self.rng.randint(0, 9999):04d}"
        return self.rng.choice([f"({a}) {b}-{c}", f"+1 {a} {b} {c}", f"{a} {b} {c}",
                                f"1-{a}-{b}-{c}"])

    def card(self) -> str:
        num = self.us.credit_card_number()
        assert luhn.is_valid(num)
        style = self.rng.random()
        if style < 0.4:
            return num
        sep = " " if style < 0.8 else "-"
        if len(num) == 15:  # Amex: 4-6-5
            return sep.join([num[:4], num[4:10], num[10:]])
        return sep.join(num[i:i + 4] for i in range(0, len(num), 4))

    def iban(self) -> str:
        v = self.fakers[self.rng.choice(IBAN_LOCALES)].iban()
        if self.rng.random() < 0.5:  # "print format": groups of four
            v = " ".join(v[i:i + 4] for i in range(0, len(v), 4))
        return v

    def ssn(self) -> str:
        v = self.us.ssn()
        return v if self.rng.random() < 0.85 else v.replace("-", " ")

    def nino(self) -> str:
        # Faker's en_GB ssn() uses the reserved "ZZ" prefix; build a valid-looking one instead.
        first = self.rng.choice("ABCEGHJKLMNOPRSTWXYZ")
        second = self.rng.choice("ABCEGHJKLMNPRSTWXYZ")
        while first + second in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
            second = self.rng.choice("ABCEGHJKLMNPRSTWXYZ")
        d = "".join(self.rng.choices(string.digits, k=6))
        suffix = self.rng.choice("ABCD")
        return self.rng.choice([f"{first}{second}{d}{suffix}",
                                f"{first}{second} {d[:2]} {d[2:4]} {d[4:]} {suffix}",
                                f"{first}{second} {d} {suffix}"])

    def address(self, inline: bool) -> str:
        f = self.us if self.rng.random() < 0.5 else self.gb
        a = f.address()
        return a.replace("\n", ", ") if inline else a

    def street(self) -> str:
        f = self.us if self.rng.random() < 0.5 else self.gb
        if f is self.gb:
            return f"{f.building_number()} {f.street_name()}"
        return f.street_address()

    def city(self) -> str:
        return (self.us if self.rng.random() < 0.5 else self.gb).city()

    # ---- person mentions --------------------------------------------------------------
    def _mention(self, b: _Builder, p: Person, form: str) -> None:
        tag = "household" if p in self.household else ""
        if form == "full":
            b.pii(f"{p.first} {p.last}", "PERSON", tag)
        elif form == "first":
            b.pii(p.first, "PERSON", tag)
        elif form == "title":
            b.add(p.title + " ")
            b.pii(p.last, "PERSON", tag)
        else:
            raise ValueError(form)

    # ---- template filling ---------------------------------------------------------------
    _SLOT = re.compile(r"\{([A-Z_0-9]+)\}")

    def _fill(self, b: _Builder, template: str, ctx: dict) -> None:
        """Append ``template`` to ``b`` replacing slots. ``ctx`` holds the people in scope."""
        pos = 0
        for m in self._SLOT.finditer(template):
            b.add(template[pos:m.start()])
            pos = m.end()
            slot = m.group(1)
            if slot == "P":      # some contact, random form
                p = self.rng.choice(ctx["contacts"])
                self._mention(b, p, self.rng.choices(["full", "first", "title"], [4, 4, 2])[0])
            elif slot == "PF":
                self._mention(b, self.rng.choice(ctx["contacts"]), "full")
            elif slot == "PFIRST":
                self._mention(b, self.rng.choice(ctx["contacts"]), "first")
            elif slot == "PT":
                self._mention(b, self.rng.choice(ctx["contacts"]), "title")
            elif slot == "H":    # household member, usually by first name
                h = self.rng.choice(self.household)
                self._mention(b, h, "first" if self.rng.random() < 0.8 else "full")
            elif slot == "E":
                b.pii(self.rng.choice(ctx["contacts"]).email, "EMAIL")
            elif slot == "PH":
                b.pii(self.phone(), "PHONE")
            elif slot == "CC":
                b.pii(self.card(), "CREDIT_CARD")
            elif slot == "IBAN":
                b.pii(self.iban(), "IBAN")
            elif slot == "SSN":
                b.pii(self.ssn(), "US_SSN")
            elif slot == "NINO":
                b.pii(self.nino(), "UK_NINO")
            elif slot == "ADDR":     # multi-line block
                b.pii(self.address(inline=False), "ADDRESS")
            elif slot == "ADDR1":    # one line, comma separated
                b.pii(self.address(inline=True), "ADDRESS")
            elif slot == "STREET":
                b.pii(self.street(), "ADDRESS")
            elif slot == "CITY":
                b.pii(self.city(), "LOCATION")
            elif slot == "DISH":
                b.decoy(self.rng.choice(DISHES), "dish")
            elif slot == "DAY":
                b.decoy(self.rng.choice(DAYS), "weekday")
            elif slot == "MONTH":
                b.decoy(self.rng.choice(MONTHS), "month")
            elif slot == "SHOP":
                b.decoy(self.rng.choice(SHOPS), "shop")
            elif slot == "KIN":
                b.decoy(self.rng.choice(KIN), "kin")
            elif slot == "TIME":
                b.add(self.rng.choice(TIMES))
            elif slot == "ITEM":
                b.add(self.rng.choice(ITEMS))
            elif slot == "ACT":
                b.add(self.rng.choice(ACTIVITIES))
            elif slot == "N":
                b.add(str(self.rng.randint(2, 40)))
            else:
                raise KeyError(slot)
        b.add(template[pos:])

    # ---- documents ----------------------------------------------------------------------
    def _contacts(self, k: int) -> list[Person]:
        return [self._person() for _ in range(k)]

    def email(self, b: _Builder) -> None:
        sender, recipient = self._contacts(2)
        if self.rng.random() < 0.3:  # a household member writes
            sender = self.rng.choice(self.household)
        ctx = {"contacts": [recipient] + self._contacts(self.rng.randint(1, 2))}
        b.add("From: ")
        self._mention(b, sender, "full")
        b.add(" <")
        b.pii(sender.email, "EMAIL")
        b.add(">\nTo: ")
        if self.rng.random() < 0.6:
            self._mention(b, recipient, "full")
            b.add(" <")
            b.pii(recipient.email, "EMAIL")
            b.add(">")
        else:
            b.pii(recipient.email, "EMAIL")
        b.add("\nSubject: ")
        ctx1 = {"contacts": [recipient]}
        self._fill(b, self.rng.choice(SUBJECTS), ctx1)
        b.add("\n\n")
        # greeting
        g = self.rng.choice(GREETINGS)
        b.add(g + " ")
        if g == "Dear" and self.rng.random() < 0.4:
            self._mention(b, recipient, "title")
        else:
            self._mention(b, recipient, "first")
        b.add(self.rng.choice([",\n\n", ",\n", "!\n\n"]))
        for t in self.rng.sample(BODY, self.rng.randint(2, 4)):
            self._fill(b, t, ctx)
            b.add(self.rng.choice([" ", "\n", "\n\n"]))
        b.add("\n")
        b.decoy(self.rng.choice(CLOSINGS), "closing")
        b.add(self.rng.choice([",\n", "\n", "!\n"]))
        self._mention(b, sender, "first" if self.rng.random() < 0.5 else "full")
        r = self.rng.random()
        if r < 0.25:
            b.add("\n")
            b.pii(self.phone(), "PHONE")
        elif r < 0.35:
            b.add("\n")
            b.pii(self.address(inline=False), "ADDRESS")
        b.add("\n")

    def calendar(self, b: _Builder) -> None:
        ctx = {"contacts": self._contacts(self.rng.randint(1, 3))}
        b.add("Event: ")
        self._fill(b, self.rng.choice(EVENT_TITLES), ctx)
        b.add("\nWhen: ")
        self._fill(b, self.rng.choice(["{DAY} {TIME}", "{DAY} {N} {MONTH}, {TIME}", "{N} {MONTH} {TIME}"]), ctx)
        if self.rng.random() < 0.8:
            b.add("\nWhere: ")
            self._fill(b, self.rng.choice(["{ADDR1}", "{ADDR1}", "{STREET}", "{CITY}", "{SHOP}, {CITY}"]), ctx)
        b.add("\nAttendees: ")
        people = ["{H}", "{PF}", "{E}", "{KIN}"]
        self._fill(b, ", ".join(self.rng.sample(people, self.rng.randint(1, 4))), ctx)
        b.add("\nNotes: ")
        for t in self.rng.sample(EVENT_NOTES, self.rng.randint(1, 2)):
            self._fill(b, t, ctx)
            b.add(" ")
        b.add("\n")

    def todo(self, b: _Builder) -> None:
        ctx = {"contacts": self._contacts(self.rng.randint(1, 3))}
        self._fill(b, self.rng.choice(["To-do ({DAY}):\n", "TODO\n", "Things to do this week\n",
                                       "{H}'s jobs:\n"]), ctx)
        for t in self.rng.sample(TODOS, self.rng.randint(3, 6)):
            b.add(self.rng.choice(["- ", "* ", "[ ] "]))
            self._fill(b, t, ctx)
            b.add("\n")

    def shopping(self, b: _Builder) -> None:
        ctx = {"contacts": self._contacts(self.rng.randint(1, 2))}
        self._fill(b, self.rng.choice(["Shopping list for {DAY}\n", "{SHOP} order\n",
                                       "Groceries ({DAY} {N} {MONTH})\n"]), ctx)
        for _ in range(self.rng.randint(3, 6)):
            self._fill(b, self.rng.choice(["- {ITEM}\n", "- {N} x {ITEM}\n", "- stuff for {DISH}\n"]), ctx)
        for t in self.rng.sample(SHOP_NOTES, self.rng.randint(1, 3)):
            self._fill(b, t, ctx)
            b.add("\n")

    def doc(self, i: int) -> Doc:
        kind = self.rng.choices(["email", "calendar", "todo", "shopping"], [45, 20, 20, 15])[0]
        b = _Builder()
        getattr(self, kind)(b)
        return Doc(id=f"d{i:05d}", kind=kind, text=b.text(), spans=b.spans, negatives=b.neg)


# --------------------------------------------------------------------------- templates

SUBJECTS = ["Re: {DISH} on {DAY}", "Dinner with {PFIRST}?", "Plans for {DAY}", "Quick question",
            "Bank details", "Party on {DAY} {N} {MONTH}", "Fwd: school form", "Your new address",
            "Re: {ACT}", "Catch up", "Invoice from {PF}", "{SHOP} delivery"]

BODY = [
    "Can you pick up {P} from {STREET} on {DAY}?",
    "{P} said the {DISH} was a hit at the party.",
    "My new number is {PH}, please update it.",
    "The plumber ({PF}, {PH}) is coming {DAY} morning.",
    "Please transfer the deposit to IBAN {IBAN} by {DAY}.",
    "I paid the deposit with my card {CC} so we're all set.",
    "For the school form they need {H}'s SSN: {SSN}.",
    "HR asked for my NI number, it's {NINO}.",
    "Could you forward the invite to {E}?",
    "Our new address is:\n{ADDR}\n",
    "We moved! Send post to {ADDR1} from {MONTH}.",
    "Dinner at {P}'s place on {DAY}: {DISH} and {DISH}.",
    "{PT} moved the appointment to {DAY} at {TIME}.",
    "Thanks again for the {DISH}, {PFIRST}!",
    "{KIN} says hi and asks whether {H} can come on {DAY}.",
    "I bumped into {PF} at {SHOP} yesterday.",
    "You can reach {PFIRST} on {PH} or {E}.",
    "The party is at {ADDR1}, starts at {TIME}.",
    "{P} is flying back from {CITY} on {DAY}.",
    "We are going to {CITY} in {MONTH} to see {P}.",
    "The refund goes to {IBAN} (account name {PF}).",
    "Can you ask {H} to bring the {DISH}?",
    "If the card {CC} is declined, use the other one.",
    "Ring me on {PH} if anything changes.",
    "Cheers for sorting the {ACT} on {DAY}.",
    "{H} and {PFIRST} will do the {ACT} run on {DAY}.",
    "The taxi will collect you from {STREET} at {TIME}.",
    "Sorry for the late reply, {DAY} was chaos.",
    "Let me know if {TIME} on {DAY} works for you.",
    "Best thing at the fete was the {DISH}.",
]

EVENT_TITLES = ["{ACT} with {P}", "Dinner at {P}'s", "{H}: {ACT}", "Call {PF}", "{ACT}",
                "Coffee with {PFIRST}", "Appointment with {PT}", "{DISH} night"]

EVENT_NOTES = [
    "Bring the {DISH}.", "{P} will confirm by {DAY}.", "Contact: {PF} {PH}.",
    "Parking at {STREET}.", "Deposit paid to {IBAN}.", "Booked with card {CC}.",
    "Ask {KIN} about lifts.", "Dial-in {PH}.", "Forms need NI number {NINO}.",
    "RSVP to {E}.", "{H} to drive.", "Meet outside {SHOP}.", "Postcode for satnav: {ADDR1}.",
]

TODOS = [
    "Call {P} about the {DISH} recipe ({PH})", "Pay {PF} back for {ACT}", "Renew passport",
    "Email {E} re: bake sale", "Update card {CC} on {SHOP}", "Send NI number {NINO} to HR",
    "Drop the parcel at {STREET}", "Book {ACT} for {H}", "Buy {ITEM} at {SHOP}",
    "Set up standing order to {IBAN}", "Fill in tax form (SSN {SSN})",
    "Text {PFIRST} the new address: {ADDR1}", "Ask {KIN} about {DAY}", "Order {DISH} for {DAY}",
    "Chase {PT} about the invoice", "Send birthday card to {ADDR1}", "Reply to {PF}",
    "Ring {PH} to cancel {ACT}", "Thank-you note to {PFIRST} and {PFIRST}",
]

SHOP_NOTES = [
    "Ask {H} to pay with card {CC}.", "Deliver to {ADDR1}.", "{P} is bringing the {DISH}.",
    "Use the {SHOP} account ({E}).", "Driver can call {PH}.", "Split the bill with {PF}.",
    "{H} wants {DISH} on {DAY}.", "Leave with neighbour at {STREET} if out.",
]


# ---- held-out templates: written once, never used while tuning the redactor; the final
# measurement reports them separately to show how much the rules depend on the wording above.
HOLDOUT_SUBJECTS = ["Sunday lunch", "Lift to the station?", "Re: Re: the {ACT}", "Photos from {CITY}",
                    "Money for the holiday", "Update from {PFIRST}", "Reminder", "Keys"]
HOLDOUT_BODY = [
    "{PF} has offered to lend us the gazebo for the weekend.",
    "Apparently {PFIRST} got the job, so drinks are on her!",
    "I've left the spare key with {PT} next door.",
    "The landlord's number is {PH} in case the boiler goes again.",
    "Mine is {PH}, text any time after {TIME}.",
    "We stayed with {PF} in {CITY} and it rained every day.",
    "Could you send the money to my account {IBAN} please?",
    "The card on file ends up being {CC}, can you check it?",
    "The new form wants your social security number ({SSN}) again.",
    "National Insurance: {NINO}, just in case you need it.",
    "{PFIRST}'s new flat is {ADDR1}.",
    "Post the forms to:\n{ADDR}\n",
    "Write to {E} if you can't make it.",
    "Our neighbour {PF} recommended the {DISH} at the pub.",
    "Tell {PFIRST} I said congratulations!",
    "{PFIRST} and {PFIRST} are coming for {DISH} on {DAY}.",
    "I think {PT} is retiring in {MONTH}.",
    "The kids loved the {DISH} {PFIRST} made.",
    "The meeting point is {STREET}, by the bus stop.",
    "Happy birthday to {PFIRST}, by the way.",
]
HOLDOUT_EVENT_TITLES = ["Lunch - {PF}", "Pick up {H} from {ACT}", "{PFIRST} visiting", "Drinks w/ {PFIRST}",
                        "{ACT} (bring {DISH})", "Parents evening: {PT}"]
HOLDOUT_EVENT_NOTES = ["Host: {PF}.", "{PFIRST} has the tickets.", "Tel {PH}.", "Address {ADDR1}.",
                       "Gift money to {IBAN}.", "Organiser {E}.", "Costume for {H}.", "Bring {DISH}!"]
HOLDOUT_TODOS = ["Return {PFIRST}'s casserole dish", "Phone bill: {PH}", "Birthday present for {PF}",
                 "Move {ACT} with {PT} to {DAY}", "Check statement for card {CC}",
                 "Give {PFIRST} the spare key", "Post letter to {ADDR1}", "IBAN for rent: {IBAN}",
                 "SSN {SSN} on the insurance form", "NI {NINO} for the new job",
                 "Lunch money for {H}", "Thank {PF} for the lift", "Invite {E} to the barbecue"]
HOLDOUT_SHOP_NOTES = ["{PFIRST} owes me for the {DISH}.", "Click and collect under {PF}.",
                      "Delivery slot {DAY} {TIME}, address {ADDR1}.", "Card: {CC}.",
                      "Courier will ring {PH}.", "Gift for {PFIRST}: flowers."]
HOLDOUT_GREETINGS = ["Hi", "Hey", "Dear", "Hello there", "Evening"]
HOLDOUT_CLOSINGS = ["Cheers", "Ta", "Best", "Thanks", "Love", "Yours", "See you soon"]


def use_templates(which: str) -> None:
    """Switch the module-level template lists to the 'dev' or the 'holdout' set."""
    g = globals()
    if "_DEV" not in g:
        g["_DEV"] = {k: g[k] for k in ("SUBJECTS", "BODY", "EVENT_TITLES", "EVENT_NOTES", "TODOS",
                                       "SHOP_NOTES", "GREETINGS", "CLOSINGS")}
    if which == "dev":
        g.update(g["_DEV"])
    elif which == "holdout":
        g.update(SUBJECTS=HOLDOUT_SUBJECTS, BODY=HOLDOUT_BODY, EVENT_TITLES=HOLDOUT_EVENT_TITLES,
                 EVENT_NOTES=HOLDOUT_EVENT_NOTES, TODOS=HOLDOUT_TODOS, SHOP_NOTES=HOLDOUT_SHOP_NOTES,
                 GREETINGS=HOLDOUT_GREETINGS, CLOSINGS=HOLDOUT_CLOSINGS)
    else:
        raise ValueError(which)


def generate(n: int, seed: int, templates: str = "dev") -> tuple[list[Doc], list[str]]:
    """Return ``n`` documents and the household members' full names (the 'known names')."""
    use_templates(templates)
    g = Generator(seed)
    docs = [g.doc(i) for i in range(n)]
    return docs, [f"{p.first} {p.last}" for p in g.household]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--templates", choices=["dev", "holdout"], default="dev")
    ap.add_argument("--out", default="corpus.jsonl")
    args = ap.parse_args()
    docs, household = generate(args.n, args.seed, args.templates)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"household": household}) + "\n")
        for d in docs:
            fh.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")
    print(f"wrote {len(docs)} docs to {args.out}; household: {household}")


if __name__ == "__main__":
    main()
