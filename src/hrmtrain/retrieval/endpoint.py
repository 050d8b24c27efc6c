"""A plain chat-completion client for an OpenAI-compatible endpoint: the judge's and the query teacher's.

(The evaluation's OpenAIPolicy speaks tool calls and streams; these two only need one short answer.)
"""

from __future__ import annotations

import os


class EndpointError(Exception):
    """The endpoint could not be used (connection, HTTP status, a body that is not a chat completion)."""


class ChatEndpoint:
    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 60.0,
                 max_tokens: int = 8):
        import httpx

        key = os.environ.get(api_key_env, "")  # the key is read from the environment, never the config
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                   headers={"Authorization": f"Bearer {key}"} if key else {})
        self.model, self.max_tokens, self.base_url = model, max_tokens, base_url

    @classmethod
    def from_config(cls, endpoint, max_tokens: int):
        return cls(endpoint.base_url, endpoint.model or "default", endpoint.api_key_env, endpoint.timeout_s, max_tokens)

    def ask(self, prompt: str) -> str:
        import httpx

        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.0,
                "max_tokens": self.max_tokens}
        try:
            r = self.client.post("/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise EndpointError(f"{self.base_url}: {type(exc).__name__}: {exc}") from None
        if r.status_code != 200:
            raise EndpointError(f"{self.base_url}: HTTP {r.status_code}: {r.text[:200]}")
        try:
            return r.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise EndpointError(f"{self.base_url}: not a chat completion: {r.text[:200]}") from None
