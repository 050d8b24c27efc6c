"""TensorRT engines from the exported ONNX graphs, with the TensorRT Python API or `trtexec`.

Each dynamic input gets one optimisation profile built from the graph's own dimension names
(`batch`, `sequence`, `past_sequence`, `total_sequence` = sequence + past) and the min/opt/max sizes in
`export.tensorrt.*`. Precision flags: bf16, fp16, fp8, nvfp4 (TensorRT's FP4 flag; TensorRT >= 10.8).
FP8 and NVFP4 run only the layers the ONNX graph marks with Q/DQ nodes (explicit quantization);
the graph exported from the fp32 model has none, so those flags alone build a bf16/fp32 engine, and
the result says so. The NVFP4 model meant for serving is ModelOpt's checkpoint (models/nvfp4_checkpoint.py),
which TensorRT-LLM and vLLM load.

TensorRT needs an NVIDIA GPU and NVIDIA's own package index: it cannot install or run on the CPU
development machines, so this module is exercised by tests only where both exist
(tests/export/test_export_tensorrt.py skips elsewhere, saying why).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hrmtrain.errors import HrmError

PLAN_FILE = "model.plan"
PRECISIONS = ("fp32", "bf16", "fp16", "fp8", "nvfp4")


class EngineError(HrmError):
    """TensorRT could not parse the graph or build the engine; the message names the file."""


def cuda_gpu_count() -> int:
    """GPUs the CUDA driver sees; 0 without a driver. Works beside a CPU-only torch."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def tensorrt_missing(builder: str = "python") -> str | None:
    """Why no engine can be built here, or None."""
    if cuda_gpu_count() == 0:
        return "no NVIDIA GPU (the CUDA driver, libcuda.so.1, finds none): TensorRT engines are built on the GPU they run on"
    if builder == "trtexec":
        return None if shutil.which("trtexec") else "trtexec is not on PATH (it ships with TensorRT's tar/deb packages)"
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return ("the tensorrt Python package is not installed "
                "(pip install tensorrt --extra-index-url https://pypi.nvidia.com)")
    return None


@dataclass
class Profile:
    """min/opt/max of each named dynamic dimension."""

    dims: dict[str, tuple[int, int, int]]

    @classmethod
    def from_config(cls, tcfg) -> "Profile":
        b, s, p = tuple(tcfg.batch), tuple(tcfg.sequence), tuple(tcfg.past_sequence)
        for name, triple in (("batch", b), ("sequence", s), ("past_sequence", p)):
            if len(triple) != 3 or not triple[0] <= triple[1] <= triple[2] or triple[0] < 0:
                raise EngineError(f"export.tensorrt.{name} must be [min, opt, max] with min <= opt <= max, got {list(triple)}")
        return cls({"batch": b, "sequence": s, "past_sequence": p,
                    "total_sequence": tuple(x + y for x, y in zip(s, p))})

    def shapes(self, onnx_path: Path) -> dict[str, tuple[tuple, tuple, tuple]]:
        """(min, opt, max) shape of each graph input with a dynamic dimension."""
        import onnx

        graph = onnx.load(str(onnx_path), load_external_data=False).graph
        inits = {i.name for i in graph.initializer}
        out = {}
        for value in graph.input:
            if value.name in inits:
                continue
            dims = value.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                continue
            triple = []
            for k in range(3):
                shape = []
                for d in dims:
                    if d.HasField("dim_value"):
                        shape.append(d.dim_value)
                    elif d.dim_param in self.dims:
                        shape.append(self.dims[d.dim_param][k])
                    else:
                        raise EngineError(f"{onnx_path}: input {value.name} has a dynamic dimension "
                                          f"{d.dim_param!r} without a size in export.tensorrt")
                triple.append(tuple(shape))
            out[value.name] = tuple(triple)
        return out


def has_qdq(onnx_path: Path) -> bool:
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node)


def _note(precision: str, onnx_path: Path) -> str | None:
    if precision in ("fp8", "nvfp4") and not has_qdq(onnx_path):
        return (f"{precision}: the graph has no Q/DQ nodes, so TensorRT kept every layer in higher precision; "
                "serve the ModelOpt NVFP4 checkpoint with TensorRT-LLM or vLLM for FP4 weights")
    return None


