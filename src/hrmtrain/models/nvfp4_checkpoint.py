"""The deployable NVFP4 checkpoint: NVIDIA ModelOpt's `export_hf_checkpoint` of the trained L-Module,
the format TensorRT-LLM and vLLM load (`quantization_config.quant_method = "modelopt"`,
`hf_quant_config.json`), and a reader that turns it back into an ordinary transformers model.

Written with `mtq.NVFP4_DEFAULT_CFG` (W4A4: NVFP4 weights and activations, what Blackwell's FP4
tensor cores multiply; calibrated on validation sequences) or `W4A16_NVFP4_CFG` (weights only).
Per quantized Linear the checkpoint holds `weight` (uint8, two E2M1 codes per byte, element 2i in
the low nibble), `weight_scale` (float8_e4m3fn per block of 16), `weight_scale_2` (FP32 per tensor;
shared by q/k/v and by gate/up, as the fused kernels need) and, W4A4, `input_scale` (FP32).

Measured with nvidia-modelopt 0.47.0, torch 2.13 (CPU), transformers 5.24: quantize, calibrate and
export run on the CPU (calibration runs unquantized, so no CUDA kernel is needed); a forward
through ModelOpt's quantized model would need CUDA, so the check here reloads the file instead.
transformers has no "modelopt" quantizer: `from_pretrained` refuses the packed weights (and with
`ignore_mismatched_sizes=True` silently re-initialises them), hence `load_nvfp4_checkpoint`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from hrmtrain import atomic
from hrmtrain.errors import HrmError
from hrmtrain.models.nvfp4 import BLOCK, E2M1_GRID, E2M1_MAX, E4M3_MAX, round_e2m1

SUBDIR = "nvfp4"  # runs/<name>/nvfp4/
# E2M1 code -> value: bit 3 the sign, bits 0-2 the index on the grid
E2M1_VALUES = torch.cat([E2M1_GRID, -E2M1_GRID])


def modelopt_missing() -> str | None:
    """Why ModelOpt cannot be used here, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "transformers X is not tested with current version of modelopt"
            import modelopt.torch.export  # noqa: F401
            import modelopt.torch.quantization  # noqa: F401
    except ImportError as exc:
        return f"nvidia-modelopt is not installed or incomplete ({exc}); pip install 'hrmtrain[nvfp4]'"
    return None


