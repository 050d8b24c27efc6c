"""The OpenAI-compatible policy against a real HTTP server on 127.0.0.1 (canned chat completions)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hrmtrain.agent.loop import Budget, run_hrm
from hrmtrain.agent.tasks import load_tasks
from hrmtrain.eval.openai_policy import OpenAIPolicy
from hrmtrain.household.schemas import TOOLS

REPLIES: list = []  # what the server answers next: a dict (JSON body) or (status, raw bytes)
SEEN: list = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        SEEN.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        reply = REPLIES.pop(0)
        status, body = (200, json.dumps(reply).encode()) if isinstance(reply, dict) else reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    REPLIES.clear()
    SEEN.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", httpd
    httpd.shutdown()
    httpd.server_close()


def _completion(message: dict, tokens: int = 7) -> dict:
    return {"choices": [{"message": {"role": "assistant", **message}}], "usage": {"completion_tokens": tokens}}


TOOLS_LIST = [TOOLS["shopping_add"]]
HISTORY = [{"role": "system", "content": "s"}, {"role": "user", "content": "Add eggs."},
           {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
               "name": "shopping_add", "arguments": {"item": "eggs"}}}]},
           {"role": "tool", "name": "shopping_add", "content": "{}"}]


def test_structured_and_raw_hermes_tool_calls(server):
    url, _ = server
    policy = OpenAIPolicy(url, "tiny")
    REPLIES.append(_completion({"content": None, "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "shopping_add", "arguments": '{"item": "milk"}'}}]}))
    turn = policy.act(HISTORY, TOOLS_LIST, 32)
    assert [(c.name, c.arguments) for c in turn.calls] == [("shopping_add", {"item": "milk"})] and turn.tokens == 7
    sent = SEEN[-1]
    assert sent["tools"] == TOOLS_LIST and sent["max_tokens"] == 32
    assert sent["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"item": "eggs"}'  # wire format
    REPLIES.append(_completion({"content": '<tool_call>\n{"name": "shopping_add", "arguments": {"item": "tea"}}\n</tool_call>'}))
    turn = policy.act(HISTORY, TOOLS_LIST, 32)
    assert [(c.name, c.arguments) for c in turn.calls] == [("shopping_add", {"item": "tea"})]
    REPLIES.append(_completion({"content": "Added eggs."}))
    assert policy.act(HISTORY, TOOLS_LIST, 32).content == "Added eggs."


def test_garbage_errors_and_a_dead_server_are_error_turns(server):
    url, httpd = server
    policy = OpenAIPolicy(url, "tiny", timeout_s=5)
    REPLIES.append((500, b"internal error"))
    assert "HTTPStatusError" in policy.act(HISTORY, TOOLS_LIST, 8).error
    REPLIES.append((200, b"not json at all"))
    assert policy.act(HISTORY, TOOLS_LIST, 8).error
    REPLIES.append({"unexpected": "shape"})
    assert "KeyError" in policy.act(HISTORY, TOOLS_LIST, 8).error
    httpd.shutdown()
    httpd.server_close()
    turn = policy.act(HISTORY, TOOLS_LIST, 8)
    assert turn.error and not turn.calls


def test_an_endpoint_that_fails_ends_the_episode_as_policy_error(server, sample_data):
    url, _ = server
    task = load_tasks(sample_data)[0]
    REPLIES.append((503, b"overloaded"))
    episode = run_hrm(task, OpenAIPolicy(url, "tiny"), Budget())
    assert episode.stop_reason == "policy_error" and not episode.success and "503" in episode.why
