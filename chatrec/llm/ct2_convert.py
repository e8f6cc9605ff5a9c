"""The one-time conversion of a local model into a CTranslate2 int8 folder, cached and verified.

The cache folder is keyed by the SHA-256 of the source weights (the GGUF file, or every file of a
transformers folder), of a LoRA adapter merged into them, the quantization and the ctranslate2
version. The conversion is written to a temporary folder that is renamed into place only when it is
complete, with a manifest (size and SHA-256 of every file) written last. Every load checks the
manifest: a folder with a missing, truncated or altered file, or without a manifest (a crash before
the rename cannot produce one, a hand-copied partial folder can), is moved aside and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from chatrec.llm.backends.base import LLMError
from chatrec.llm.weights import ModelReference, ensure_loadable

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
TOKENIZER_DIR = "tokenizer"
QUANTIZATION = "int8"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def folder_sha256(folder: Path) -> str:
    """One checksum over every file of a folder (relative names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}:{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def source_checksum(reference: ModelReference, adapter: Path | None = None) -> str:
    """What the converted folder is a function of: the weights, the adapter, the converter's version."""
    import ctranslate2

    location = Path(reference.location)
    if reference.gguf_file is not None:
        weights = file_sha256(location / reference.gguf_file)
    elif location.is_dir():
        weights = folder_sha256(location)
    else:
        raise LLMError(
            f"the ctranslate2 backend converts local models only; {reference.location!r} is not a local folder "
            "or GGUF file (use llm_backend=transformers for a hub id)"
        )
    parts = [weights, folder_sha256(adapter) if adapter else "", QUANTIZATION, ctranslate2.__version__]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class ConvertedModel:
    folder: Path  # the CTranslate2 model (model.bin, config.json, vocabulary)
    tokenizer: Path  # the transformers tokenizer saved beside it
    source: str  # where the weights came from (for error messages)
    converted: bool  # True when this call ran the conversion


def cache_folder(reference: ModelReference, cache_dir: Path, adapter: Path | None = None) -> Path:
    name = Path(reference.gguf_file).stem if reference.gguf_file else Path(reference.location).name
    return cache_dir / "llm" / f"ct2-{name}-{source_checksum(reference, adapter)[:16]}"


def manifest_problem(folder: Path) -> str | None:
    """None when every file the manifest lists is there with its size and checksum, else what is wrong."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return "no manifest (conversion never finished)"
    try:
        entries = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"unreadable manifest ({exc})"
    for name, expected in entries.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{name} has {path.stat().st_size} bytes, the manifest says {expected['size']}"
        if file_sha256(path) != expected["sha256"]:
            return f"{name} does not match its checksum"
    return None


def _write_manifest(folder: Path, source: str) -> None:
    files = {
        path.relative_to(folder).as_posix(): {"size": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(p for p in folder.rglob("*") if p.is_file())
    }
    (folder / MANIFEST).write_text(json.dumps({"source": source, "quantization": QUANTIZATION, "files": files}))


def _convert_into(staging: Path, reference: ModelReference, cache_dir: Path, adapter: Path | None) -> None:
    from ctranslate2.converters import TransformersConverter
    from transformers import AutoTokenizer

    location = ensure_loadable(reference, cache_dir)  # a GGUF file becomes a cached safetensors folder first
    source = location
    if adapter is not None:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        merged = staging.parent / f".merged-{uuid.uuid4().hex[:8]}"
        model = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32)
        PeftModel.from_pretrained(model, str(adapter)).merge_and_unload().save_pretrained(merged)
        AutoTokenizer.from_pretrained(location).save_pretrained(merged)
        source = str(merged)
    try:
        TransformersConverter(source).convert(str(staging / "model"), quantization=QUANTIZATION, force=True)
        AutoTokenizer.from_pretrained(source).save_pretrained(staging / TOKENIZER_DIR)
    finally:
        if adapter is not None:
            shutil.rmtree(source, ignore_errors=True)


def ensure_converted(reference: ModelReference, cache_dir: Path, adapter: Path | None = None) -> ConvertedModel:
    """The verified CTranslate2 folder for `reference` (+ `adapter`), converting it when it is absent
    or broken. Safe against a crash mid-way and against two processes converting at once."""
    target = cache_folder(reference, cache_dir, adapter)
    source = f"{reference.location}/{reference.gguf_file or ''}" + (f" + adapter {adapter}" if adapter else "")
    problem = manifest_problem(target) if target.exists() else "not converted yet"
    if problem is None:
        return ConvertedModel(target / "model", target / TOKENIZER_DIR, source, converted=False)
    if target.exists():
        log.warning("CTranslate2 cache %s is broken (%s): rebuilding it", target, problem)
        trash = target.with_name(f".broken-{target.name}-{uuid.uuid4().hex[:8]}")
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            target.rename(trash)  # atomic: no reader ever sees a half-deleted folder
        shutil.rmtree(trash, ignore_errors=True)
    log.info("converting %s to CTranslate2 %s in %s (once)", source, QUANTIZATION, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-ct2-", dir=target.parent))
    try:
        _convert_into(staging, reference, cache_dir, adapter)
        _write_manifest(staging, source)
        try:
            staging.rename(target)
        except OSError:
            if manifest_problem(target) is not None:  # not "another process converted it first"
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ConvertedModel(target / "model", target / TOKENIZER_DIR, source, converted=True)
