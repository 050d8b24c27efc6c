"""A seeded sample household (Faker): the embedded default input of `hrmtrain data` and `pipeline`.

Two members sharing a home, written as the files a real household would hand over:

    household.json            members (names, e-mail addresses), time zone, the build's "now"
    calendar/<member>.ics     personal and shared events (weekly RRULEs with EXDATEs, a TZID)
    mail/<member>.mbox        mail from friends, school, bank and trades (greetings, signatures,
                              phone numbers, addresses, card numbers, IBANs); one in ISO-8859-1
    lists/todo.json           to-dos with assignees; lists/shopping.csv the shared shopping list
    public/*.jsonl            recipes, fitness and how-to items (public data, not sensitive)
    documents/                manuals, recipes, guides, household admin and school letters, with the
                              household's questions: the retrieval corpus (sample/documents.py)
    consent.sqlite            the registry: Sam has not consented to e-mail

`generate()` also returns every PII value it inserted, so a test can prove none reaches the output.
"""

from __future__ import annotations

import csv
import io
import mailbox
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hrmtrain import atomic
from hrmtrain.privacy.consent import CATEGORIES, ConsentRegistry
from hrmtrain.jsonl import write_json_lines

TZ = "Europe/London"
NOW = datetime(2026, 3, 2, 9, 0)
RECIPES = [
    ("Lentil dahl", 40, ["red lentils", "onion", "garlic", "cumin", "coconut milk"], ["vegetarian", "dinner"]),
    ("Pancakes", 20, ["flour", "eggs", "milk", "butter"], ["breakfast", "quick"]),
    ("Tomato soup", 35, ["tomatoes", "onion", "stock", "basil"], ["vegetarian", "lunch"]),
    ("Chicken curry", 50, ["chicken", "onion", "curry paste", "rice"], ["dinner"]),
    ("Banana bread", 70, ["bananas", "flour", "sugar", "eggs"], ["baking"]),
    ("Vegetable stir-fry", 20, ["noodles", "peppers", "soy sauce", "broccoli"], ["quick", "vegetarian"]),
    ("Shepherd's pie", 80, ["lamb mince", "potatoes", "carrots", "peas"], ["dinner", "family"]),
    ("Overnight oats", 10, ["oats", "milk", "yoghurt", "berries"], ["breakfast"]),
    ("Spaghetti bolognese", 45, ["spaghetti", "beef mince", "tomatoes", "onion"], ["dinner", "family"]),
    ("Greek salad", 15, ["feta", "cucumber", "tomatoes", "olives"], ["lunch", "vegetarian"]),
    ("Mushroom risotto", 40, ["arborio rice", "mushrooms", "parmesan", "stock"], ["dinner", "vegetarian"]),
    ("Fish pie", 60, ["white fish", "prawns", "potatoes", "leeks"], ["dinner", "family"]),
    ("Chilli con carne", 55, ["beef mince", "kidney beans", "chilli", "tomatoes"], ["dinner"]),
    ("Carrot cake", 75, ["carrots", "walnuts", "flour", "cream cheese"], ["baking"]),
    ("Leek and potato soup", 45, ["leeks", "potatoes", "stock", "cream"], ["lunch", "vegetarian"]),
    ("Falafel wraps", 30, ["chickpeas", "tortillas", "tahini", "lettuce"], ["lunch", "vegetarian"]),
    ("Roast chicken", 90, ["chicken", "lemon", "thyme", "potatoes"], ["dinner", "family"]),
    ("Scrambled eggs on toast", 10, ["eggs", "bread", "butter", "chives"], ["breakfast", "quick"]),
    ("Apple crumble", 50, ["apples", "oats", "brown sugar", "cinnamon"], ["baking", "family"]),
    ("Halloumi traybake", 35, ["halloumi", "courgettes", "red onion", "cherry tomatoes"], ["dinner", "vegetarian"]),
]
FITNESS = [("run a 5k", "running"), ("run a 10k", "running"), ("build strength", "strength training"),
           ("improve flexibility", "yoga"), ("swim a mile", "swimming"), ("cycle to work", "cycling"),
           ("run a half marathon", "running"), ("lose some weight", "walking"), ("do ten pull-ups", "strength training"),
           ("improve my posture", "pilates"), ("hike a mountain", "hiking"), ("get back into tennis", "tennis")]
