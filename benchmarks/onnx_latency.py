"""Latency of the exported models: onnxruntime against PyTorch eager, same inputs, same threads, one process.

    python benchmarks/onnx_latency.py [--repeats 7] [--batches 1,8] [--lengths 16,64,256] [--threads N]
                                      [--model PATH] [--json FILE]

Models, as `hrmtrain export` writes them (export/onnx.py):
- `lmodule`: the L-Module with past key values (the tiny Qwen3 from its config, or `--model` folder);
  `prefill` runs L tokens with an empty past, `decode` one new token after a past of L tokens;
- `embedder`: all-MiniLM-L6-v2 with pooling and normalisation (sentence-transformers pipeline);
- `reranker`: the same MiniLM as a cross-encoder (fresh head: latency does not depend on the weights).

Each case (model, phase, batch, length) is timed with PyTorch eager (fp32, `torch.inference_mode`, the
very module that was exported) and with an onnxruntime CPU session of the exported graph, both with
`--threads` intra-op threads. The two variants alternate within each round; each time is the median
of `--repeats` rounds after two warm-up calls. The ratio is PyTorch ms / onnxruntime ms (above 1:
onnxruntime is faster). The last line: `onnxruntime vs PyTorch eager: median X.XXx (min A.AAx, max
B.BBx) over N cases`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def lm_cases(model_dir: Path, tmp: Path, batches, lengths):
    import numpy as np
    import torch

    from hrmtrain.export import onnx as ox

    ox.export_lmodule(model_dir, tmp / "lm.onnx", 20)
    model = ox.load_causal_lm(model_dir)
    module = ox.KVDecoder(model).eval()
    config = model.config
    heads, head_dim = ox.kv_shape(config)
    layers = config.num_hidden_layers
    rng = np.random.default_rng(0)
    cases = []
    for b in batches:
        for n in lengths:
            for phase in ("prefill", "decode"):
                new, past = (n, 0) if phase == "prefill" else (1, n)
                ids = rng.integers(0, config.vocab_size, (b, new), dtype=np.int64)
                mask = np.ones((b, past + new), np.int64)
                pos = np.arange(past, past + new, dtype=np.int64)[None].repeat(b, 0)
                kv = [rng.standard_normal((b, heads, past, head_dim), dtype=np.float32) for _ in range(2 * layers)]
                cases.append(({"model": "lmodule", "phase": phase, "batch": b, "length": n},
                              [ids, mask, pos, *kv]))
    return "lm.onnx", module, cases


def encoder_cases(kind: str, tmp: Path, batches, lengths):
    import numpy as np

    from hrmtrain.export import onnx as ox
    from hrmtrain.retrieval.embed import default_embedder

    base = Path(default_embedder())
    if kind == "embedder":
        ox.export_embedder(base, tmp / "embedder.onnx", 20)
        module = ox.SentenceEmbedding(ox.load_embedder(base)).eval()
    else:
        from sentence_transformers import CrossEncoder

        CrossEncoder(str(base), num_labels=1).save(str(tmp / "ce"))
        ox.export_reranker(tmp / "ce", tmp / "reranker.onnx", 20)
        module = ox.CrossEncoderLogits(ox.load_reranker(tmp / "ce").model.eval())
    rng = np.random.default_rng(1)
    cases = []
    for b in batches:
        for n in lengths:
            ids = rng.integers(1000, 20000, (b, n), dtype=np.int64)
            cases.append(({"model": kind, "phase": "forward", "batch": b, "length": n},
                          [ids, np.ones((b, n), np.int64), np.zeros((b, n), np.int64)]))
    return f"{kind}.onnx", module, cases


def measure(onnx_file: Path, module, cases, repeats: int, threads: int) -> list[dict]:
    import torch

    from hrmtrain.export import onnx as ox

    sess = ox.session(onnx_file, threads=threads)
    names = [i.name for i in sess.get_inputs()]
    rows = []
    for info, arrays in cases:
        tensors = [torch.from_numpy(a) for a in arrays]
        feeds = dict(zip(names, arrays))

        def run_torch():
            with torch.inference_mode():
                module(*tensors)

        def run_ort():
            sess.run(None, feeds)

        for fn in (run_torch, run_ort, run_torch, run_ort):  # warm-up, both
            fn()
        samples = {"pytorch": [], "onnxruntime": []}
        for _ in range(repeats):
            for name, fn in (("pytorch", run_torch), ("onnxruntime", run_ort)):
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
        pt, ort = median_ms(samples["pytorch"]), median_ms(samples["onnxruntime"])
        rows.append({**info, "pytorch_ms": round(pt, 3), "onnxruntime_ms": round(ort, 3), "ratio": round(pt / ort, 3)})
        print(f"{info['model']:<9}{info['phase']:<8} batch {info['batch']:>2}  length {info['length']:>4}  "
              f"PyTorch {pt:8.2f} ms  onnxruntime {ort:8.2f} ms  ratio {pt / ort:5.2f}x", flush=True)
    return rows


def tiny_model(tmp: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    from hrmtrain.config import compose
    from hrmtrain.models.base import ModelSource, load_tokenizer, tiny_config

    tok = load_tokenizer(ModelSource("tiny", None))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(compose([]).model.tiny, tok))
    model.save_pretrained(tmp / "tiny")
    tok.save_pretrained(tmp / "tiny")
    return tmp / "tiny"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--lengths", default="16,64,256")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--models", default="lmodule,embedder,reranker")
    ap.add_argument("--model", help="L-Module folder (default: the built-in tiny Qwen3, random init)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    import logging

    for name in ("onnx_ir", "onnxscript", "torch.onnx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import onnxruntime
    import torch

    torch.set_num_threads(args.threads)
    batches = [int(x) for x in args.batches.split(",")]
    lengths = [int(x) for x in args.lengths.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for kind in args.models.split(","):
            if kind == "lmodule":
                onnx_name, module, cases = lm_cases(Path(args.model) if args.model else tiny_model(tmp), tmp, batches, lengths)
            else:
                onnx_name, module, cases = encoder_cases(kind, tmp, batches, lengths)
            rows += measure(tmp / onnx_name, module, cases, args.repeats, args.threads)
    ratios = [r["ratio"] for r in rows]
    result = {"rows": rows, "repeats": args.repeats, "threads": args.threads, "torch": torch.__version__,
              "onnxruntime": onnxruntime.__version__, "cpu_count": os.cpu_count(),
              "median_ratio": round(statistics.median(ratios), 3)}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"onnxruntime vs PyTorch eager: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x) over {len(ratios)} cases")


if __name__ == "__main__":
    main()
