"""A policy behind any OpenAI-compatible chat endpoint (vLLM, TensorRT-LLM, `transformers serve`, llama.cpp).

The request carries the household tools in the OpenAI `tools` field. Servers differ in what they
return for a tool call: structured `message.tool_calls` (vLLM with a tool parser), or the model's
raw Hermes text with `<tool_call>` blocks in `message.content` (servers without a parser); both are
read. A failed request (connection refused, timeout, HTTP error, a body that is not a chat
completion, a stream cut off or carrying an error) becomes an answer-less turn with `error` set,
never an exception: the episode records it. Streaming (`stream=True`) also times each request:
time to first token, gaps between chunks, end to end (the load sweep's figures).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

from hrmtrain.agent.policies import Call, Turn, parse_turn


def to_openai_messages(messages: list[dict]) -> list[dict]:
    """Our TRL-style messages (arguments as dicts) in the OpenAI wire format (arguments as JSON strings)."""
    out = []
    for i, m in enumerate(messages):
        m = dict(m)
        if m.get("tool_calls"):
            m["tool_calls"] = [{"id": f"call_{i}_{j}", "type": "function",
                                "function": {"name": c["function"]["name"],
                                             "arguments": json.dumps(c["function"]["arguments"], ensure_ascii=False)}}
                               for j, c in enumerate(m["tool_calls"])]
        if m["role"] == "tool":
            m.setdefault("tool_call_id", f"call_{i - 1}_0")
        out.append(m)
    return out


@dataclass
class RequestTiming:
    """One chat request as the client saw it (seconds from sending it)."""

    ok: bool
    e2e_s: float
    ttft_s: float | None = None  # first chunk carrying content or a tool call
    chunk_gaps_s: list[float] = field(default_factory=list)  # between content chunks after the first
    output_tokens: int = 0
    error: str = ""


def _turn(content: str, structured: list[dict], tokens: int) -> Turn:
    """A turn from a completion's text and its structured tool calls (if the server parsed any)."""
    if structured:
        calls = []
        for c in structured:
            fn = c.get("function", {})
            try:
                args = json.loads(fn.get("arguments") or "{}")
                calls.append(Call(fn.get("name", ""), args if isinstance(args, dict) else None,
                                  json.dumps(fn), "" if isinstance(args, dict) else "arguments are not an object"))
            except json.JSONDecodeError as exc:
                calls.append(Call(fn.get("name", ""), None, json.dumps(fn), f"arguments not JSON ({exc.msg})"))
        return Turn(content or "", calls, tokens=tokens)
    content, calls = parse_turn(content or "")
    return Turn(content, calls, tokens=tokens)


class OpenAIPolicy:
    """`stream=True` reads server-sent events and records a `RequestTiming` per request in `timings`."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", temperature: float = 0.0,
                 timeout_s: float = 60.0, stream: bool = False):
        import httpx

        key = os.environ.get(api_key_env, "")
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                   headers={"Authorization": f"Bearer {key}"} if key else {})
        self.model, self.temperature, self.stream = model, temperature, stream
        self.timings: list[RequestTiming] = []

    def act(self, messages, tools, max_new_tokens) -> Turn:
        body = {"model": self.model, "messages": to_openai_messages(messages), "max_tokens": max_new_tokens,
                "temperature": self.temperature}
        if tools:
            body["tools"] = tools
        return self._stream(body) if self.stream else self._complete(body)

    def _complete(self, body: dict) -> Turn:
        import httpx

        started = time.perf_counter()
        try:
            response = self.client.post("/chat/completions", json=body)
            response.raise_for_status()
            data = response.json()
            message = data["choices"][0]["message"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
            self.timings.append(RequestTiming(False, time.perf_counter() - started, error=error))
            return Turn("", [], tokens=0, error=error)
        tokens = int((data.get("usage") or {}).get("completion_tokens") or 0)
        self.timings.append(RequestTiming(True, time.perf_counter() - started, output_tokens=tokens))
        return _turn(message.get("content") or "", message.get("tool_calls") or [], tokens)

    def _stream(self, body: dict) -> Turn:
        timing, content, calls = stream_chat(self.client, body)
        self.timings.append(timing)
        if not timing.ok:
            return Turn("", [], tokens=0, error=timing.error)
        return _turn(content, calls, timing.output_tokens)


def timed_stream(client, path: str, body: dict, read_chunk) -> RequestTiming:
    """POST `body` to `path` with stream=True and read its server-sent events; `read_chunk(data)` takes each
    event's JSON and says whether it carried output (text or a tool call). Times the first such chunk
    (TTFT), the gaps between them and the end; the output tokens from the last chunk's usage, else the
    chunks counted. A failed request becomes a timing with `error` set."""
    import httpx

    started = time.perf_counter()
    timing = RequestTiming(False, 0.0)
    chunks, usage, last = 0, None, None
    try:
        with client.stream("POST", path, json={**body, "stream": True}) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                data = json.loads(payload)
                if "error" in data:
                    raise ValueError(f"server error in stream: {str(data['error'])[:200]}")
                usage = data.get("usage") or usage
                if read_chunk(data):
                    now = time.perf_counter() - started
                    if timing.ttft_s is None:
                        timing.ttft_s = now
                    elif last is not None:
                        timing.chunk_gaps_s.append(now - last)
                    last = now
                    chunks += 1
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        timing.e2e_s, timing.error = time.perf_counter() - started, f"{type(exc).__name__}: {str(exc)[:200]}"
        return timing
    timing.ok, timing.e2e_s = True, time.perf_counter() - started
    timing.output_tokens = int((usage or {}).get("completion_tokens") or chunks)
    return timing


def stream_chat(client, body: dict) -> tuple[RequestTiming, str, list[dict]]:
    """One streamed chat completion, timed: content deltas, tool-call deltas merged by index. Returns the
    timing, the text and the tool calls."""
    content, calls = [], {}

    def read(data: dict) -> bool:
        out = False
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = delta.get("content") or ""
            out = out or bool(piece or delta.get("tool_calls"))
            content.append(piece)
            for tc in delta.get("tool_calls") or []:
                slot = calls.setdefault(tc.get("index", len(calls)), {"function": {"name": "", "arguments": ""}})
                fn = tc.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
        return out

    timing = timed_stream(client, "/chat/completions", body, read)
    if not timing.ok:
        return timing, "", []
    return timing, "".join(content), [calls[i] for i in sorted(calls)]