def build_engine_python(onnx_path: Path, plan_path: Path, precision: str, profile: Profile,
                        workspace_gib: float) -> dict:
    """Parse the ONNX file, add the optimisation profile, set the precision flag, serialise the engine."""
    import tensorrt as trt

    started = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):  # reads model.onnx.data beside it as well
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"{onnx_path}: TensorRT's ONNX parser failed: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    flags = {"bf16": ["BF16"], "fp16": ["FP16"], "fp8": ["FP8", "BF16"], "nvfp4": ["FP4", "FP8", "BF16"]}
    for flag in flags.get(precision, []):
        if not hasattr(trt.BuilderFlag, flag):
            raise EngineError(f"TensorRT {trt.__version__} has no {flag} builder flag (export.tensorrt.precision={precision})")
        config.set_flag(getattr(trt.BuilderFlag, flag))
    opt = builder.create_optimization_profile()
    for name, (lo, mid, hi) in profile.shapes(onnx_path).items():
        opt.set_shape(name, lo, mid, hi)
    config.add_optimization_profile(opt)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(f"{onnx_path}: TensorRT could not build an engine (see its log above)")
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_bytes(bytes(serialized))
    return {"builder": "python", "tensorrt_version": trt.__version__, "precision": precision,
            "profile": {k: [list(s) for s in v] for k, v in profile.shapes(onnx_path).items()},
            "seconds": round(time.perf_counter() - started, 1), "note": _note(precision, onnx_path)}


def trtexec_command(onnx_path: Path, plan_path: Path, precision: str, profile: Profile, workspace_gib: float) -> list[str]:
    shapes = profile.shapes(onnx_path)

    def arg(k: int) -> str:
        return ",".join(f"{name}:{'x'.join(map(str, triple[k]))}" for name, triple in shapes.items())

    cmd = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={plan_path}",
           f"--memPoolSize=workspace:{int(workspace_gib * 1024)}M"]
    if shapes:
        cmd += [f"--minShapes={arg(0)}", f"--optShapes={arg(1)}", f"--maxShapes={arg(2)}"]
    cmd += {"fp32": [], "bf16": ["--bf16"], "fp16": ["--fp16"], "fp8": ["--fp8", "--bf16"],
            "nvfp4": ["--fp4", "--fp8", "--bf16"]}[precision]
    return cmd


def build_engine_trtexec(onnx_path: Path, plan_path: Path, precision: str, profile: Profile,
                         workspace_gib: float) -> dict:
    started = time.perf_counter()
    cmd = trtexec_command(onnx_path, plan_path, precision, profile, workspace_gib)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not plan_path.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise EngineError(f"{onnx_path}: trtexec failed (exit {proc.returncode}):\n{tail}")
    return {"builder": "trtexec", "command": " ".join(cmd), "precision": precision,
            "seconds": round(time.perf_counter() - started, 1), "note": _note(precision, onnx_path)}


def build_engine(onnx_path: Path, plan_path: Path, tcfg) -> dict:
    if tcfg.precision not in PRECISIONS:
        raise EngineError(f"export.tensorrt.precision={tcfg.precision}: choose one of {', '.join(PRECISIONS)}")
    profile = Profile.from_config(tcfg)
    build = build_engine_trtexec if tcfg.builder == "trtexec" else build_engine_python
    return build(onnx_path, plan_path, tcfg.precision, profile, tcfg.workspace_gib)


def run_engine(plan_path: Path, feeds: dict) -> dict:
    """Run a serialized engine once on the GPU: numpy inputs in, numpy outputs out. Needs a CUDA torch
    (its tensors hold the device buffers, so no pycuda/cuda-python is needed)."""
    import numpy as np
    import tensorrt as trt
    import torch

    if not torch.cuda.is_available():
        raise EngineError(f"{plan_path}: running an engine needs a CUDA build of torch (this one is {torch.__version__})")
    logger = trt.Logger(trt.Logger.WARNING)
    engine = trt.Runtime(logger).deserialize_cuda_engine(Path(plan_path).read_bytes())
    if engine is None:
        raise EngineError(f"{plan_path}: TensorRT cannot deserialize this engine (built by another TensorRT or GPU?)")
    context = engine.create_execution_context()
    keep = []
    for name, array in feeds.items():
        t = torch.from_numpy(np.ascontiguousarray(array)).cuda()
        keep.append(t)
        context.set_input_shape(name, tuple(t.shape))
        context.set_tensor_address(name, t.data_ptr())
    outputs = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        if engine.get_tensor_mode(name) != trt.TensorIOMode.OUTPUT:
            continue
        dtype = {trt.float32: torch.float32, trt.float16: torch.float16, trt.bfloat16: torch.bfloat16,
                 trt.int64: torch.int64, trt.int32: torch.int32}[engine.get_tensor_dtype(name)]
        buf = torch.empty(tuple(context.get_tensor_shape(name)), dtype=dtype, device="cuda")
        context.set_tensor_address(name, buf.data_ptr())
        outputs[name] = buf
    stream = torch.cuda.Stream()
    if not context.execute_async_v3(stream.cuda_stream):
        raise EngineError(f"{plan_path}: TensorRT failed to run the engine")
    stream.synchronize()
    return {k: v.float().cpu().numpy() for k, v in outputs.items()}