HOWTO = ["descale the kettle", "bleed a radiator", "reset the router", "defrost the freezer",
         "unblock the sink", "change a fuse", "clean the oven", "re-grout the bathroom tiles",
         "clean the washing machine filter", "oil the garden gate", "repot the basil", "iron the school shirts",
         "wash the car", "clean the windows", "sharpen the kitchen knives", "rinse the dishwasher filter"]
EVENTS = ["dentist", "parents' evening", "football practice", "piano lesson", "car service", "yoga class",
          "vet appointment", "book club", "haircut", "boiler service", "swimming lesson", "school play",
          "optician", "GP appointment", "drum lesson", "choir practice", "MOT test", "window cleaner",
          "chess club", "physio", "tennis lesson", "dinner with friends", "plumber visit", "cinema night",
          "gym induction", "school trip meeting", "flu jab", "hairdresser", "dance class", "scout meeting",
          "boiler repair", "garden centre trip", "bike repair", "quiz night", "running club", "art class",
          "birthday party", "council tip run", "orthodontist", "tutoring session"]
CHORES = ["take the bins out", "water the plants", "book the boiler service", "renew the car insurance",
          "pay the electricity bill", "fix the bathroom tap", "return the library books", "defrost the freezer",
          "mow the lawn", "change the bed sheets", "clean the fridge", "sort the recycling", "buy a birthday card",
          "renew the passport", "call the council about the bins", "tidy the garage", "paint the fence",
          "book the dentist", "pay the window cleaner", "hoover the stairs", "descale the shower head",
          "order school shoes", "cancel the gym trial", "pick up the dry cleaning", "wash the dog",
          "replace the smoke alarm battery", "clear the gutters", "sign the school form", "top up the oyster card",
          "send the thank-you cards", "check the tyre pressure", "weed the vegetable patch", "file the receipts",
          "book the car service", "empty the dehumidifier", "fix the wobbly chair", "mend the fence panel",
          "reply to the landlord", "renew the TV licence", "clean the barbecue"]
ITEMS = ["milk", "eggs", "bread", "apples", "rice", "coffee", "tomatoes", "oat milk", "butter", "pasta",
         "bananas", "yoghurt", "cheddar", "spinach", "dish soap", "bin bags", "toilet roll", "olive oil",
         "onions", "garlic", "carrots", "potatoes", "chicken thighs", "salmon", "orange juice", "tea bags",
         "cereal", "peanut butter", "strawberries", "lemons", "frozen peas", "sparkling water", "kitchen roll",
         "toothpaste", "shampoo", "washing powder", "sponges", "flour", "sugar", "honey", "mushrooms",
         "peppers", "cucumber", "avocados", "tortillas", "chickpeas", "tinned tomatoes", "crisps"]
