"""Benchmark the Redactor against Presidio's default analyzer on a generated corpus.

    pip install -e ".[bench]"
    python benchmarks/redaction.py --n 1000 --seed 123 [--templates holdout]   # final seed; dev used 1 and 2
    python benchmarks/redaction.py --n 200 --seed 1 --skip-presidio --show-misses 30

Recall: a gold span is caught when every alphanumeric character in it is covered by some
predicted span (of any type; separators such as ", " or "\\n" inside an address need not be).
False positives: predicted spans overlapping no gold span, by predicted type; and decoys
(closing words, weekdays, months, dish and shop names, kinship words) touched by a prediction.
Speed: docs/s over the whole corpus (median of --repeats passes, default 3), model loading and warm-up
excluded; the Redactor runs
redact_many (spaCy batched), Presidio runs analyze() + anonymize() per document.
"""

from __future__ import annotations

import os

# Presidio's e-mail recognizer uses tldextract, whose module-level extractor is built at
# import time and would fetch the public suffix list: disable before anything imports it.
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

import argparse  # noqa: E402
import collections  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # redaction_corpus.py beside this file
from redaction_corpus import generate  # noqa: E402
from hrmtrain.privacy.redact import SPACY_MODEL, Redactor, get_nlp  # noqa: E402

TYPES = ["PERSON", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "UK_NINO", "ADDRESS", "LOCATION"]
TARGET = {"EMAIL": 0.99, "PHONE": 0.99, "CREDIT_CARD": 0.99, "IBAN": 0.99, "US_SSN": 0.99,
          "UK_NINO": 0.99, "PERSON": 0.95, "ADDRESS": 0.95}
PRESIDIO_TYPE = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN"}


def score(docs, preds):
    """preds[i] = list of (start, end, type). Returns per-type counters and miss examples."""
    gold_n, caught = collections.Counter(), collections.Counter()
    fp, neg_hit, neg_n = collections.Counter(), collections.Counter(), collections.Counter()
    misses = collections.defaultdict(list)
    fps = []
    for d, pred in zip(docs, preds):
        covered = bytearray(len(d.text))
        for s, e, _ in pred:
            covered[s:e] = b"\x01" * (e - s)
        for s, e, t, tag in d.spans:
            keys = [t] + (["PERSON (household)"] if tag == "household" else
                          ["PERSON (others)"] if t == "PERSON" else [])
            ok = all(covered[i] or not d.text[i].isalnum() for i in range(s, e))
            for k in keys:
                gold_n[k] += 1
                caught[k] += ok
            if not ok:
                misses[t].append((d.id, d.text[s:e], d.text[max(0, s - 40):e + 40]))
        for s, e, cat in d.negatives:
            neg_n[cat] += 1
            neg_hit[cat] += any(ps < e and pe > s for ps, pe, _ in pred)
        for ps, pe, pt in pred:
            if not any(ps < e and pe > s for s, e, _, _ in d.spans):
                fp[pt] += 1
                fps.append((d.id, pt, d.text[ps:pe]))
    return dict(gold=gold_n, caught=caught, fp=fp, neg_hit=neg_hit, neg_n=neg_n, misses=misses, fps=fps)


def run_redactor(docs, known, repeats=3):
    """Predictions and the median seconds of `repeats` passes over all documents."""
    red = Redactor(known_names=known, batch_size=64)
    red.redact_many([d.text for d in docs[:20]])  # warm-up (model load, regex compile)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = red.redact_many([d.text for d in docs])
        times.append(time.perf_counter() - t)
    return [[(s.start, s.end, s.type) for s in spans] for _, spans in out], statistics.median(times), out


