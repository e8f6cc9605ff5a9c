"""LoRA adapters are checksummed like model artifacts: save_adapter returns the folder's checksum,
the registry keeps it, and the production adapter is verified before it is served (a changed file is
refused by name with the fix). The adapter here is a real peft LoRA of a tiny randomly initialised
Llama, so the test needs no model download and no LLM decoding."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from chatrec.llm.finetune import KIND, production_adapter, registry_name, save_adapter
from chatrec.models.artifacts import ArtifactError, tree_sha256
from chatrec.settings import Settings


def tiny_adapter(target: Path) -> str:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2)  # fmt: skip
    peft_model = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    return save_adapter(peft_model, target, {"model_id": "tiny@1"})


def register(con: duckdb.DuckDBPyConnection, settings: Settings, folder: Path, checksum: str | None) -> None:
    con.execute(
        "INSERT INTO models.registry (model_id, name, kind, version, params, fingerprint, artifact_path,"
        " artifact_sha256, status) VALUES (?, ?, ?, 1, ?, 'f', ?, ?, 'production')",
        [f"{registry_name(settings.llm_model)}@1", registry_name(settings.llm_model), KIND,
         json.dumps({"llm_model": settings.llm_model}), str(folder), checksum],
    )  # fmt: skip


def test_a_changed_adapter_is_refused_by_name_and_an_intact_one_is_served(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path
) -> None:
    folder = settings.artifacts_dir / "llm-adapters" / "tiny-v1"
    checksum = tiny_adapter(folder)
    assert checksum == tree_sha256(folder) and (folder / "adapter_model.safetensors").is_file()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging folder left
    register(warehouse, settings, folder, checksum)
    assert production_adapter(settings, warehouse) == folder

    weights = folder / "adapter_model.safetensors"
    original = weights.read_bytes()
    flipped = bytearray(original)
    flipped[-1] ^= 0xFF
    weights.write_bytes(bytes(flipped))
    with pytest.raises(ArtifactError, match=r"LLM adapter .*@1: its folder .*tiny-v1 changed since it was registered"):
        production_adapter(settings, warehouse)
    weights.write_bytes(original)
    (folder / "extra.bin").write_bytes(b"x")  # an added file changes the folder too
    with pytest.raises(ArtifactError, match="Delete the folder to serve the untuned model"):
        production_adapter(settings, warehouse)
    (folder / "extra.bin").unlink()
    assert production_adapter(settings, warehouse) == folder


def test_an_adapter_registered_before_checksums_is_served_with_a_warning(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    folder = settings.artifacts_dir / "llm-adapters" / "old-v1"
    tiny_adapter(folder)
    register(warehouse, settings, folder, None)
    with caplog.at_level(logging.WARNING, logger="chatrec.llm.finetune"):
        assert production_adapter(settings, warehouse) == folder
    assert "registered without a checksum: loaded unverified" in caplog.text