# mail kinds: (subject, body) variants; {owner}, {card}, {phone}, {iban}, {home}, {place}, {day}, {email},
# {sender_full}, {sender_first} are filled in per message
MAIL_KINDS = {
    "bank": [
        ("Your card statement", "Dear {owner},\n\nYour statement for the card ending {last4} is ready. The full number on "
         "file is {card}. Call us on {phone} with any questions.\n\nKind regards,\n{sender_full}\nCustomer Services"),
        ("Unusual activity on your card", "Dear {owner},\n\nWe blocked a payment on card {card}. If it was you, call "
         "{phone} and we will release it.\n\nYours sincerely,\n{sender_full}\nFraud Team"),
        ("Your new card is on its way", "Hello {owner},\n\nYour replacement card {card} will arrive within five working "
         "days. Activate it by calling {phone}.\n\nBest regards,\n{sender_full}"),
    ],
    "trades": [
        ("Invoice for the boiler service", "Hi {owner},\n\nThanks for having us round at {home}. Please pay the invoice "
         "to {iban} by Friday.\n\nCheers,\n{sender_full}\n{phone}"),
        ("Quote for the kitchen tiling", "Hello {owner},\n\nAs promised, the quote for retiling the kitchen at {home} is "
         "attached. A deposit to {iban} secures the date.\n\nThanks,\n{sender_full}\n{phone}"),
        ("Gutter cleaning next week", "Hi {owner},\n\nWe can clear the gutters at {home} on {day}. Payment to {iban} "
         "afterwards is fine.\n\nRegards,\n{sender_full}\n{phone}"),
    ],
    "school": [
        ("Trip consent form", "Dear {owner},\n\nPlease return the trip form by {day}. Questions to {email} or "
         "{phone}.\n\nBest wishes,\n{sender_full}"),
        ("Sports day volunteers", "Dear {owner},\n\nWe are looking for parents to help at sports day on {day}. Reply to "
         "{email} if you can.\n\nMany thanks,\n{sender_full}"),
        ("Parents' evening booking", "Dear {owner},\n\nBooking for parents' evening closes on {day}. Call the office "
         "on {phone} for a slot.\n\nKind regards,\n{sender_full}"),
    ],
    "friend": [
        ("Dinner on Friday?", "Hi {owner},\n\nFancy coming over? We're at {place}. Text me on {phone}.\n\n"
         "Thanks,\n{sender_first}"),
        ("Saturday plans", "Hey {owner},\n\nAre you free on Saturday? We could meet at {place}. My number is "
         "{phone}.\n\nSee you,\n{sender_first}"),
        ("Birthday party", "Hi {owner},\n\nWe're having a party at {place} on {day}! Let me know on {phone} if you can "
         "come.\n\nLove,\n{sender_first}"),
        ("Borrowing the ladder", "Hi {owner},\n\nCould I borrow your ladder this weekend? I'm at {place}; call me on "
         "{phone}.\n\nThanks a lot,\n{sender_first}"),
    ],
}


@dataclass
class SampleHousehold:
    root: Path
    members: dict[str, dict]  # first name -> {"full_name", "emails", "phone"}
    pii: dict[str, set[str]] = field(default_factory=dict)  # type -> every value inserted

    def add(self, kind: str, value: str) -> str:
        self.pii.setdefault(kind, set()).add(value)
        return value


def _faker(seed: int):
    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    return fake


def _ics(owner: str, events: list[dict]) -> bytes:
    from icalendar import Calendar, Event, vCalAddress

    cal = Calendar()
    cal.add("prodid", "-//hrmtrain sample household//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{owner}'s calendar")
    tz = ZoneInfo(TZ)
    for e in events:
        ev = Event()
        ev.add("uid", e["uid"])
        ev.add("summary", e["title"])
        ev.add("dtstart", e["start"].replace(tzinfo=tz))
        ev.add("dtend", e["end"].replace(tzinfo=tz))
        ev.add("dtstamp", NOW.replace(tzinfo=tz))
        if e.get("location"):
            ev.add("location", e["location"])
        if e.get("description"):
            ev.add("description", e["description"])
        for name, address in e["attendees"]:
            who = vCalAddress(f"mailto:{address}")
            who.params["cn"] = name
            ev.add("attendee", who, encode=0)
        if e.get("rrule"):
            ev.add("rrule", e["rrule"])
            for skip in e.get("exdate", []):
                ev.add("exdate", skip.replace(tzinfo=tz))
        cal.add_component(ev)
    return cal.to_ical()


@dataclass
class _Writer:
    """The seeded sources every part of the household draws from, in a fixed order (so a seed gives the
    same household), and the PII recorded as it is inserted."""

    seed: int
    fake: object  # Faker
    rng: random.Random
    hh: SampleHousehold
    firsts: list[str]
    home: str

    def person(self) -> tuple[str, str, str]:
        """A new contact outside the household: (first name, full name, e-mail), all recorded as PII."""
        first, last = self.fake.first_name(), self.fake.last_name()
        full = self.hh.add("PERSON", f"{first} {last}")
        self.hh.add("PERSON", first)
        self.hh.add("PERSON", last)
        email = self.hh.add("EMAIL_ADDRESS", f"{first.lower()}.{last.lower()}@{self.fake.free_email_domain()}")
        return first, full, email

    def partner(self, owner: str) -> str:
        return self.firsts[1 - self.firsts.index(owner)]


