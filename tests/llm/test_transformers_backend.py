"""The transformers backend on the real packaged SmolLM2."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from chatrec.llm.backends.base import LLMError, repair_ranking
from chatrec.llm.backends.transformers_backend import GROUPED_SDPA, SCORING_TOKENS_PER_PASS, TransformersBackend
from chatrec.llm.weights import converted_dir, ensure_loadable, resolve_llm_model
from tests.conftest import TEST_CACHE
from tests.llm.backend_contract import RANK_PROMPTS, chat, check_rank_contract


def test_gguf_is_converted_once_to_a_cached_safetensors_folder(smollm2: TransformersBackend) -> None:
    reference = resolve_llm_model("SmolLM2-135M-Instruct")
    folder = converted_dir(reference, TEST_CACHE)
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_loadable(reference, TEST_CACHE) == str(folder)  # second call: no re-conversion
    assert (folder / "model.safetensors").stat().st_mtime_ns == before


def test_generate_returns_text_and_token_counts(smollm2: TransformersBackend) -> None:
    [out] = smollm2.generate([chat("Name one movie.")], max_new_tokens=8)
    assert out.text and 0 < out.completion_tokens <= 8 and out.prompt_tokens > 5


@pytest.mark.parametrize("prompt", RANK_PROMPTS)
def test_rank_is_always_k_distinct_candidate_labels(smollm2: TransformersBackend, prompt: str) -> None:
    check_rank_contract(smollm2, prompt)


def test_option_logprobs_are_a_distribution_over_the_options(smollm2: TransformersBackend) -> None:
    [scores] = smollm2.option_logprobs([chat("Is Fargo a movie? Answer Yes or No.")], [["Yes", "No"]])
    assert scores.shape == (2,) and np.isclose(np.exp(scores).sum(), 1.0)


def test_grouped_scoring_with_a_shared_prefix_matches_scoring_each_prompt(smollm2: TransformersBackend) -> None:
    prompts = [chat(f"The user loves crime films. Candidate: {t}. Will the user enjoy it? Answer Yes or No.")
               for t in ("Fargo", "Babe: Pig in the City", "Heat", "The Lion King (1994)", "Seven")]  # fmt: skip
    [grouped] = smollm2.option_logprobs_grouped([prompts], ("Yes", "No"))
    flat = smollm2.option_logprobs(prompts, [("Yes", "No")] * len(prompts))
    np.testing.assert_allclose(np.stack(grouped), np.stack(flat), atol=2e-3)


def test_embeddings_are_normalised(smollm2: TransformersBackend) -> None:
    vectors = smollm2.embed(["a crime film in snowy Minnesota", "a talking pig"])
    assert vectors.shape[0] == 2 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_multi_token_labels_are_rejected_with_a_clear_error(smollm2: TransformersBackend) -> None:
    with pytest.raises(LLMError, match="not a single token"):
        smollm2.rank([chat("x")], [["Fargo (1996)", "B"]], 1)


def test_unknown_model_fails_naming_it(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"has no config\.json"):
        TransformersBackend(tmp_path, cache_dir=tmp_path)


def test_repair_ranking_drops_invented_and_duplicates_then_fills_in_first_stage_order() -> None:
    assert repair_ranking(["C", "Z", "C", "A"], ["A", "B", "C", "D"], 3) == (["C", "A", "B"], 1, 1)


def test_a_shared_prompt_prefix_runs_once_and_changes_no_answer(smollm2: TransformersBackend) -> None:
    # the system prompt and the instruction come first in every prompt: `_prefixed` runs them once
    chats = [chat(f"Say why someone might watch {title}, in one sentence.") for title in ("Fargo", "Heat", "Babe")]
    inputs, lengths = smollm2._prefixed([smollm2.render(c) for c in chats])
    assert "past_key_values" in inputs  # the shared prefix's cache, copied to every row
    together = smollm2.generate(chats, max_new_tokens=12)
    alone = [smollm2.generate([c], max_new_tokens=12)[0] for c in chats]
    assert [g.text for g in together] == [g.text for g in alone]
    assert [g.prompt_tokens for g in together] == [g.prompt_tokens for g in alone] == lengths
    options = [("Yes", "No")] * len(chats)
    batched = smollm2.option_logprobs(chats, options)
    single = [smollm2.option_logprobs([c], options[:1])[0] for c in chats]
    np.testing.assert_allclose(np.stack(batched), np.stack(single), atol=2e-3)


@pytest.fixture(scope="module")
def smollm2_int8() -> TransformersBackend:
    return TransformersBackend("SmolLM2-135M-Instruct", cache_dir=TEST_CACHE, batch_size=4, int8=True)


def test_int8_runs_every_linear_layer_quantized_and_keeps_the_contract(smollm2_int8: TransformersBackend) -> None:
    import torch

    linears = [m for m in smollm2_int8.model.modules() if type(m) is torch.nn.Linear]
    quantized = [m for m in smollm2_int8.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert not linears and len(quantized) >= 30 * 7  # q, k, v, o, gate, up, down in each of 30 layers
    [scores] = smollm2_int8.option_logprobs([chat("Is Fargo a movie? Answer Yes or No.")], [["Yes", "No"]])
    assert scores.shape == (2,) and np.isclose(np.exp(scores).sum(), 1.0)
    check_rank_contract(smollm2_int8, RANK_PROMPTS[0])


def test_scoring_passes_are_capped_by_padded_tokens(smollm2: TransformersBackend) -> None:
    # long prompts go alone (padding them together costs more than it saves); short ones are batched
    lengths = [1000, 100, 100, 100, 600, 600, *[10] * 20]
    batches = smollm2._token_batches(lengths)
    assert [list(b) for b in batches[:4]] == [[0], [1, 2, 3], [4], [5]]
    assert [len(b) for b in batches[4:]] == [smollm2.batch_size] * (20 // smollm2.batch_size)
    assert [i for b in batches for i in b] == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= SCORING_TOKENS_PER_PASS


def test_grouped_attention_reads_padded_batches_exactly_as_transformers_sdpa(smollm2: TransformersBackend) -> None:
    # the backend's attention reads grouped key/value heads in place (no copy per query head group);
    # a padded batch continuing a cached prefix (what every explanation batch runs) gives the same logits
    import torch

    assert smollm2.model.config._attn_implementation == GROUPED_SDPA
    chats = [chat(f"Say why someone might watch {title}, in one sentence.") for title in ("Fargo", "The Big Lebowski")]
    inputs, _ = smollm2._prefixed([smollm2.render(c) for c in chats])
    assert int((inputs["attention_mask"] == 0).sum()) > 0  # type: ignore[operator]  # padding in the batch
    prefix = inputs["past_key_values"].get_seq_length()  # type: ignore[union-attr]

    def logits() -> torch.Tensor:
        cache = copy.deepcopy(inputs["past_key_values"])
        with torch.inference_mode():
            return smollm2.model(
                input_ids=inputs["input_ids"][:, prefix:], attention_mask=inputs["attention_mask"],  # type: ignore[index]
                past_key_values=cache, use_cache=True,
            ).logits  # fmt: skip

    grouped = logits()
    try:
        smollm2.model.set_attn_implementation("sdpa")
        own = logits()
    finally:
        smollm2.model.set_attn_implementation(GROUPED_SDPA)
    real = inputs["attention_mask"][:, prefix:].bool()  # type: ignore[index]
    assert torch.equal(grouped[real], own[real])
