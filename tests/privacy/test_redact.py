"""Redaction: validated patterns, names by NER and heuristics, consistent placeholders, the pinned model."""

import pytest

from hrmtrain.privacy.redact import SPACY_MODEL_SHA256, Placeholders, Redactor, model_content_sha256


def ner(test):
    """Tests that run spaCy's NER (a hard dependency: never skipped)."""
    return test


def test_installed_model_is_the_pinned_build():
    assert model_content_sha256() == SPACY_MODEL_SHA256


@pytest.fixture(scope="module")
def rules():
    return Redactor(use_ner=False)


def types(spans):
    return {(s.type, s.original) for s in spans}


def test_structured_validated(rules):
    text = ("Card 4111 1111 1111 1111, bad card 4111 1111 1111 1112. IBAN GB82 WEST 1234 5698 7654 32, "
            "bad IBAN GB83 WEST 1234 5698 7654 32. SSN 536-90-4399. NI AB 12 34 56 C, bad NI QQ123456C. "
            "Mail sam.jones@example.co.uk or ring +44 (0)20 7946 0958.")
    red, spans = rules.redact(text)
    assert types(spans) == {
        ("CREDIT_CARD", "4111 1111 1111 1111"), ("IBAN", "GB82 WEST 1234 5698 7654 32"),
        ("US_SSN", "536-90-4399"), ("UK_NINO", "AB 12 34 56 C"),
        ("EMAIL", "sam.jones@example.co.uk"), ("PHONE", "+44 (0)20 7946 0958"),
    }
    assert "4111 1111 1111 1112" in red and "GB83 WEST" in red and "QQ123456C" in red


def test_numbers_that_are_not_pii(rules):
    _, spans = rules.redact("Order 2024-05-06, ref 1234567890123, £12.50 at 10:45, score 3-1.")
    assert spans == []


@pytest.mark.parametrize("addr", [
    "083 Crosby Plaza Apt. 533\nFarleytown, MT 73436",
    "Flat 0\nFrancesca Plains\nSouth Joyceborough\nSR08 7UX",
    "17 Jones Light, North Holly, S6 7LJ",
    "PSC 1241, Box 5868\nAPO AP 25384",
    "1600 Pennsylvania Avenue NW, Washington, DC 20500",
])
def test_addresses_whole(rules, addr):
    red, spans = rules.redact(f"Send it to:\n{addr}\nthanks")
    assert [s.original for s in spans] == [addr]
    assert red == "Send it to:\n<ADDRESS_1>\nthanks"


def test_greeting_signoff_and_decoys(rules):
    red, spans = rules.redact("Hi Sam,\n\nThanks for Monday, the Victoria sponge was great.\n\nCheers,\nPriya Raman\n")
    assert types(spans) == {("PERSON", "Sam"), ("PERSON", "Priya Raman")}
    assert "Cheers," in red and "Monday" in red and "Thanks" in red


def test_known_names_and_consistency(rules):
    r = Redactor(known_names=["Sam Jones"], use_ner=False)
    red, _ = r.redact("Sam Jones said Sam will call Dr Patel. Ask Sam.")
    # a title is part of the name's span: "Dr" left beside a placeholder is part of the person left behind
    assert red == "<PERSON_1> said <PERSON_1> will call <PERSON_2>. Ask <PERSON_1>."


def test_placeholders_shared_across_fields():
    ph = Placeholders()
    assert ph.get("PERSON", "Sam Jones") == "<PERSON_1>"
    assert ph.get("PERSON", "sam  JONES") == "<PERSON_1>"
    assert ph.get("PERSON", "Sam") == "<PERSON_1>"          # unique token subset
    assert ph.get("PERSON", "Emma") == "<PERSON_2>"
    assert ph.get("PHONE", "+44 7700 900123") == ph.get("PHONE", "07700 900123") == "<PHONE_1>"
    assert ph.get("CREDIT_CARD", "4111-1111-1111-1111") == ph.get("CREDIT_CARD", "4111111111111111")


@ner
def test_record_subject_and_body_share_placeholders():
    r = Redactor(known_names=["Sam Jones"])
    ph = Placeholders()
    (subj, _), (body, _) = r.redact_many(
        ["Dinner with Priya Raman", "Hi Sam,\nPriya can bring dessert.\nCheers,\nEmma"], [ph, ph])
    assert subj == "Dinner with <PERSON_1>"
    assert "<PERSON_1> can bring dessert" in body
    assert body.startswith("Hi <PERSON_2>,") and body.endswith("Cheers,\n<PERSON_3>")


@ner
def test_dish_and_brand_not_people():
    r = Redactor()
    red, spans = r.redact("Dinner at Jo's: Beef Wellington and Eggs Benedict, then Earl Grey tea. "
                          "Pick up the order at Tesco.")
    assert types(spans) == {("PERSON", "Jo")}