def generate(out: str | Path, seed: int = 0, mails_per_member: int = 30, events_per_member: int = 30,
             todo_count: int = 40, shopping_rows: int = 36) -> SampleHousehold:
    """Write the sample household to `out` (atomically: all of it or nothing) and return its PII."""
    out = Path(out)
    w = _members(out, seed)
    with atomic.staged_dir(out) as tmp:
        for owner in w.firsts:
            _write_calendar(w, owner, events_per_member, tmp / "calendar" / f"{owner.lower()}.ics")
        for owner in w.firsts:
            _write_mailbox(w, owner, mails_per_member, tmp / "mail" / f"{owner.lower()}.mbox")
        _write_lists(w, todo_count, shopping_rows, tmp / "lists")
        _write_public(w, tmp / "public")
        from hrmtrain.sample.documents import generate_documents

        generate_documents(tmp / "documents", w.hh.members, seed=seed)  # the retrieval corpus
        _write_directory_and_consent(w, tmp)
    hh = w.hh
    hh.root = out
    # Faker phone numbers come in several formats; keep the digits too so a reformatted copy is caught.
    hh.pii["PHONE_DIGITS"] = {re.sub(r"\D", "", p) for p in hh.pii["PHONE_NUMBER"]}
    return hh


def _members(out: Path, seed: int) -> _Writer:
    """Two members sharing a surname and a home, their addresses and phones recorded as PII."""
    fake = _faker(seed)
    rng = random.Random(seed)
    home = fake.address()
    surname = fake.last_name()
    firsts = ["Alex", "Sam"]
    hh = SampleHousehold(out, {})
    for first in firsts:
        full = f"{first} {surname}"
        email = f"{first.lower()}.{surname.lower()}@{fake.free_email_domain()}"
        hh.members[first] = {"full_name": hh.add("PERSON", full), "emails": [hh.add("EMAIL_ADDRESS", email)],
                             "phone": hh.add("PHONE_NUMBER", fake.phone_number())}
        hh.add("PERSON", first)
    hh.add("PERSON", surname)
    hh.add("ADDRESS", home)
    return _Writer(seed, fake, rng, hh, firsts, home)


def _write_calendar(w: _Writer, owner: str, count: int, path: Path) -> None:
    """Personal and shared events; some with a contact's phone, a place, or a weekly RRULE with an EXDATE."""
    me, other = w.hh.members[owner], w.hh.members[w.partner(owner)]
    rng, fake = w.rng, w.fake
    events = []
    for i in range(count):
        day = NOW.date() + timedelta(days=rng.randint(-20, 30))
        start = datetime.combine(day, datetime.min.time()) + timedelta(hours=rng.randint(7, 19),
                                                                       minutes=rng.choice([0, 15, 30, 45]))
        shared = i % 4 == 0
        title = rng.choice(EVENTS)
        attendees = [(me["full_name"], me["emails"][0])]
        if shared:
            attendees.append((other["full_name"], other["emails"][0]))
        event = {"uid": f"{owner.lower()}-{w.seed}-{i}@sample.hrmtrain", "title": title, "start": start,
                 "end": start + timedelta(minutes=rng.choice([30, 45, 60, 90])), "attendees": attendees}
        if i % 3 == 0:
            _, host, _ = w.person()
            phone = w.hh.add("PHONE_NUMBER", fake.phone_number())
            event["description"] = f"Contact {host} on {phone} if running late."
        if i % 5 == 0:
            event["location"] = w.hh.add("ADDRESS", fake.address().replace("\n", ", "))
        if i % 6 == 1:
            event["rrule"] = {"freq": "weekly", "count": rng.randint(3, 6)}
            event["exdate"] = [start + timedelta(weeks=1)]
        events.append(event)
    atomic.write_text(path, _ics(owner, events).decode("utf-8"))


