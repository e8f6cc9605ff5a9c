"""The language-model layer of Chat-Rec: backends, prompts, re-ranking, explanations, rating."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatrec.llm.backends.base import LLMBackend
    from chatrec.settings import Settings


def make_backend(settings: Settings, *, registry_adapter: bool = True) -> LLMBackend:
    """The backend the settings name (`llm_backend`, `llm_model`, `llm_base_url`, ...). `registry_adapter`
    False: only `llm_adapter` counts (a Dask worker, handed the adapter its caller looked up, must not
    open the warehouse file that caller holds)."""
    if settings.llm_backend == "none":
        raise ValueError("llm_backend is 'none': the LLM layer is switched off in the settings")
    if settings.llm_backend == "openai":
        from chatrec.llm.backends.openai_backend import OpenAIBackend

        if not settings.llm_base_url:
            raise ValueError("llm_backend is 'openai' but llm_base_url (CHATREC_LLM_BASE_URL) is not set")
        return OpenAIBackend(
            settings.llm_base_url,
            settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            concurrency=settings.llm_batch_size,
        )
    from chatrec.llm.finetune import production_adapter

    # an explicit adapter wins; else the LoRA adapter the nightly fine-tune promoted, if any
    adapter = settings.llm_adapter or (production_adapter(settings) if registry_adapter else None)
    if resolved_backend(settings) == "ctranslate2":
        from chatrec.llm.backends.ct2_backend import CTranslate2Backend

        return CTranslate2Backend(
            settings.llm_model,
            cache_dir=settings.cache_dir,
            batch_size=settings.llm_batch_size,
            threads=settings.llm_threads or settings.torch_threads or 1,
            adapter=adapter,
        )
    from chatrec.llm.backends.transformers_backend import TransformersBackend

    return TransformersBackend(
        settings.llm_model,
        cache_dir=settings.cache_dir,
        device=settings.torch_device(),
        batch_size=settings.llm_batch_size,
        adapter=adapter,
        int8=settings.llm_int8,
    )


def resolved_backend(settings: Settings) -> str:
    """The backend `llm_backend` means here: "auto" is transformers (dynamic int8 on CPU when `llm_int8`,
    bf16 on CUDA). ctranslate2 is chosen by name: it scores prompts about as fast, but its guided
    explanations restart decoding wherever the constraint overrules the model and ran ~8x slower
    (docs/benchmarks.md)."""
    if settings.llm_backend != "auto":
        return settings.llm_backend
    return "transformers"
