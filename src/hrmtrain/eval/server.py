"""A local OpenAI-compatible server for a model folder: `transformers serve`, on 127.0.0.1, for the load sweep.

`transformers serve MODEL_DIR` pins the model and loads it before opening the port, so the first
200 from `GET /health` means it is ready (measured: ~12 s for the tiny model on 2 CPU cores). It is
one process (its resident memory is the server's memory) that logs every request: the log goes to
a file beside the results. Without `--continuous-batching` it serves one request at a time; with it
on the CPU, give the `--cb-*` sizes explicitly (its default KV cache took 5.4 GB here).
Clients must send the model folder, exactly as given on the command line, as `model`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from hrmtrain.errors import HrmError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServedModel:
    """`with ServedModel(path, log) as server:` -> server.base_url, server.model, server.pid."""

    def __init__(self, model_dir: str | Path, log_path: str | Path, device: str = "cpu",
                 extra_args: list[str] | tuple[str, ...] = (), startup_timeout_s: float = 300.0,
                 host: str = "127.0.0.1"):
        self.model = str(Path(model_dir).resolve())
        self.log_path, self.host = Path(log_path), host
        self.device, self.extra_args, self.startup_timeout_s = device, list(extra_args), startup_timeout_s
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def start(self) -> "ServedModel":
        import httpx

        if not (Path(self.model) / "config.json").is_file():
            raise HrmError(f"{self.model}: not a model folder (no config.json); nothing to serve")
        self.port = free_port(self.host)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "transformers.cli.transformers", "serve", self.model, "--host", self.host,
               "--port", str(self.port), "--device", self.device, *self.extra_args]
        env = {**os.environ, "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HrmError(f"`transformers serve {self.model}` exited with {self.proc.returncode} before it was "
                               f"ready (log {self.log_path}):\n{self._log_tail()}")
            try:
                if httpx.get(f"http://{self.host}:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise HrmError(f"`transformers serve {self.model}` was not ready after {self.startup_timeout_s:.0f} s "
                       f"(log {self.log_path}):\n{self._log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "ServedModel":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
