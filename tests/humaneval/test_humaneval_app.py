"""The rating web app, served by `hrmtrain humaneval serve` in its own process on 127.0.0.1 and driven in a real
browser (Debian's chromium through Playwright's `executable_path`): two raters sign in and rate with mouse
and keyboard, one stops mid-way and resumes, and the report's alpha and means match a hand computation.
Also: no token 401, a wrong one 403, another rater's item unreachable, a `<script>` in a model answer shown
as text, an invalid rating refused with a message, and a killed server that loses no acknowledged rating."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from hrmtrain.eval.server import free_port
from hrmtrain.humaneval import stats
from hrmtrain.humaneval.store import Study
from hrmtrain.humaneval.study import System, create
from test_humaneval_stats import hand_alpha
from hrmtrain.humaneval.report_section import write_standalone

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCRIPT = '<script>document.title = "pwned"</script><b>bold?</b>'
# only the tests that drive a browser need chromium; the HTTP-level ones (tokens, items, CSRF, a killed server) run anywhere


class Server:
    def __init__(self, study: Path, cwd: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "hrmtrain", "humaneval", "serve", "--study", str(study),
                                      "--port", str(self.port)], cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/signin", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"the rating app did not start: {self.proc.stdout.read()}")

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def study(eval_results, tmp_path_factory):
    """An A/B study (oracle vs no-op) whose no-op answers carry markup, with two raters."""
    tmp = tmp_path_factory.mktemp("app")
    noop = json.loads(Path(eval_results["noop"]).read_text())
    for group in (noop["loops"], noop["safety"]):
        for loop in group.values():
            for ep in loop["episodes"]:
                ep["answer"] = SCRIPT
    (tmp / "noop.json").write_text(json.dumps(noop))
    s = create(tmp / "study.sqlite", [System("oracle", Path(eval_results["scripted"])), System("noop", tmp / "noop.json")],
               per_type=1, overlap=3, gold=2, seed=5)
    tokens = {name: s.add_rater(name) for name in ("ann", "bob")}
    return tmp, s, tokens


@pytest.fixture(scope="module")
def server(study):
    tmp, s, _ = study
    srv = Server(s.path, tmp)
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def intended(item, rater: str) -> tuple[int, str]:
    """What each rater gives each item in the browser test: oracle good, no-op bad, gold inside its range;
    bob one point milder than ann, so agreement is high but not perfect."""
    if item.kind == "gold":
        return (5 if item.gold["helpfulness"] == [4, 5] else 1), "pass"
    if item.system == "oracle":
        return (5 if rater == "ann" else 4), "pass"
    return (1 if rater == "ann" else 2), ("fail" if item.task_type.startswith("safety/") else "pass")


def rate_in_browser(page, items, rater: str, how_many: int | None, keyboard_every: int = 2) -> list[str]:
    """Rate from the first unrated item on; returns the ids rated. Odd items by mouse, even by keyboard."""
    rated = []
    while how_many is None or len(rated) < how_many:
        if page.locator("h1.done").count():
            break
        item_id = page.url.rstrip("/").split("/")[-1]
        value, safety = intended(items[item_id], rater)
        if len(rated) % keyboard_every == 0:
            page.locator("body").press(str(value))
            page.locator("body").press("p" if safety == "pass" else "f")
            with page.expect_navigation():
                page.locator("body").press("Enter")
        else:
            page.locator(f'input[name="helpfulness"][value="{value}"]').click()
            page.locator(f'input[name="safety"][value="{safety}"]').click()
            if safety == "fail":
                page.select_option("#severity", "major")
            with page.expect_navigation():
                page.click("#submit")
        rated.append(item_id)
    return rated


def sign_in(browser, server, token):
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{server.url}/")
    assert response.status == 401 and page.locator("#token").count() == 1
    page.fill("#token", token)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return context, page


def test_two_raters_rate_with_mouse_and_keyboard_resume_and_the_report_matches_by_hand(study, server, browser, tmp_path):
    _, s, tokens = study
    items = {i.id: i for i in s.items()}
    total = len(s.assignments("ann"))

    ann_ctx, ann = sign_in(browser, server, tokens["ann"])
    assert ann.title != "pwned"
    first = rate_in_browser(ann, items, "ann", 5)
    ann_ctx.close()  # ann stops mid-way

    bob_ctx, bob = sign_in(browser, server, tokens["bob"])
    rate_in_browser(bob, items, "bob", None)
    assert bob.locator("h1.done").count() == 1
    bob_ctx.close()

    ann_ctx, ann = sign_in(browser, server, tokens["ann"])  # ann comes back: on her first unrated item
    assert ann.url.endswith(s.assignments("ann")[5])
    assert f"5 of {total} rated" in ann.locator("#progress").inner_text()
    ann.goto(f"{server.url}/items/{first[0]}")  # an earlier rating is shown as given
    assert ann.locator('input[name="helpfulness"]:checked').get_attribute("value") == str(intended(items[first[0]], "ann")[0])
    ann.goto(f"{server.url}/rate")
    screenshot = ann.screenshot(full_page=True)
    rate_in_browser(ann, items, "ann", None)
    assert ann.locator("h1.done").count() == 1
    ann_ctx.close()
    if os.environ.get("HRMTRAIN_SCREENSHOTS"):
        Path(os.environ["HRMTRAIN_SCREENSHOTS"], "humaneval-rating.png").write_bytes(screenshot)

    ratings = s.ratings()
    assert len(ratings) == 2 * total
    assert all((r.helpfulness, "pass" if r.safety_pass else "fail") == intended(items[r.item], r.rater) for r in ratings)
    # the report against a hand computation on the same ratings
    summary = stats.summarise(s.items(), ratings, ["oracle", "noop"])
    for system in ("oracle", "noop"):
        per_item = [np.mean([intended(i, r)[0] for r in ("ann", "bob")]) for i in items.values() if i.system == system]
        assert summary["helpfulness"][system]["all"]["mean"] == pytest.approx(np.mean(per_item))
    overlap = [i for i in s.items() if i.kind == "overlap"]
    data = [[intended(i, r)[0] for i in overlap] for r in ("ann", "bob")]
    assert summary["alpha"]["helpfulness_ordinal"] == pytest.approx(hand_alpha(data, "ordinal", [1, 2, 3, 4, 5]))
    assert summary["gold_accuracy"] == {r: {"correct": 2, "rated": 2, "accuracy": 1.0} for r in ("ann", "bob")}
    assert summary["ab"]["wins"]["oracle"] == summary["ab"]["tasks"]
    # the report section, opened in the browser: the figures it shows are these

    page_path = write_standalone(summary, tmp_path / "report.html", "human evaluation")
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    view = context.new_page()
    view.goto(page_path.as_uri())
    section = view.locator("#humaneval")
    text = section.inner_text()
    assert f"{summary['alpha']['helpfulness_ordinal']:.3f}" in text and "oracle win rate 100%" in text
    assert f"{summary['helpfulness']['oracle']['all']['mean']:.2f}" in text
    assert view.locator('#humaneval img[alt="human helpfulness ratings"]').count() == 1
    if os.environ.get("HRMTRAIN_SCREENSHOTS"):
        section.screenshot(path=str(Path(os.environ["HRMTRAIN_SCREENSHOTS"], "humaneval-report.png")))
    context.close()


def test_tokens_are_required_and_checked(study, server):
    _, s, tokens = study
    for path in ("/", "/rate", "/api/progress", "/app.js", f"/items/{s.assignments('ann')[0]}"):
        assert httpx.get(server.url + path).status_code == 401, path
        assert httpx.get(server.url + path, headers={"Authorization": "Bearer nope"}).status_code == 403, path
    assert httpx.post(f"{server.url}/items/{s.assignments('ann')[0]}", data={"helpfulness": "3", "safety": "pass"}
                      ).status_code == 401
    res = httpx.post(f"{server.url}/signin", data={"token": "nope"})
    assert res.status_code == 403 and "not valid" in res.text
    ok = httpx.get(f"{server.url}/api/progress", headers={"Authorization": f"Bearer {tokens['bob']}"})
    assert ok.status_code == 200 and ok.json()["rater"] == "bob"


def test_another_raters_items_are_unreachable(study, server, tmp_path):
    tmp, s, tokens = study
    carl = s.add_rater("carl", 0)  # only the overlap and gold items
    mine = set(s.assignments("carl"))
    elsewhere = next(i.id for i in s.items() if i.id not in mine)
    headers = {"Authorization": f"Bearer {carl}"}
    assert httpx.get(f"{server.url}/items/{elsewhere}", headers=headers).status_code == 404
    res = httpx.post(f"{server.url}/items/{elsewhere}", headers=headers, data={"helpfulness": "3", "safety": "pass"})
    assert res.status_code == 404
    assert httpx.get(f"{server.url}/items/000000000000", headers=headers).status_code == 404
    assert not [r for r in s.ratings() if r.rater == "carl"]


def test_markup_in_a_model_answer_is_shown_as_text_and_bad_ratings_are_refused(study, server, browser):
    _, s, tokens = study
    items = {i.id: i for i in s.items()}
    target = next(i for i in s.assignments("ann") if items[i].system == "noop")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/signin")
    page.fill("#token", tokens["ann"])
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"{server.url}/items/{target}")
    assert page.locator("#answer").inner_text() == SCRIPT  # the markup, as characters
    assert page.title() != "pwned" and page.locator("#answer b").count() == 0
    context.close()
    # a rating of 7 (a forged form) is refused with a message, and nothing is stored
    headers = {"Authorization": f"Bearer {tokens['ann']}"}
    before = len(s.ratings(latest=False))
    res = httpx.post(f"{server.url}/items/{target}", headers=headers, data={"helpfulness": "7", "safety": "pass"})
    assert res.status_code == 422 and "helpfulness 7: must be a whole number from 1 to 5" in res.text
    res = httpx.post(f"{server.url}/items/{target}", headers=headers, data={"helpfulness": "3"})
    assert res.status_code == 422 and "choose pass or fail" in res.text
    assert len(s.ratings(latest=False)) == before


def test_a_killed_server_loses_no_submitted_rating(study, tmp_path):
    tmp, s, _ = study
    token = s.add_rater("dana")
    server = Server(s.path, tmp)
    headers = {"Authorization": f"Bearer {token}"}
    acknowledged = []
    try:
        for n, item in enumerate(s.assignments("dana")[:6]):
            res = httpx.post(f"{server.url}/items/{item}", headers=headers,
                             data={"helpfulness": str(1 + n % 5), "safety": "pass", "note": f"n{n}"})
            assert res.status_code == 303
            acknowledged.append((item, 1 + n % 5, f"n{n}"))
    finally:
        server.kill()  # SIGKILL: no shutdown hook runs
    kept = [(r.item, r.helpfulness, r.note) for r in Study(s.path).ratings() if r.rater == "dana"]
    assert kept == acknowledged


def test_cross_site_posts_and_login_csrf_are_refused(study, server):
    _, s, tokens = study
    item = s.assignments("bob")[0]
    before = len(s.ratings(latest=False))
    cookie = {"hrmtrain_rater": tokens["bob"]}
    evil = {"Origin": "https://evil.example"}
    res = httpx.post(f"{server.url}/items/{item}", cookies=cookie, headers=evil, data={"helpfulness": "1", "safety": "fail"})
    assert res.status_code == 403 and "cross-site" in res.text
    res = httpx.post(f"{server.url}/items/{item}", cookies=cookie, headers={"Referer": "https://evil.example/x"},
                     data={"helpfulness": "1", "safety": "fail"})
    assert res.status_code == 403
    res = httpx.post(f"{server.url}/items/{item}", cookies=cookie, headers={"Origin": "null"},
                     data={"helpfulness": "1", "safety": "fail"})
    assert res.status_code == 403
    # login CSRF: signing the victim's browser in as the attacker's rater
    res = httpx.post(f"{server.url}/signin", headers=evil, data={"token": tokens["ann"]})
    assert res.status_code == 403 and "set-cookie" not in res.headers
    assert len(s.ratings(latest=False)) == before
    # the app's own form (same origin) still works
    res = httpx.post(f"{server.url}/signin", headers={"Origin": server.url}, data={"token": tokens["ann"]})
    assert res.status_code == 303 and "hrmtrain_rater" in res.headers["set-cookie"]


def test_other_host_names_are_refused_and_every_answer_has_security_headers(study, server):
    res = httpx.get(f"{server.url}/signin", headers={"Host": "rebound.evil.example"})
    assert res.status_code == 400
    for path, status in (("/", 401), ("/no-such-page", 404), ("/signin", 200)):
        res = httpx.get(server.url + path)
        assert res.status_code == status, path
        assert res.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in res.headers["content-security-policy"], path
    res = httpx.post(f"{server.url}/items/x", content=b"\xff", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.headers["x-content-type-options"] == "nosniff"
    res = httpx.get(f"{server.url}/signin", headers={"Host": "[::1]"})
    assert res.status_code == 200
