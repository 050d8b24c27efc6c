"""LLM-as-judge relevance labels from a model behind an OpenAI-compatible chat endpoint.

Two prompts, fixed (their text is part of the results, so a run says what the judge was asked):
pointwise, a grade 0-2 for one (query, chunk); pairwise, which of two chunks answers better, asked in
both orders so that a judge preferring a position is caught (an answer that flips with the order is a
tie). Grades are compared with the gold labels (a household question's own chunk is relevant, a mined
negative is not) and reported as agreement; the grades of mined negatives then become the reranker's
labels for them, so a negative the judge finds relevant (a false negative of the mining) stops
teaching the reranker the wrong thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hrmtrain.retrieval.endpoint import ChatEndpoint, EndpointError

POINTWISE = (
    "You judge search results for a household assistant. Rate how well the passage answers the question.\n"
    "2 = the passage answers the question.\n1 = the passage is on the topic but does not answer it.\n"
    "0 = the passage is unrelated.\nReply with the single digit only.\n\nQuestion: {query}\n\nPassage:\n{passage}"
)
PAIRWISE = (
    "You judge search results for a household assistant. Which passage answers the question better?\n"
    "Reply with the single letter A or B only.\n\nQuestion: {query}\n\nPassage A:\n{a}\n\nPassage B:\n{b}"
)


class Judge(ChatEndpoint):
    def grade(self, query: str, passage: str) -> int | None:
        """0, 1 or 2; None when the reply holds no grade."""
        m = re.search(r"[012]", self.ask(POINTWISE.format(query=query, passage=passage)))
        return int(m.group()) if m else None

    def prefer(self, query: str, a: str, b: str) -> str | None:
        m = re.search(r"\b([AB])\b", self.ask(PAIRWISE.format(query=query, a=a, b=b)).strip().upper())
        return m.group(1) if m else None

    def compare(self, query: str, first: str, second: str) -> str:
        """'first', 'second', or 'tie' when the judge's choice follows the position, not the passage."""
        one = self.prefer(query, first, second)
        two = self.prefer(query, second, first)
        if one == "A" and two == "B":
            return "first"
        if one == "B" and two == "A":
            return "second"
        return "tie"


@dataclass
class Judgements:
    grades: dict[tuple[str, str], int] = field(default_factory=dict)  # (query id, chunk id) -> 0..2
    agreement: float | None = None  # pointwise: judge's relevant (grade 2) vs gold, over judged pairs
    pairwise_agreement: float | None = None  # judge prefers the gold positive (both orders agree)
    position_ties: float | None = None  # comparisons whose answer flipped with the order
    unparsed: int = 0
    pairs: int = 0
    error: str = ""

    def summary(self) -> dict:
        return {"pairs": self.pairs, "agreement_with_gold": self.agreement,
                "pairwise_agreement_with_gold": self.pairwise_agreement, "position_ties": self.position_ties,
                "unparsed_replies": self.unparsed, "error": self.error,
                "prompts": {"pointwise": POINTWISE, "pairwise": PAIRWISE}}


def judge_mined(judge: Judge, mined, text: dict[str, str], max_pairs: int, progress: bool = True) -> Judgements:
    """Grade each query's first positive and first mined negative (gold 1 and 0), compare the two in both
    orders; stop at `max_pairs` graded pairs. An endpoint failure ends the judging with the error kept."""
    from tqdm import tqdm

    out = Judgements()
    agree = compared = prefer_gold = ties = 0
    todo = [m for m in mined if m.negatives][: max(1, max_pairs // 2)]
    try:
        for m in tqdm(todo, desc="judge", unit="query", disable=not progress):
            pos, neg = m.query.positives[0], m.negatives[0]
            for chunk, gold in ((pos, 1), (neg, 0)):
                g = judge.grade(m.query.text, text[chunk])
                if g is None:
                    out.unparsed += 1
                    continue
                out.grades[(m.query.id, chunk)] = g
                agree += int((g == 2) == bool(gold))
            verdict = judge.compare(m.query.text, text[pos], text[neg])
            compared += 1
            prefer_gold += verdict == "first"
            ties += verdict == "tie"
    except EndpointError as exc:  # reported with what was judged so far, not fatal
        out.error = str(exc)
    out.pairs = len(out.grades)
    out.agreement = agree / out.pairs if out.pairs else None
    out.pairwise_agreement = prefer_gold / compared if compared else None
    out.position_ties = ties / compared if compared else None
    return out
