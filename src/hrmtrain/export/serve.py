"""`hrmtrain export serve`: the repository's ONNX models behind Triton's HTTP/REST inference protocol
(KServe v2, with Triton's binary-tensor extension), run by onnxruntime.

Why this exists: Triton does not run on the CPU development machines (the server bundled in
nvidia-pytriton has only the Python backend and needs numpy<2), and no ready server speaks Triton's
protocol over onnxruntime. This one reads the same repository Triton would, serves the versions
each `config.pbtxt` names, refuses a version whose files do not match its manifest, and answers
`tritonclient.http` as Triton does, so a client written against it works against Triton unchanged.
It is for smoke tests and laptops, not for production load: one onnxruntime session per version,
requests run as they come (no dynamic batching).

Endpoints: GET /v2/health/live, /v2/health/ready, /v2/models/{m}[/versions/{v}], .../ready;
POST /v2/models/{m}[/versions/{v}]/infer.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from hrmtrain.errors import HrmError
from hrmtrain.export.repository import CONFIG, Repository, RepositoryError, parse_config, served_versions

# KServe v2 datatype <-> numpy
DATATYPES = {"BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
             "UINT8": np.uint8, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}
NUMPY_TO_V2 = {np.dtype(v): k for k, v in DATATYPES.items()}
HEADER = "Inference-Header-Content-Length"


class InferError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ModelStore:
    """onnxruntime sessions of the served versions, loaded on first use."""

    def __init__(self, repo: Repository):
        self.repo = repo
        self.sessions: dict[tuple[str, int], object] = {}
        self.lock = threading.Lock()

    def served(self, model: str) -> list[int]:
        model_dir = self.repo.root / model
        if not (model_dir / CONFIG).is_file():
            raise InferError(404, f"unknown model '{model}'")
        cfg = parse_config(model_dir / CONFIG)
        if cfg.platform != "onnxruntime_onnx":
            raise InferError(400, f"model '{model}' is {cfg.platform or cfg.backend}: this server runs ONNX models only")
        return served_versions(model_dir)

    def session(self, model: str, version: int | None):
        from hrmtrain.export.onnx import session

        served = self.served(model)
        if not served:
            raise InferError(404, f"model '{model}' serves no version")
        version = max(served) if version is None else version
        if version not in served:
            raise InferError(404, f"version {version} of '{model}' is not served (config.pbtxt serves "
                                  f"{', '.join(map(str, served))})")
        key = (model, version)
        with self.lock:
            if key not in self.sessions:
                problems = self.repo.verify_version(model, version)
                if problems:
                    raise InferError(503, f"refusing to load version {version} of '{model}': {problems[0]}")
                self.sessions[key] = session(self.repo.root / model / str(version) / "model.onnx")
            return version, self.sessions[key]

    def metadata(self, model: str) -> dict:
        cfg = parse_config(self.repo.root / model / CONFIG)
        _, sess = self.session(model, None)

        def describe(values):
            return [{"name": v.name, "datatype": _v2_type(v.type),
                     "shape": [d if isinstance(d, int) else -1 for d in v.shape]} for v in values]

        return {"name": model, "versions": [str(v) for v in self.served(model)], "platform": cfg.platform,
                "inputs": describe(sess.get_inputs()), "outputs": describe(sess.get_outputs())}


def _v2_type(ort_type: str) -> str:
    return {"tensor(float)": "FP32", "tensor(int64)": "INT64", "tensor(int32)": "INT32", "tensor(float16)": "FP16",
            "tensor(bool)": "BOOL", "tensor(double)": "FP64", "tensor(uint8)": "UINT8"}.get(ort_type, ort_type)


def decode_request(body: bytes, header_length: int | None) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON part and the input arrays (JSON `data` or binary tensors appended after the JSON)."""
    head = body[:header_length] if header_length else body
    try:
        request = json.loads(head)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InferError(400, f"request is not valid JSON: {exc}") from exc
    offset = header_length or 0
    arrays = {}
    for spec in request.get("inputs", []):
        try:
            name, shape, dtype = spec["name"], [int(d) for d in spec["shape"]], DATATYPES[spec["datatype"]]
        except KeyError as exc:
            raise InferError(400, f"input needs name, shape and a known datatype ({exc})") from exc
        size = (spec.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            raw = body[offset: offset + int(size)]
            offset += int(size)
            arr = np.frombuffer(raw, dtype=dtype)
        else:
            arr = np.asarray(spec.get("data", []), dtype=dtype)
        try:
            arrays[name] = arr.reshape(shape)
        except ValueError as exc:
            raise InferError(400, f"input '{name}': {arr.size} values do not fill shape {shape}") from exc
    return request, arrays


def encode_response(model: str, version: int, request: dict, outputs: dict[str, np.ndarray]) -> tuple[bytes, int | None]:
    wanted = request.get("outputs") or [{"name": n} for n in outputs]
    binary_default = bool((request.get("parameters") or {}).get("binary_data_output", False))
    head, blobs = [], []
    for spec in wanted:
        name = spec["name"]
        if name not in outputs:
            raise InferError(400, f"model '{model}' has no output '{name}'")
        arr = np.ascontiguousarray(outputs[name])
        entry = {"name": name, "datatype": NUMPY_TO_V2[arr.dtype], "shape": list(arr.shape)}
        if (spec.get("parameters") or {}).get("binary_data", binary_default):
            blob = arr.tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = arr.ravel().tolist()
        head.append(entry)
    doc = json.dumps({"model_name": model, "model_version": str(version), "id": request.get("id", ""),
                      "outputs": head}).encode()
    return (doc + b"".join(blobs), len(doc)) if blobs else (doc, None)


INFER = re.compile(r"^/v2/models/([^/]+)(?:/versions/(\d+))?/infer$")
MODEL = re.compile(r"^/v2/models/([^/]+)(?:/versions/(\d+))?(/ready)?$")


def make_handler(store: ModelStore):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: tests and smoke runs read the answers, not the log
            pass

        def _send(self, status: int, body: bytes, header_length: int | None = None):
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream" if header_length else "application/json")
            if header_length is not None:
                self.send_header(HEADER, str(header_length))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str):
            self._send(status, json.dumps({"error": message}).encode())

        def do_GET(self):
            path = self.path.split("?")[0]
            if path in ("/v2/health/live", "/v2/health/ready"):
                return self._send(200, b"")
            if path == "/v2":
                return self._send(200, json.dumps({"name": "hrmtrain-onnxruntime", "version": "2",
                                                   "extensions": ["binary_tensor_data"]}).encode())
            m = MODEL.match(path)
            if not m:
                return self._error(404, f"no such endpoint {path}")
            try:
                if m.group(3):
                    store.session(m.group(1), int(m.group(2)) if m.group(2) else None)
                    return self._send(200, b"")
                return self._send(200, json.dumps(store.metadata(m.group(1))).encode())
            except (InferError, RepositoryError) as exc:
                return self._error(getattr(exc, "status", 400), str(exc))

        def do_POST(self):
            m = INFER.match(self.path.split("?")[0])
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not m:
                return self._error(404, f"no such endpoint {self.path}")
            try:
                model, version = m.group(1), int(m.group(2)) if m.group(2) else None
                version, sess = store.session(model, version)
                header = self.headers.get(HEADER)
                request, arrays = decode_request(body, int(header) if header else None)
                names = [i.name for i in sess.get_inputs()]
                missing = [n for n in names if n not in arrays]
                if missing:
                    raise InferError(400, f"model '{model}' needs input(s) {', '.join(missing)}")
                try:
                    values = sess.run(None, {n: arrays[n] for n in names})
                except Exception as exc:  # onnxruntime's own message names the input and the problem
                    raise InferError(400, f"onnxruntime: {str(exc).splitlines()[0]}") from exc
                outputs = dict(zip([o.name for o in sess.get_outputs()], values))
                payload, header_length = encode_response(model, version, request, outputs)
                return self._send(200, payload, header_length)
            except (InferError, RepositoryError) as exc:
                return self._error(getattr(exc, "status", 400), str(exc))

    return Handler


def make_server(repo: Repository, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    if not Path(repo.root).is_dir():
        raise HrmError(f"{repo.root}: no model repository here")
    return ThreadingHTTPServer((host, port), make_handler(ModelStore(repo)))


def serve(repo: Repository, host: str, port: int) -> None:
    server = make_server(repo, host, port)
    print(f"serving {repo.root.resolve()} over Triton's HTTP protocol (KServe v2) at http://{host}:{server.server_address[1]}"
          f"  (models: {', '.join(repo.models())})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