def _write_mailbox(w: _Writer, owner: str, count: int, path: Path) -> None:
    """Mail from friends, school, the bank, trades and the partner; one message in ISO-8859-1."""
    me = w.hh.members[owner]
    rng, fake, hh = w.rng, w.fake, w.hh
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.mbox(path, create=True)
    for i in range(count):
        kind = ("friend", "school", "bank", "trades", "family")[i % 5]
        sent = (NOW - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600))).replace(tzinfo=ZoneInfo(TZ))
        msg = EmailMessage()
        if kind == "family":
            other = w.partner(owner)
            sender_first, sender_full, sender_email = other, hh.members[other]["full_name"], hh.members[other]["emails"][0]
        else:
            sender_first, sender_full, sender_email = w.person()
        phone = hh.add("PHONE_NUMBER", fake.phone_number())
        slots = {"owner": owner, "phone": phone, "sender_full": sender_full, "sender_first": sender_first,
                 "email": sender_email, "home": w.home.splitlines()[0],
                 "day": f"{(NOW + timedelta(days=rng.randint(2, 9))):%A}"}
        if kind == "bank":
            slots["card"] = hh.add("CREDIT_CARD", fake.credit_card_number(card_type=rng.choice(["visa16", "mastercard"])))
            slots["last4"] = slots["card"][-4:]
        elif kind == "trades":
            slots["iban"] = hh.add("IBAN_CODE", fake.iban())
        elif kind in ("friend", "family"):
            slots["place"] = hh.add("ADDRESS", fake.address().replace("\n", ", "))
        subject, body = rng.choice(MAIL_KINDS["friend" if kind == "family" else kind])
        text = body.format(**slots)
        msg["From"] = f"{sender_full} <{sender_email}>"
        msg["To"] = f"{me['full_name']} <{me['emails'][0]}>"
        msg["Subject"] = subject
        msg["Date"] = format_datetime(sent)
        msg["Message-ID"] = f"<{owner.lower()}.{w.seed}.{i}@sample.hrmtrain>"
        if i == 3:  # a real-world charset
            msg.set_content(text.replace("Hi", "Hé"), charset="iso-8859-1")
        else:
            msg.set_content(text)
        entry = mailbox.mboxMessage(msg)
        entry.set_from("MAILER-DAEMON", sent.utctimetuple())  # deterministic, not the wall clock
        box.add(entry)
    box.flush()
    box.close()


def _write_lists(w: _Writer, todo_count: int, shopping_rows: int, folder: Path) -> None:
    rng = w.rng
    todos = [{"title": rng.choice(CHORES), "due": (NOW.date() + timedelta(days=rng.randint(0, 14))).isoformat(),
              "assignee": rng.choice(w.firsts)} for _ in range(todo_count)]
    atomic.write_json(folder / "todo.json", todos)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["item", "quantity", "added_by"])
    for _ in range(shopping_rows):
        writer.writerow([rng.choice(ITEMS), rng.randint(1, 4), rng.choice(w.firsts)])
    atomic.write_text(folder / "shopping.csv", buf.getvalue())


def _write_public(w: _Writer, folder: Path) -> None:
    """Recipes, fitness and how-to items: public data, not sensitive."""
    rng = w.rng
    write_json_lines(folder / "recipes.jsonl",
                     ({"title": t, "minutes": m, "ingredients": ing, "tags": tags} for t, m, ing, tags in RECIPES))
    write_json_lines(folder / "fitness.jsonl",
                     ({"goal": g, "activity": a, "days_per_week": rng.randint(2, 5)} for g, a in FITNESS))
    write_json_lines(folder / "howto.jsonl", ({"task": t, "minutes": rng.choice([5, 10, 20, 30])} for t in HOWTO))


def _write_directory_and_consent(w: _Writer, tmp: Path) -> None:
    """Who is who (household.json), and the consent registry: Sam has not consented to e-mail."""
    atomic.write_json(tmp / "household.json", {
        "timezone": TZ, "now": NOW.isoformat(timespec="minutes"),
        "members": [{"name": first, "full_name": m["full_name"], "emails": m["emails"]}
                    for first, m in w.hh.members.items()],
    })
    registry = ConsentRegistry(tmp / "consent.sqlite", create=True)
    granted_at = datetime(2026, 1, 5, 12, 0, tzinfo=ZoneInfo("UTC"))
    for first in w.firsts:
        registry.add_member(first, at=granted_at)
        for category in CATEGORIES:
            if not (first == "Sam" and category == "email"):
                registry.grant(first, category, at=granted_at)