def write_nvfp4_checkpoint(model_dir: Path, out_dir: Path, calibration: list[torch.Tensor],
                           weight_only: bool = False) -> dict:
    """Quantize the saved model in `model_dir` with ModelOpt and export it to `out_dir` (atomically),
    with the tokenizer; returns what was written (also in `out_dir/nvfp4_manifest.json`)."""
    why = modelopt_missing()
    if why:
        raise HrmError(f"cannot write the NVFP4 checkpoint: {why}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import modelopt
        import modelopt.torch.quantization as mtq
        from modelopt.torch.export import export_hf_checkpoint
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    if not getattr(model.config, "architectures", None):  # export needs it to name the architecture
        model.config.architectures = [type(model).__name__]
    config = mtq.W4A16_NVFP4_CFG if weight_only else mtq.NVFP4_DEFAULT_CFG

    def calibrate(m):
        with torch.no_grad():
            for ids in calibration:
                m(input_ids=ids)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mtq.quantize(model, config, forward_loop=None if weight_only else calibrate)
    with atomic.staged_dir(out_dir, replace=True) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_hf_checkpoint(model, export_dir=tmp)
        for f in tmp.glob("*.safetensors"):
            atomic.usual_mode(f, directory=False)  # ModelOpt writes 0600
        AutoTokenizer.from_pretrained(model_dir).save_pretrained(tmp)
        quant = json.loads((tmp / "hf_quant_config.json").read_text())["quantization"]
        manifest = {"format": "modelopt hf checkpoint", "quant_algo": quant["quant_algo"],
                    "group_size": quant.get("group_size"), "exclude_modules": quant.get("exclude_modules"),
                    "calibration_sequences": 0 if weight_only else len(calibration),
                    "modelopt_version": modelopt.__version__, "torch_version": torch.__version__,
                    "source_model": str(model_dir)}
        atomic.write_json(tmp / "nvfp4_manifest.json", manifest)
    return manifest


def unpack_e2m1(packed: torch.Tensor) -> torch.Tensor:
    """uint8 [..., K/2] -> float [..., K]; element 2i is the low nibble, 2i+1 the high one."""
    lo, hi = (packed & 0x0F).long(), (packed >> 4).long()
    return torch.stack([E2M1_VALUES[lo], E2M1_VALUES[hi]], dim=-1).reshape(*packed.shape[:-1], -1)


def dequantize_weight(packed: torch.Tensor, block_scale: torch.Tensor, tensor_scale: torch.Tensor) -> torch.Tensor:
    values = unpack_e2m1(packed)
    out, k = values.shape
    scale = block_scale.float() * tensor_scale.float()
    return (values.view(out, k // BLOCK, BLOCK) * scale.unsqueeze(-1)).view(out, k)


def fake_quantize_input(x: torch.Tensor, tensor_scale: torch.Tensor) -> torch.Tensor:
    """NVFP4 quantize-dequantize of an activation with the checkpoint's calibrated `input_scale`,
    as ModelOpt's quantizer does it (block scale = block amax / (6 x input_scale), to E4M3)."""
    shape = x.shape
    xb = x.float().reshape(-1, shape[-1] // BLOCK, BLOCK)
    block = xb.abs().amax(-1) / (E2M1_MAX * tensor_scale)
    block = torch.where(block == 0, torch.ones_like(block), block)
    block = block.clamp(2.0**-9, E4M3_MAX).to(torch.float8_e4m3fn).float()
    scale = (block * tensor_scale).unsqueeze(-1)
    return (round_e2m1((xb / scale).clamp(-E2M1_MAX, E2M1_MAX)) * scale).reshape(shape).to(x.dtype)


def load_nvfp4_checkpoint(path: Path, simulate_activations: bool = True):
    """The checkpoint as a float32 transformers model: packed weights dequantized exactly; with
    `simulate_activations`, each quantized Linear's input NVFP4-rounded with its `input_scale` (W4A4),
    so the model computes what the deployed one does, up to the FP4 GEMM's accumulation order."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    files = sorted(path.glob("*.safetensors"))
    if not (path / "config.json").is_file() or not files:
        raise HrmError(f"{path}: not a ModelOpt checkpoint (needs config.json and *.safetensors)")
    raw = json.loads((path / "config.json").read_text())
    if raw.get("quantization_config", {}).get("quant_method") != "modelopt":
        raise HrmError(f"{path / 'config.json'}: quantization_config.quant_method is not 'modelopt'")
    state = {}
    for f in files:
        state.update(load_file(f))
    config = AutoConfig.from_pretrained(path)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    quantized = sorted(k[: -len(".weight_scale_2")] for k in state if k.endswith(".weight_scale_2"))
    weights = {k: v for k, v in state.items() if not k.endswith(("_scale", "_scale_2"))}
    for name in quantized:
        weights[f"{name}.weight"] = dequantize_weight(state[f"{name}.weight"], state[f"{name}.weight_scale"],
                                                      state[f"{name}.weight_scale_2"])
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise HrmError(f"{path}: checkpoint does not match {type(model).__name__} "
                       f"(missing {sorted(set(missing) - tied)[:5]}, unexpected {sorted(unexpected)[:5]})")
    model.tie_weights()
    if simulate_activations:
        for name in quantized:
            if f"{name}.input_scale" in state:
                scale = state[f"{name}.input_scale"].float()
                model.get_submodule(name).register_forward_pre_hook(
                    lambda _m, args, s=scale: (fake_quantize_input(args[0], s), *args[1:]))
    return model.eval()
