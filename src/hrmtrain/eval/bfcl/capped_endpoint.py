"""A proxy on 127.0.0.1 between BFCL and the model server that caps how many tokens an answer may take.

BFCL's open-weights handlers ask for up to 4,096 new tokens per entry (its leaderboard runs on GPUs, where
that is seconds). On a CPU, an answer that never stops (a model repeating itself) then takes minutes: one
entry of a fine-tuned SmolLM2 ran over 8 minutes on 2 cores. A tool call takes well under 200 tokens, so
`eval.bfcl.max_new_tokens` (512) keeps every answer that could score while bounding the ones that cannot.
Everything else passes through unchanged; the results record the cap and how many answers reached it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hrmtrain.eval.server import free_port


class CappedEndpoint:
    """`with CappedEndpoint("http://127.0.0.1:8000", 512) as proxy:` -> proxy.host, proxy.port, proxy.capped."""

    def __init__(self, upstream: str, max_new_tokens: int | None, host: str = "127.0.0.1"):
        self.upstream, self.cap, self.host = upstream.rstrip("/"), max_new_tokens, host
        self.port = 0
        self.requests = 0
        self.capped = 0  # requests whose max_tokens was lowered to the cap
        self.cut = 0  # answers that stopped at the cap (finish_reason "length")
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def _handler(self):
        import httpx

        proxy = self
        client = httpx.Client(base_url=self.upstream, timeout=None)

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, response) -> None:
                self.send_response(response.status_code)
                self.send_header("Content-Type", response.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            def do_GET(self):  # noqa: N802
                self._reply(client.get(self.path))

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = None
                lowered = False
                if isinstance(data, dict) and proxy.cap is not None:
                    asked = data.get("max_tokens")
                    if asked is None or int(asked) > proxy.cap:
                        data["max_tokens"], lowered = proxy.cap, True
                    body = json.dumps(data).encode()
                response = client.post(self.path, content=body, headers={"Content-Type": "application/json"})
                cut = False
                try:
                    cut = any(c.get("finish_reason") == "length" for c in response.json().get("choices", []))
                except (ValueError, AttributeError):
                    pass
                with proxy._lock:
                    proxy.requests += 1
                    proxy.capped += lowered
                    proxy.cut += cut and lowered
                self._reply(response)

            def log_message(self, *args):
                pass

        return Handler, client

    def __enter__(self) -> "CappedEndpoint":
        handler, self._client = self._handler()
        self.port = free_port(self.host)
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._client.close()

    def summary(self) -> dict:
        return {"max_new_tokens": self.cap, "requests": self.requests, "capped": self.capped,
                "stopped_at_cap": self.cut}
