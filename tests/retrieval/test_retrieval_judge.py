"""The LLM judge and the query teacher against a real HTTP server on 127.0.0.1 that answers like an
OpenAI-compatible chat endpoint (a scripted 'model': relevant passages carry a marker word)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hrmtrain.errors import HrmError
from hrmtrain.retrieval.corpus import Chunk
from hrmtrain.retrieval.endpoint import ChatEndpoint
from hrmtrain.retrieval.judge import PAIRWISE, POINTWISE, Judge, judge_mined
from hrmtrain.retrieval.mine import Mined
from hrmtrain.retrieval.queries import Query, teacher_queries


class Scripted(BaseHTTPRequestHandler):
    mode = "fair"  # fair | biased (always answers A) | broken (HTTP 500) | mumble (no grade)
    seen: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Scripted.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.mode == "broken":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"model crashed")
            return
        prompt = body["messages"][0]["content"]
        if prompt.startswith("Write one short question"):
            answer = "Where is the RELEVANT bit?\nextra line"
        elif "Passage A:" in prompt:
            a = prompt.split("Passage A:")[1].split("Passage B:")[0]
            answer = "A" if self.mode == "biased" or "RELEVANT" in a else "B"
        else:
            answer = "maybe" if self.mode == "mumble" else ("2" if "RELEVANT" in prompt.split("Passage:")[1] else "0")
        data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                        "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Scripted.mode, Scripted.seen = "fair", []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _mined(false_negative: bool = False) -> tuple[list[Mined], dict[str, str]]:
    text, mined = {}, []
    for i in range(4):
        text[f"p{i}"] = f"manual {i}: the RELEVANT answer"
        text[f"n{i}"] = f"manual {i}: something else" + (" RELEVANT too" if false_negative and i == 0 else "")
        mined.append(Mined(Query(f"q{i}", f"question {i}", "d", [f"p{i}"]), [f"n{i}"], [0.5], 0.9))
    return mined, text


def test_a_fair_judge_agrees_with_gold_and_the_request_is_a_chat_completion(server, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "sekret")
    judge = Judge(server, "judge-model", api_key_env="JUDGE_KEY")
    mined, text = _mined()
    out = judge_mined(judge, mined, text, max_pairs=100, progress=False)
    assert out.pairs == 8 and out.agreement == 1.0 and out.pairwise_agreement == 1.0 and out.position_ties == 0.0
    assert out.grades[("q0", "p0")] == 2 and out.grades[("q0", "n0")] == 0
    first = Scripted.seen[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sekret"
    assert first["body"]["model"] == "judge-model" and first["body"]["temperature"] == 0.0
    assert first["body"]["messages"][0]["content"] == POINTWISE.format(query="question 0", passage=text["p0"])
    # the comparison is asked in both orders
    pair_prompts = [s["body"]["messages"][0]["content"] for s in Scripted.seen if "Passage A:" in s["body"]["messages"][0]["content"]]
    assert pair_prompts[:2] == [PAIRWISE.format(query="question 0", a=text["p0"], b=text["n0"]),
                                PAIRWISE.format(query="question 0", a=text["n0"], b=text["p0"])]


def test_a_judge_that_prefers_a_position_gives_ties(server):
    Scripted.mode = "biased"
    mined, text = _mined()
    out = judge_mined(Judge(server, "m"), mined, text, max_pairs=100, progress=False)
    assert out.position_ties == 1.0 and out.pairwise_agreement == 0.0
    assert Judge(server, "m").compare("q", "x", "y") == "tie"


def test_a_false_negative_is_caught_and_lowers_agreement(server):
    mined, text = _mined(false_negative=True)
    out = judge_mined(Judge(server, "m"), mined, text, max_pairs=100, progress=False)
    assert out.grades[("q0", "n0")] == 2 and out.agreement == pytest.approx(7 / 8)


def test_max_pairs_bounds_the_work(server):
    mined, text = _mined()
    out = judge_mined(Judge(server, "m"), mined, text, max_pairs=4, progress=False)
    assert out.pairs == 4


def test_unparseable_replies_are_counted_not_guessed(server):
    Scripted.mode = "mumble"
    mined, text = _mined()
    out = judge_mined(Judge(server, "m"), mined, text, max_pairs=100, progress=False)
    assert out.pairs == 0 and out.unparsed == 8 and out.agreement is None


def test_a_failing_endpoint_is_reported_not_raised(server):
    Scripted.mode = "broken"
    mined, text = _mined()
    out = judge_mined(Judge(server, "m"), mined, text, max_pairs=100, progress=False)
    assert out.pairs == 0 and "HTTP 500: model crashed" in out.error and server in out.error
    closed = Judge("http://127.0.0.1:9/v1", "m", timeout_s=2)
    out = judge_mined(closed, mined, text, max_pairs=100, progress=False)
    assert "ConnectError" in out.error and "127.0.0.1:9" in out.error


def test_teacher_writes_one_query_per_chunk_and_names_a_failing_endpoint(server):
    chunks = [Chunk("c1", "public/a.md", "a manual\nCleaning\nClean it."), Chunk("c2", "public/b.md", "b")]
    qs = teacher_queries(ChatEndpoint(server, "teacher", max_tokens=64), chunks, progress=False)
    assert [(q.text, q.positives, q.source) for q in qs] == [("Where is the RELEVANT bit?", ["c1"], "teacher"),
                                                             ("Where is the RELEVANT bit?", ["c2"], "teacher")]
    Scripted.mode = "broken"
    with pytest.raises(HrmError, match=r"retrieval.teacher: .*HTTP 500"):
        teacher_queries(ChatEndpoint(server, "teacher"), chunks, progress=False)
