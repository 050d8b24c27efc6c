"""The sample household's documents: the corpus `hrmtrain retrieval` adapts the embedder and reranker on.

Written as a household would hand them over, in the formats Docling reads offline:

    documents/public/manuals/<appliance>/*.md|.docx|.pdf   manuals (two brands per appliance)
    documents/public/recipes/*.html            recipes
    documents/public/howto/*.md|.docx          how-to guides
    documents/shared/*.md                      household admin (insurance, bins, broadband...): both members
    documents/<member>/*.eml                   school letters, with names, phones and e-mail addresses
    documents/questions.jsonl                  the household's questions: {"question", "document", "answer"}

Every fact a question asks about is a seeded value that appears once in its document (`answer` is a
substring of the section that holds it), so the relevant chunks can be found after chunking. The
questions use the household's words, not the manual's ("the Lumo dishwasher shows E24, what's wrong?"
for "E24: the drain pump is blocked").
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hrmtrain import atomic
from hrmtrain.jsonl import write_json_lines

BRANDS = ["Lumo", "Kestrel", "Brightwell", "Northwind"]
# type: (programmes or settings, parts to clean, fault meanings, (symptom, fix) pairs)
APPLIANCES = {
    "dishwasher": (["Eco 50", "Quick 45", "Intensive 70", "Glass 40"], ["filter", "spray arms", "door seal"],
                   ["the water inlet tap is closed or the hose is kinked", "the drain pump is blocked",
                    "the door is not latched", "the water is heating too slowly"],
                   [("dishes come out gritty", "clean the filter and check the rinse aid level"),
                    ("there is water left in the bottom", "clear the sump and check the drain hose")]),
    "washing machine": (["Cottons 60", "Synthetics 40", "Wool 30", "Rapid 15"], ["detergent drawer", "pump filter", "door gasket"],
                        ["the drum is unbalanced", "the door lock has failed", "no water is coming in",
                         "the motor is overheating"],
                        [("it will not spin", "spread the load evenly and run the spin again"),
                         ("clothes smell musty", "run an empty hot wash with a machine cleaner")]),
    "tumble dryer": (["Cupboard dry", "Iron dry", "Delicates", "Timed 30"], ["lint filter", "condenser", "water tank"],
                     ["the water tank is full", "the condenser is blocked", "the heater has tripped",
                      "the drum sensor is dirty"],
                     [("clothes are still damp", "empty the water tank and clean the condenser"),
                      ("it is very noisy", "check for coins in the drum")]),
    "fridge freezer": (["Holiday mode", "Fast freeze", "Eco mode", "Super cool"], ["drain hole", "door seals", "condenser coils"],
                       ["the freezer has been too warm", "the door was left open", "a temperature sensor failed",
                        "the fan is blocked by ice"],
                       [("there is water under the salad drawer", "clear the drain hole with the cleaning tool"),
                        ("it is making a buzzing noise", "level the feet so it stands evenly")]),
    "oven": (["Fan bake", "Grill", "Pizza setting", "Defrost"], ["oven door glass", "shelf runners", "grease filter"],
             ["the door lock is stuck", "the oven is overheating", "the clock lost power", "the fan motor failed"],
             [("the food cooks unevenly", "use the fan setting and do not crowd the shelves"),
              ("the oven light is out", "replace the 25 W heat-resistant bulb")]),
    "microwave": (["Reheat", "Defrost by weight", "Combination grill", "Steam"], ["turntable", "cavity walls", "door seal"],
                  ["the magnetron is overheating", "the door switch is faulty", "the turntable motor stopped",
                   "the steam sensor failed"],
                  [("it sparks inside", "remove any metal and clean splashes from the cavity"),
                   ("the plate does not turn", "reseat the roller ring under the turntable")]),
    "coffee machine": (["Espresso", "Lungo", "Hot water", "Milk froth"], ["brew unit", "milk wand", "drip tray"],
                       ["it needs descaling", "the water tank is empty", "the brew unit is missing", "the grinder is jammed"],
                       [("the coffee is lukewarm", "preheat the cup and run a descale cycle"),
                        ("coffee drips slowly", "use a coarser grind setting")]),
    "robot vacuum": (["Spot clean", "Edge mode", "Quiet mode", "Mop mode"], ["brush roll", "dust bin filter", "cliff sensors"],
                     ["a wheel is stuck", "the bumper is jammed", "the battery is too hot", "it cannot find the dock"],
                     [("it misses whole rooms", "redraw the no-go zones in the app map"),
                      ("it keeps stopping", "untangle hair from the brush roll")]),
    "boiler": (["Winter mode", "Summer mode", "Frost protection", "Boost"], ["condensate trap", "magnetic filter", "flue terminal"],
               ["the water pressure is too low", "the flame was lost", "the pump is seized", "the flue is blocked"],
               [("radiators are cold at the top", "bleed the radiators and repressurise to 1.5 bar"),
                ("there is no hot water", "check that summer mode is not switched off")]),
    "thermostat": (["Away", "Comfort", "Night setback", "Holiday"], ["battery contacts", "sensor vent", "wall plate"],
                   ["the batteries are low", "it lost the boiler link", "the room sensor failed", "the schedule is empty"],
                   [("the heating comes on at night", "check the night setback temperature"),
                    ("the display is blank", "replace both AA batteries")]),
    "router": (["Guest network", "Parental controls", "Band steering", "WPS pairing"], ["air vents", "cable ports", "aerials"],
               ["there is no broadband signal", "the password was rejected", "the firmware update failed",
                "the unit is overheating"],
               [("the wifi is slow upstairs", "add the mesh extender on the landing"),
                ("devices keep dropping off", "turn off band steering for older devices")]),
    "smoke alarm": (["Test", "Hush", "Low battery chirp", "Interlink"], ["sensor chamber", "test button", "mounting base"],
                    ["the sensor chamber is dusty", "the battery is low", "the interlink is lost", "the unit is end of life"],
                    [("it chirps every minute", "replace the battery and press test"),
                     ("it goes off when cooking", "move it further from the kitchen or use hush")]),
}
# What this household calls each appliance in its questions: its own words, used consistently (what an
# off-the-shelf embedder cannot know and an adapted one learns from the household's other questions)
SLANG = {"dishwasher": "dishie", "washing machine": "whirly", "tumble dryer": "tumbler", "fridge freezer": "ice box",
         "oven": "range", "microwave": "zapper", "coffee machine": "barista", "robot vacuum": "Dusty",
         "boiler": "combi", "thermostat": "stat", "router": "hub", "smoke alarm": "beeper"}
# How the household describes each trouble in its questions (the manuals' words are in APPLIANCES)
SAID = {
    "dishes come out gritty": "there's sandy bits stuck on the plates",
    "there is water left in the bottom": "a puddle sits in it after every load",
    "it will not spin": "the clothes come out sopping",
    "clothes smell musty": "the towels pong after washing",
    "clothes are still damp": "stuff is still wet after a full go",
    "it is very noisy": "it rattles like mad",
    "there is water under the salad drawer": "the veg box is swimming",
    "it is making a buzzing noise": "it hums all night",
    "the food cooks unevenly": "the cake is burnt on one side and raw on the other",
    "the oven light is out": "can't see inside it any more",
    "it sparks inside": "little flashes when it runs",
    "the plate does not turn": "the glass thing stays still",
    "the coffee is lukewarm": "the flat white comes out tepid",
    "coffee drips slowly": "it takes ages to fill a cup",
    "it misses whole rooms": "it never goes in the bedroom",
    "it keeps stopping": "it gives up halfway round",
    "radiators are cold at the top": "the rads are only warm at the bottom",
    "there is no hot water": "the shower runs cold",
    "the heating comes on at night": "it's boiling in the house at 3am",
    "the display is blank": "the screen has gone dead",
    "the wifi is slow upstairs": "the internet crawls in the bedrooms",
    "devices keep dropping off": "the laptop keeps losing connection",
    "it chirps every minute": "it keeps tweeting",
    "it goes off when cooking": "toast sets it off",
}
# What the household says instead of an allergen
CANNOT_EAT = {"gluten": "my coeliac friend", "milk": "someone off dairy", "eggs": "a guest who's egg-free",
              "nuts": "a kid with a nut allergy", "peanuts": "someone with a peanut allergy", "soya": "a soy-free guest",
              "fish": "a friend who's allergic to fish", "crustaceans": "someone who can't have shellfish",
              "mustard": "a mustard-allergic guest", "celery": "someone allergic to celery"}
RECIPES = [
    ("Lentil dahl", ["red lentils", "onion", "garlic", "cumin", "coconut milk"], ["mustard"]),
    ("Pancakes", ["plain flour", "eggs", "milk", "butter"], ["gluten", "eggs", "milk"]),
    ("Tomato soup", ["tomatoes", "onion", "vegetable stock", "basil"], ["celery"]),
    ("Chicken curry", ["chicken thighs", "onion", "curry paste", "rice"], ["mustard"]),
    ("Banana bread", ["bananas", "self-raising flour", "sugar", "eggs"], ["gluten", "eggs"]),
    ("Vegetable stir-fry", ["egg noodles", "peppers", "soy sauce", "broccoli"], ["soya", "gluten", "eggs"]),
    ("Shepherd's pie", ["lamb mince", "potatoes", "carrots", "peas"], ["milk"]),
    ("Overnight oats", ["oats", "milk", "yoghurt", "berries"], ["gluten", "milk"]),
    ("Spaghetti bolognese", ["spaghetti", "beef mince", "tomatoes", "onion"], ["gluten"]),
    ("Greek salad", ["feta", "cucumber", "tomatoes", "olives"], ["milk"]),
    ("Fish pie", ["cod", "prawns", "potatoes", "leeks"], ["fish", "crustaceans", "milk"]),
    ("Flapjacks", ["oats", "golden syrup", "butter", "brown sugar"], ["gluten", "milk"]),
    ("Peanut noodles", ["rice noodles", "peanut butter", "lime", "spring onions"], ["peanuts", "soya"]),
    ("Carrot cake", ["carrots", "walnuts", "flour", "cream cheese"], ["nuts", "gluten", "milk", "eggs"]),
]
HOWTO = [
    ("descale the kettle", ["white vinegar", "water"]), ("bleed a radiator", ["radiator key", "old towel"]),
    ("reset the router", ["paperclip"]), ("defrost the freezer", ["cool box", "towels"]),
    ("unblock the sink", ["plunger", "bicarbonate of soda"]), ("change a fuse", ["small screwdriver", "13 A fuse"]),
    ("clean the oven", ["oven cleaner", "rubber gloves"]), ("re-grout the bathroom tiles", ["grout float", "grout rake"]),
    ("fix a dripping tap", ["adjustable spanner", "tap washer"]), ("hang a shelf", ["spirit level", "wall plugs"]),
]
ADMIN = {
    "home insurance policy": [("Cover", "Buildings and contents cover up to £{money}."),
                              ("Excess", "The excess on each claim is £{small}."),
                              ("Accidental damage", "Accidental damage is covered for {item} only."),
                              ("Renewal", "The policy renews on {date}.")],
    "bin collection schedule": [("Recycling", "Recycling is collected every other {day}."),
                                ("Food waste", "The food caddy is emptied every {day2}."),
                                ("Garden waste", "Garden waste needs a permit costing £{small} a year."),
                                ("Bulky items", "Bulky item collections are booked {weeks} weeks ahead.")],
    "broadband contract": [("Speed", "The guaranteed minimum speed is {speed} Mbps."),
                           ("Contract end", "The minimum term ends on {date}."),
                           ("Price rise", "The monthly price rises by £{tiny} every April."),
                           ("Support", "Faults are fixed within {weeks} working days.")],
    "car service record": [("MOT", "The next MOT is due on {date}."),
                           ("Service interval", "The car is serviced every {miles} miles."),
                           ("Tyres", "Front tyre pressure is {psi} psi."),
                           ("Breakdown cover", "Breakdown cover includes {item} recovery.")],
    "council tax bill": [("Band", "The property is in council tax band {band}."),
                         ("Instalments", "There are {n} monthly instalments of £{money2}."),
                         ("Discounts", "A single person discount of {pct} percent is available."),
                         ("Payment date", "Payments are taken on day {dom} of each month.")],
    "gym membership terms": [("Opening hours", "The gym opens at {hour} am on weekdays."),
                             ("Freezing", "Membership can be frozen for up to {n} months a year."),
                             ("Guest passes", "Members get {n2} guest passes each quarter."),
                             ("Cancellation", "Cancelling needs {weeks} weeks' notice.")],
}
SCHOOL = [
    ("Year 4 trip to the {place}", "The trip costs £{cost} and leaves at {time}. Children need a packed lunch "
     "and a waterproof coat.", "How much is the school trip to the {place}?", "£{cost}"),
    ("Spring term dates", "Spring term starts on {date} and half term runs for one week from {date2}.",
     "When does the spring term begin?", "{date}"),
    ("Sports day", "Sports day is on {date}; if it rains it moves to the following {day}.",
     "What happens to sports day if it rains?", "following {day}"),
    ("Parents' evening", "Parents' evening appointments last {mins} minutes and are booked through the school app.",
     "How long do the parents' evening slots last?", "{mins} minutes"),
    ("After-school clubs", "Chess club runs on {day} until {time}; coding club is full this term.",
     "Which day is chess club after school?", "on {day}"),
    ("Swimming lessons", "Swimming lessons start on {date}; bring a swimming cap and goggles in a named bag.",
     "What should the kids take for swimming?", "swimming cap and goggles"),
    ("Flu vaccination", "The nasal flu vaccine will be given on {date}. Return the consent form by {day}.",
     "By when do we need to send back the flu vaccine form?", "by {day}"),
    ("Book fair", "The book fair is open after school for {n} days from {date}. Card payments are accepted.",
     "Can we pay by card at the book fair?", "Card payments are accepted"),
]
PLACES = ["zoo", "science museum", "castle", "aquarium", "farm park", "theatre"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
FIXED_TIME = datetime(2026, 1, 1)


@dataclass
class Document:
    path: str  # relative to documents/
    title: str
    sections: list[tuple[str, str]]  # (heading, text)
    questions: list[tuple[str, str]] = field(default_factory=list)  # (question, answer substring)
    sender: tuple[str, str] | None = None  # e-mail only: (name, address)


def _date(rng: random.Random) -> str:
    return (datetime(2026, 3, 2) + timedelta(days=rng.randint(3, 200))).strftime("%-d %B %Y")


def _manual(rng: random.Random, kind: str, brand: str, fmt: str, codes: list[int]) -> Document:
    programmes, parts, faults, symptoms = APPLIANCES[kind]
    prefix = "E"
    fault_idx = rng.sample(range(len(faults)), 3)
    progs = rng.sample(programmes, 3)
    durations = [f"{rng.randint(1, 3)} h {rng.choice([5, 10, 20, 35, 50])} min" for _ in progs]
    part = rng.choice(parts)
    weeks = rng.randint(2, 12)
    clearance = rng.choice([3, 5, 8, 10, 12, 15])
    years = rng.choice([2, 3, 5, 7, 10])
    symptom, fix = rng.choice(symptoms)
    model = f"{brand} {kind} {rng.choice('ABCDKMX')}{rng.randint(100, 990)}"
    sections = [
        ("Programmes", "; ".join(f"{p} takes {d}" for p, d in zip(progs, durations)) + ". Times are for a full load."),
        ("Error codes", " ".join(f"{prefix}{c}: {faults[i]}." for c, i in zip(codes, fault_idx))
         + " If a code comes back after a restart, call the service line."),
        ("Cleaning and maintenance", f"Clean the {part} every {weeks} weeks. Use warm soapy water and no abrasive pads."),
        ("Installation", f"Leave at least {clearance} cm of space on each side for ventilation. "
                         "Connect it to its own socket, not an extension lead."),
        ("Troubleshooting", f"If {symptom}, {fix}."),
        ("Warranty", f"Your {brand} appliance has a {years}-year parts and labour guarantee when registered within 28 days."),
    ]
    c = rng.randrange(3)
    slang = SLANG[kind]
    questions = [
        (rng.choice(["how long is a {p} on the {b} {s}", "{b} {s} - {p}, how much time do I need?"])
         .format(p=progs[0].split()[0].lower(), b=brand, s=slang), durations[0]),
        (rng.choice(["the {b} {s} says {code}??", "{code} keeps coming up on the {b} {s}, what now"])
         .format(b=brand, s=slang, code=f"{prefix}{codes[c]}"), faults[fault_idx[c]]),
        (rng.choice(["how often does the {part} in the {b} {s} need doing", "when should the {b} {s} get its {part} seen to"])
         .format(part=part, b=brand, s=slang), f"every {weeks} weeks"),
        (rng.choice(["what gap do I leave round the {b} {s}", "can the {b} {s} go right up against the cupboards"])
         .format(b=brand, s=slang), f"{clearance} cm"),
        (rng.choice(["{b} {s}: {s2}, help", "{s2} with our {b} {s} - ideas?"]).format(b=brand, s=slang, s2=SAID[symptom]),
         fix),
        (rng.choice(["is the {b} {s} still covered if it breaks next year", "how long are we covered for repairs on the {b} {s}"])
         .format(b=brand, s=slang), f"{years}-year"),
    ]
    return Document(f"public/manuals/{kind.replace(' ', '-')}/{brand.lower()}-{kind.replace(' ', '-')}.{fmt}", f"{model} user manual", sections, questions)


def _recipe(rng: random.Random, title: str, ingredients: list[str], allergens: list[str]) -> Document:
    temp = rng.choice([160, 180, 190, 200, 220])
    days = rng.randint(2, 5)
    months = rng.randint(1, 6)
    serves = rng.randint(2, 8)
    grams = [rng.choice([50, 100, 150, 200, 250, 400]) for _ in ingredients]
    sections = [
        ("Ingredients", f"Serves {serves}. " + ", ".join(f"{g} g {i}" for g, i in zip(grams, ingredients)) + "."),
        ("Method", f"Heat the oven to {temp} C (fan {temp - 20} C). Prepare the {ingredients[0]}, combine everything "
                   f"and cook until done."),
        ("Storage", f"Keeps for {days} days in the fridge in a sealed box, or freeze for up to {months} months."),
        ("Allergens", "Contains " + ", ".join(allergens) + "."),
    ]
    questions = [
        (rng.choice(["What do I need to buy to make {t}?", "shopping list for {t}"]).format(t=title.lower()),
         f"{grams[0]} g {ingredients[0]}"),
        (rng.choice(["how hot for the {t}?", "what do I set the cooker to for {t}"]).format(t=title.lower()), f"{temp} C"),
        (rng.choice(["How long will leftover {t} last?", "Can I keep the {t} for a few days?"]).format(t=title.lower()),
         f"{days} days"),
        (f"can {CANNOT_EAT[allergens[0]]} have the {title.lower()}?", "Contains " + allergens[0]),
    ]
    stem = title.lower().replace(" ", "-").replace("'", "")
    return Document(f"public/recipes/{stem}.html", title, sections, questions)


def _howto(rng: random.Random, task: str, tools: list[str], fmt: str) -> Document:
    minutes = rng.choice([10, 15, 20, 30, 45, 60])
    months = rng.choice([1, 3, 6, 12])
    sections = [
        ("You will need", "You will need: " + ", ".join(tools) + f". Allow about {minutes} minutes."),
        ("Steps", f"Switch off and unplug anything nearby first. Then {task} carefully, step by step, checking as you go."),
        ("Safety", f"Wear gloves, keep children and pets away, and never {task} with wet hands near a socket."),
        ("How often", f"Most homes need to {task} every {months} months."),
    ]
    questions = [
        (f"What tools do I need to {task}?", tools[0]),
        (f"How long does it take to {task}?", f"{minutes} minutes"),
        (rng.choice(["How often should we {t}?", "is it time to {t} again? how often is normal"]).format(t=task),
         f"every {months} months"),
    ]
    return Document(f"public/howto/{task.replace(' ', '-')}.{fmt}", f"How to {task}", sections, questions)


def _admin(rng: random.Random, name: str) -> Document:
    values = {"money": f"{rng.randint(50, 400)},000", "small": str(rng.choice([50, 75, 100, 150, 250])),
              "item": rng.choice(["laptops", "televisions", "glass tables", "roadside"]), "date": _date(rng),
              "day": rng.choice(DAYS), "day2": rng.choice(DAYS), "weeks": str(rng.randint(2, 6)),
              "speed": str(rng.choice([36, 67, 145, 500])), "tiny": f"{rng.randint(1, 4)}.{rng.choice([0, 5])}0",
              "miles": f"{rng.choice([9, 10, 12, 15])},000", "psi": str(rng.randint(30, 38)), "band": rng.choice("ABCDE"),
              "n": str(rng.randint(2, 3)), "n2": str(rng.randint(4, 6)), "money2": f"{rng.randint(120, 260)}",
              "pct": "25", "dom": str(rng.randint(1, 28)), "hour": str(rng.randint(5, 7))}
    sections = [(h, t.format(**values)) for h, t in ADMIN[name]]
    asks = {
        "home insurance policy": [("How much is the excess if we claim on the house insurance?", "£{small}"),
                                  ("When does the home insurance renew?", "{date}")],
        "bin collection schedule": [("Which day do the recycling bins go out?", "every other {day}"),
                                    ("How far in advance do I book a bulky waste pickup?", "{weeks} weeks ahead")],
        "broadband contract": [("When can we leave the broadband contract?", "{date}"),
                               ("What's the minimum internet speed we were promised?", "{speed} Mbps")],
        "car service record": [("When is the car's MOT due?", "{date}"),
                               ("What pressure should the front tyres be?", "{psi} psi")],
        "council tax bill": [("Which council tax band is the house?", "band {band}"),
                             ("How much is each council tax payment?", "£{money2}")],
        "gym membership terms": [("What time does the gym open in the week?", "{hour} am"),
                                 ("How much notice to cancel the gym?", "{weeks} weeks' notice")],
    }[name]
    return Document(f"shared/{name.replace(' ', '-')}.md", name.capitalize(), sections,
                    [(q, a.format(**values)) for q, a in asks])


def _letter(rng: random.Random, fake, child_parent: str, spec: tuple) -> Document:
    title, body, question, answer = spec
    values = {"place": rng.choice(PLACES), "cost": f"{rng.randint(5, 30)}.{rng.choice(['00', '50'])}",
              "time": f"{rng.randint(8, 9)}:{rng.choice(['00', '15', '30'])}", "date": _date(rng), "date2": _date(rng),
              "day": rng.choice(DAYS), "mins": str(rng.choice([5, 8, 10, 12])), "n": str(rng.randint(3, 5))}
    teacher = f"{fake.first_name()} {fake.last_name()}"
    phone = fake.phone_number()
    mail = f"office@{fake.domain_name()}"
    text = (f"Dear {child_parent},\n\n{body.format(**values)}\n\nIf you have any questions please call {teacher} on "
            f"{phone} or write to {mail}.\n\nKind regards,\n{teacher}")
    title = title.format(**values)
    return Document(title.lower().replace(" ", "-").replace("'", "") + ".eml", title, [("", text)],
                    [(question.format(**values), answer.format(**values))], sender=(teacher, mail))


# -- writers ---------------------------------------------------------------------------------------------

def _markdown(doc: Document) -> str:
    return f"# {doc.title}\n\n" + "".join(f"## {h}\n\n{t}\n\n" for h, t in doc.sections)


def _html(doc: Document) -> str:
    body = "".join(f"<h2>{html.escape(h)}</h2>\n<p>{html.escape(t)}</p>\n" for h, t in doc.sections)
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(doc.title)}</title></head>\n"
            f"<body><h1>{html.escape(doc.title)}</h1>\n{body}</body></html>\n")


def _docx(doc: Document, path: Path) -> None:
    """A .docx with fixed dates (core properties and zip entries), so the sample household is the same
    bytes every time it is generated."""
    import io
    import zipfile

    import docx  # python-docx: docling-slim[format-docx] depends on it

    d = docx.Document()
    d.core_properties.created = d.core_properties.modified = FIXED_TIME
    d.add_heading(doc.title, 1)
    for h, t in doc.sections:
        d.add_heading(h, 2)
        d.add_paragraph(t)
    raw = io.BytesIO()
    d.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    tmp = path.with_suffix(".tmp.docx")
    tmp.write_bytes(out.getvalue())
    tmp.replace(path)


def _pdf(doc: Document, path: Path) -> None:
    """A one-page text PDF (matplotlib's PDF backend: real embedded text, no layout model needed)."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8.27, 11.69))
    y = 0.94
    fig.text(0.08, y, doc.title, fontsize=16)
    for h, t in doc.sections:
        y -= 0.05
        fig.text(0.08, y, h, fontsize=12, weight="bold")
        for line in textwrap.wrap(t, 95):
            y -= 0.025
            fig.text(0.08, y, line, fontsize=9)
    tmp = path.with_suffix(".tmp.pdf")
    fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})  # no wall-clock date: same bytes each time
    plt.close(fig)
    tmp.replace(path)


