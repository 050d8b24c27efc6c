"""A policy behind any OpenAI-compatible chat endpoint (vLLM, TensorRT-LLM, `transformers serve`, llama.cpp).

The request carries the household tools in the OpenAI `tools` field. Servers differ in what they
return for a tool call: structured `message.tool_calls` (vLLM with a tool parser), or the model's
raw Hermes text with `<tool_call>` blocks in `message.content` (servers without a parser); both are
read. A failed request (connection refused, timeout, HTTP error, a body that is not a chat
completion) becomes an answer-less turn with `error` set, never an exception: the episode records it.
"""

from __future__ import annotations

import json
import os

from hrmtrain.eval.policies import Call, Turn, parse_turn


def _to_openai(messages: list[dict]) -> list[dict]:
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


class OpenAIPolicy:
    name = "openai"

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", temperature: float = 0.0,
                 timeout_s: float = 60.0):
        import httpx

        key = os.environ.get(api_key_env, "")
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                   headers={"Authorization": f"Bearer {key}"} if key else {})
        self.model, self.temperature = model, temperature

    def act(self, messages, tools, max_new_tokens) -> Turn:
        import httpx

        body = {"model": self.model, "messages": _to_openai(messages), "tools": tools,
                "max_tokens": max_new_tokens, "temperature": self.temperature}
        try:
            response = self.client.post("/chat/completions", json=body)
            response.raise_for_status()
            data = response.json()
            message = data["choices"][0]["message"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            return Turn("", [], tokens=0, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        tokens = int((data.get("usage") or {}).get("completion_tokens") or 0)
        structured = message.get("tool_calls") or []
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
            return Turn(message.get("content") or "", calls, tokens=tokens)
        content, calls = parse_turn(message.get("content") or "")
        return Turn(content, calls, tokens=tokens)
