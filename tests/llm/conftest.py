"""One real SmolLM2 backend per test session (the packaged default model, never a stand-in).

The GGUF -> safetensors conversion is cached under the repository's var/test-cache (git-ignored),
so only the first test session on a machine pays the ~30 s conversion.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatrec.llm.backends.transformers_backend import TransformersBackend

TEST_CACHE = Path(__file__).resolve().parents[2] / "var" / "test-cache"


@pytest.fixture(scope="session")
def smollm2() -> TransformersBackend:
    import torch

    torch.set_num_threads(1)  # decode does not gain from the 2nd core; other tests may use it
    return TransformersBackend("SmolLM2-135M-Instruct", cache_dir=TEST_CACHE, batch_size=4)