def _eml(doc: Document, to: tuple[str, str], sent: datetime) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{doc.sender[0]} <{doc.sender[1]}>"
    msg["To"] = f"{to[0]} <{to[1]}>"
    msg["Subject"] = doc.title
    msg["Date"] = format_datetime(sent)
    msg.set_content(doc.sections[0][1])
    return bytes(msg)


def generate_documents(out: str | Path, members: dict[str, dict], seed: int = 0) -> list[Document]:
    """Write the sample documents into `out` (the household's documents/ folder, atomically) and return them.

    `members`: first name -> {"full_name", "emails"} (household.json's members)."""
    from faker import Faker

    rng = random.Random(seed * 7919 + 17)
    fake = Faker("en_GB")
    fake.seed_instance(seed + 101)
    docs: list[Document] = []
    brands = iter(rng.sample(BRANDS * 6, 24))
    codes = iter(rng.sample(range(10, 100), 72))  # fault codes unique across the corpus
    for i, kind in enumerate(APPLIANCES):
        for j in range(2):
            fmt = "pdf" if (i, j) == (8, 1) else ("docx" if (i + j) % 4 == 0 else "md")
            brand = next(brands)
            while j == 1 and brand.lower() in docs[-1].path:
                brand = rng.choice(BRANDS)
            docs.append(_manual(rng, kind, brand, fmt, [next(codes) for _ in range(3)]))
    docs += [_recipe(rng, *r) for r in RECIPES]
    docs += [_howto(rng, task, tools, "docx" if i % 3 == 0 else "md") for i, (task, tools) in enumerate(HOWTO)]
    docs += [_admin(rng, name) for name in ADMIN]
    names = list(members)
    letters = []
    for i, spec in enumerate(SCHOOL):
        member = names[i % len(names)]
        letter = _letter(rng, fake, member, spec)
        letter.path = f"{member.lower()}/{letter.path}"
        letters.append((letter, member))
    docs += [d for d, _ in letters]

    out = Path(out)
    with atomic.staged_dir(out) as tmp:
        for doc in docs:
            path = tmp / doc.path
            path.parent.mkdir(parents=True, exist_ok=True)
            suffix = path.suffix
            if suffix == ".md":
                atomic.write_text(path, _markdown(doc))
            elif suffix == ".html":
                atomic.write_text(path, _html(doc))
            elif suffix == ".docx":
                _docx(doc, path)
            elif suffix == ".pdf":
                _pdf(doc, path)
        for n, (doc, member) in enumerate(letters):
            m = members[member]
            sent = datetime(2026, 2, 1, 8, 30, tzinfo=ZoneInfo("Europe/London")) + timedelta(days=2 * n)
            (tmp / doc.path).write_bytes(_eml(doc, (m["full_name"], m["emails"][0]), sent))
        write_json_lines(tmp / "questions.jsonl", ({"question": q, "document": d.path, "answer": a}
                                                   for d in docs for q, a in d.questions), ensure_ascii=False)
    return docs