def run_presidio(docs, repeats=3):
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine
    import presidio_analyzer

    # Presidio's own default NLP configuration, with only the model name swapped.
    conf_path = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    conf = yaml.safe_load(conf_path.read_text())
    conf["models"] = [{"lang_code": "en", "model_name": SPACY_MODEL}]
    analyzer = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())
    anonymizer = AnonymizerEngine()
    for d in docs[:20]:  # warm-up
        analyzer.analyze(d.text, language="en")
    times = []
    for _ in range(repeats):
        preds = []
        t = time.perf_counter()
        for d in docs:
            res = analyzer.analyze(d.text, language="en")
            anonymizer.anonymize(d.text, res)
            preds.append([(r.start, r.end, PRESIDIO_TYPE.get(r.entity_type, r.entity_type)) for r in res])
        times.append(time.perf_counter() - t)
    return preds, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--templates", choices=["dev", "holdout"], default="dev",
                    help="holdout: template wording never used while tuning the redactor")
    ap.add_argument("--skip-presidio", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes per system; the median is reported")
    ap.add_argument("--no-known", action="store_true", help="do not pass household names")
    ap.add_argument("--show-misses", type=int, default=0)
    ap.add_argument("--show-fps", type=int, default=0)
    args = ap.parse_args()

    docs, household = generate(args.n, args.seed, args.templates)
    known = () if args.no_known else household
    get_nlp()
    ours, t_ours, _ = run_redactor(docs, known, args.repeats)
    s_ours = score(docs, ours)
    s_pres, t_pres = None, None
    if not args.skip_presidio:
        pres, t_pres = run_presidio(docs, args.repeats)
        s_pres = score(docs, pres)

    n = len(docs)
    print(f"corpus: n={n} seed={args.seed} templates={args.templates} household={household} known_names={'no' if args.no_known else 'yes'}")
    rows = TYPES[:1] + ["PERSON (household)", "PERSON (others)"] + TYPES[1:]
    hdr = f"{'type':<20}{'gold':>6}{'ours':>9}{'presidio':>10}{'target':>8}"
    print("\nRECALL (gold span fully covered)\n" + hdr)
    for t in rows:
        g = s_ours["gold"][t]
        if not g:
            continue
        r1 = s_ours["caught"][t] / g
        r2 = f"{s_pres['caught'][t] / g:10.3f}" if s_pres else f"{'-':>10}"
        tgt = TARGET.get(t)
        flag = "" if tgt is None else (" ok" if r1 >= tgt else " MISS")
        print(f"{t:<20}{g:>6}{r1:>9.3f}{r2}{(f'{tgt:.2f}' if tgt else ''):>8}{flag}")

    print("\nFALSE POSITIVES (predicted spans overlapping no gold span), by predicted type")
    fp_types = sorted(set(s_ours["fp"]) | (set(s_pres["fp"]) if s_pres else set()))
    print(f"{'type':<20}{'ours':>9}{'presidio':>10}")
    for t in fp_types:
        print(f"{t:<20}{s_ours['fp'][t]:>9}{(s_pres['fp'][t] if s_pres else '-'):>10}")
    tot_o = sum(s_ours["fp"].values())
    in_scope = set(TYPES)
    tot_p = sum(v for k, v in s_pres["fp"].items()) if s_pres else "-"
    tot_p_in = sum(v for k, v in s_pres["fp"].items() if k in in_scope) if s_pres else "-"
    print(f"{'total':<20}{tot_o:>9}{tot_p:>10}")
    print(f"{'total (in-scope)':<20}{tot_o:>9}{tot_p_in:>10}")
    print("\nDECOYS touched by a prediction (must stay unredacted)")
    print(f"{'category':<20}{'n':>6}{'ours':>9}{'presidio':>10}")
    for c in sorted(s_ours["neg_n"]):
        print(f"{c:<20}{s_ours['neg_n'][c]:>6}{s_ours['neg_hit'][c]:>9}{(s_pres['neg_hit'][c] if s_pres else '-'):>10}")

    print("\nSPEED")
    print(f"ours:     {n / t_ours:8.1f} docs/s  ({t_ours:.2f} s)")
    if t_pres:
        print(f"presidio: {n / t_pres:8.1f} docs/s  ({t_pres:.2f} s)")
        print(f"ratio:    {t_pres / t_ours:8.1f}x")

    if args.show_misses:
        print("\nMISSES (ours)")
        for t, ms in s_ours["misses"].items():
            for did, val, ctx in ms[: args.show_misses]:
                print(f"  {t:<12} {did} {val!r:40} ctx={ctx!r}")
    if args.show_fps:
        print("\nFALSE POSITIVES (ours)")
        for did, t, val in s_ours["fps"][: args.show_fps]:
            print(f"  {t:<10} {did} {val!r}")


if __name__ == "__main__":
    main()
