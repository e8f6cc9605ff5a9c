"""LoRA fine-tuning of the LLM ranker: leakage-free examples, a real tiny CPU fine-tune of the
packaged SmolLM2 on MovieLens 100K, registry reuse, and loading the adapter into a backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from chatrec.data.frames import interactions_frame, items_frame, users_frame
from chatrec.evaluation.splitting import temporal_split
from chatrec.llm import make_backend
from chatrec.llm.backends.base import LLMError
from chatrec.llm.backends.transformers_backend import TransformersBackend
from chatrec.llm.context import Catalogue
from chatrec.llm.finetune import (
    attach_lora,
    auc,
    build_examples,
    detach_lora,
    finetune_llm_ranker,
    production_adapter,
    train_adapter,
)
from chatrec.llm.prompts import PromptBuilder
from chatrec.models.artifacts import tree_sha256
from chatrec.models.training import set_status
from chatrec.settings import Settings
from tests.conftest import TEST_CACHE


def weights_checksum(backend: TransformersBackend) -> float:
    return float(sum(p.detach().double().sum() for p in backend.model.parameters()))


def test_examples_see_only_the_past_and_are_balanced(smollm2: TransformersBackend, ml100k_warehouse) -> None:
    interactions = interactions_frame(ml100k_warehouse)
    items = items_frame(ml100k_warehouse)
    train, _ = temporal_split(interactions, 0.1)
    examples = build_examples(train, items, users_frame(ml100k_warehouse), PromptBuilder(smollm2.count_tokens, 1024),
                              n=40, seed=7)  # fmt: skip
    assert len(examples) == 40 and sum(e.label for e in examples) == 20
    assert any(e.source == "unseen" for e in examples) and any(e.source == "rated" and not e.label for e in examples)
    catalogue = Catalogue(items)
    by_user = train.partition_by("user_id", as_dict=True)
    for example in examples:
        rows = by_user[(example.user_id,)]
        before = rows.filter(pl.col("ts") < example.target_ts)
        assert example.history_last_ts is not None and example.history_last_ts < example.target_ts
        assert example.history_size == before.height >= 5
        prompt = example.chat[1]["content"]
        # the profile line counts only the earlier ratings, and every listed movie was rated earlier
        assert f", {before.height} ratings" in prompt
        past_lines = {catalogue[i].line(with_description=False) for i in before["item_id"]}
        listed = [line[2:].rsplit(": ", 1)[0] for line in prompt.splitlines() if line.startswith("- ")]
        assert listed and set(listed) <= past_lines
        rating = rows.filter(pl.col("item_id") == example.item_id)["rating"].to_list()
        if example.source == "unseen":
            assert rating == [] and not example.label  # never rated by this user, at any time
        else:
            assert example.label == (rating[0] >= 4) and example.item_id not in set(before["item_id"])
        assert prompt.endswith("Will this user enjoy the candidate movie? Answer Yes or No.")


@pytest.mark.slow  # LoRA training / LLM decoding on CPU: CI runs it (make test-all)
def test_loss_falls_on_a_fixed_batch_and_the_base_model_is_restored(
    smollm2: TransformersBackend, ml100k_warehouse
) -> None:
    builder = PromptBuilder(smollm2.count_tokens, 128)
    examples = build_examples(interactions_frame(ml100k_warehouse), items_frame(ml100k_warehouse), None, builder,
                              n=2, seed=3)  # fmt: skip
    before = weights_checksum(smollm2)
    peft_model = attach_lora(smollm2, seed=0)
    try:
        result = train_adapter(smollm2, peft_model, examples, steps=3, lr=2e-3, seed=0, batch_size=2)
    finally:
        detach_lora(smollm2, peft_model)
    assert result.steps == 3 and result.examples_seen == 6
    assert result.losses[-1] < result.losses[0] - 0.1, result.losses
    assert weights_checksum(smollm2) == before and not any(
        "lora" in name for name, _ in smollm2.model.named_parameters()
    )


def test_auc_counts_ordered_pairs_with_ties_as_half() -> None:
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert np.isnan(auc(np.array([0.5, 0.6]), np.array([1, 1])))


@pytest.mark.slow  # LoRA training / LLM decoding on CPU: CI runs it (make test-all)
def test_finetune_registers_reuses_and_loads_the_adapter(
    smollm2: TransformersBackend, ml100k_warehouse, settings: Settings
) -> None:
    tuned_settings = settings.model_copy(
        update={"llm_finetune_examples": 16, "llm_finetune_steps": 4, "llm_finetune_lr": 1e-3, "llm_prompt_tokens": 128,
                "llm_blend_users": 5, "top_k_candidates": 5, "top_k_final": 3, "cache_dir": TEST_CACHE}
    )  # fmt: skip
    before = weights_checksum(smollm2)
    version = finetune_llm_ranker(ml100k_warehouse, tuned_settings, smollm2)
    assert weights_checksum(smollm2) == before  # the shared backend is left as it was

    assert not version.reused and (version.path / "adapter_config.json").is_file()
    assert version.path.parent == tuned_settings.artifacts_dir / "llm-adapters"
    assert not [p for p in version.path.parent.iterdir() if p.name.startswith(".")]  # no staging left
    config = json.loads((version.path / "adapter_config.json").read_text())
    assert config["r"] == 8 and set(config["target_modules"]) == {"q_proj", "v_proj"}
    rows = ml100k_warehouse.execute(
        "SELECT model_id, kind, status, status_reason, metrics, params, train_end, artifact_sha256"
        " FROM models.registry WHERE kind = 'llm_ranker'"
    ).fetchall()
    assert len(rows) == 1
    model_id, _, status, reason, metrics, params, train_end, checksum = rows[0]
    assert checksum == tree_sha256(version.path)  # verified before the adapter is served
    assert status == version.status and reason == version.reason
    assert reason.startswith("promoted" if status == "production" else "not promoted")
    metrics = json.loads(metrics)
    assert metrics["train_steps"] == 4 and metrics["examples_seen"] == 16 and metrics["validation_users"] == 5
    for name in ("untuned_auc", "tuned_auc", "untuned_ndcg_at_3", "tuned_ndcg_at_3", "stage1_ndcg_at_3"):
        assert 0.0 <= metrics[name] <= 1.0
    assert metrics["tuned_p_yes_mean"] != metrics["untuned_p_yes_mean"]  # the adapter moved P(Yes)
    assert json.loads(params)["llm_model"] == "SmolLM2-135M-Instruct"
    newest = ml100k_warehouse.execute("SELECT max(ts) FROM core.interactions").fetchall()[0][0]
    assert train_end < newest  # trained on the past only: the validation window is later

    again = finetune_llm_ranker(ml100k_warehouse, tuned_settings, smollm2)
    assert again.reused and again.model_id == model_id and again.path == version.path
    assert ml100k_warehouse.execute("SELECT count(*) FROM models.registry").fetchall()[0][0] == 1

    # serving: the production adapter is found for this base model (and only once it is production)
    set_status(ml100k_warehouse, model_id, "candidate", "test")
    assert production_adapter(tuned_settings, ml100k_warehouse) is None
    set_status(ml100k_warehouse, model_id, "production", "test")
    assert production_adapter(tuned_settings, ml100k_warehouse) == version.path
    other = tuned_settings.model_copy(update={"llm_model": "HuggingFaceTB/SmolLM2-135M-Instruct"})
    assert production_adapter(other, ml100k_warehouse) is None

    torch.set_num_threads(1)
    tuned = make_backend(tuned_settings.model_copy(update={"llm_backend": "transformers", "llm_adapter": version.path}))
    assert isinstance(tuned, TransformersBackend) and tuned.adapter == version.path
    chats = [[{"role": "user", "content": f"Will a fan of {t} enjoy Heat (1995)? Answer Yes or No."}]
             for t in ("Fargo", "Babe")]  # fmt: skip
    plain = smollm2.option_logprobs(chats, [["Yes", "No"]] * 2)
    adapted = tuned.option_logprobs(chats, [["Yes", "No"]] * 2)
    assert max(float(np.abs(a - b).max()) for a, b in zip(plain, adapted, strict=True)) > 1e-3


def test_a_missing_warehouse_or_adapter_folder_means_the_untuned_model(settings: Settings, tmp_path: Path) -> None:
    assert production_adapter(settings) is None  # no warehouse file yet: nothing to read, no error
    with pytest.raises(LLMError, match=r"adapter folder .*nowhere has no adapter_config\.json"):
        TransformersBackend("SmolLM2-135M-Instruct", cache_dir=TEST_CACHE, adapter=tmp_path / "nowhere")
