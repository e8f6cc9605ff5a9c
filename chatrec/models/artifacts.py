"""Model artifacts that hold data only: numpy arrays plus a JSON description, never pickled objects.

A fitted model is written as one `.npz` file (numpy's zip of `.npy` arrays) whose `__state__` entry
is the model's attributes as JSON; every array, tensor, sparse matrix or table among them is stored
as plain arrays (tables as Parquet bytes) and referenced from the JSON by name. Loading uses
`numpy.load(allow_pickle=False)` and rebuilds only the types listed here, so a replaced artifact can
hold wrong numbers but cannot run code. The file's sha256 is recorded in `models.registry` and
checked before a load (`verify_artifact`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch

FORMAT = "chatrec-npz-1"
SUFFIX = ".npz"
STATE_KEY = "__state__"


class ArtifactError(RuntimeError):
    """An artifact is missing, altered since it was registered, or not a chatrec artifact."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder: Path) -> str:
    """One sha256 over a folder's files (a LoRA adapter's config, weights and notes): each file's path
    relative to `folder` and its own sha256, in path order, so a changed, added, removed or renamed
    file changes it."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_of(path)}\n".encode())
    return digest.hexdigest()


class _Encoder:
    """Turns attribute values into JSON plus named arrays; anything else is an error naming the attribute."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return key

    def encode(self, value: Any, where: str) -> Any:
        from chatrec.models.base import IdIndex, TrainingData

        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{n}]") for n, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__type__": "tuple", "items": [self.encode(v, f"{where}[{n}]") for n, v in enumerate(value)]}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise TypeError(f"{where}: only dicts with string keys can be stored")
            return {"__type__": "dict", "items": {k: self.encode(v, f"{where}.{k}") for k, v in value.items()}}
        if isinstance(value, Path):
            return {"__type__": "path", "value": str(value)}
        if isinstance(value, torch.Tensor):
            if value.is_sparse:
                raise TypeError(f"{where}: sparse torch tensors are not stored; keep a dense or scipy copy")
            tag = "parameter" if isinstance(value, torch.nn.Parameter) else "tensor"
            return {
                "__type__": tag,
                "array": self.array(value.detach().cpu().numpy()),
                "device": str(value.device),
                "requires_grad": bool(value.requires_grad),
            }
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                if not all(isinstance(v, str) for v in value.ravel()):
                    raise TypeError(f"{where}: object arrays are stored only when they hold strings")
                return {"__type__": "strings", "array": self.array(value.astype(str))}
            return {"__type__": "ndarray", "array": self.array(value)}
        if sp.issparse(value):
            csr = sp.csr_matrix(value)
            return {
                "__type__": "csr",
                "data": self.array(csr.data),
                "indices": self.array(csr.indices),
                "indptr": self.array(csr.indptr),
                "shape": list(csr.shape),
            }
        if isinstance(value, pl.DataFrame):
            buffer = io.BytesIO()
            value.write_parquet(buffer)
            return {"__type__": "parquet", "array": self.array(np.frombuffer(buffer.getvalue(), dtype=np.uint8))}
        if isinstance(value, IdIndex):
            return {"__type__": "id_index", "ids": self.array(value.ids.astype(str))}
        if isinstance(value, TrainingData):
            fields = {
                f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)
            }
            return {"__type__": "training_data", "fields": fields}
        raise TypeError(
            f"{where}: a {type(value).__module__}.{type(value).__name__} cannot be stored in a data-only artifact"
        )


def _device_for(recorded: str) -> str:
    """Tensors go back to the device they were saved from when it exists here, else to the CPU."""
    return recorded if not recorded.startswith("cuda") or torch.cuda.is_available() else "cpu"


class _Decoder:
    def __init__(self, arrays: Any) -> None:
        self.arrays = arrays

    def decode(self, value: Any) -> Any:
        from chatrec.models.base import IdIndex, TrainingData

        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        kind = value.get("__type__")
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "tuple": lambda v: tuple(self.decode(x) for x in v["items"]),
            "dict": lambda v: {k: self.decode(x) for k, x in v["items"].items()},
            "path": lambda v: Path(v["value"]),
            "ndarray": lambda v: self.arrays[v["array"]],
            "strings": lambda v: self.arrays[v["array"]].astype(object),
            # no copy: the arrays are this load's own (copy-on-write mappings or freshly read), and a copy
            # of EASE's 10K x 10K weights cost 1.6 s of each Dask worker's start (bench.dask_timeline)
            "tensor": lambda v: (
                torch.from_numpy(self.arrays[v["array"]])
                .to(_device_for(v["device"]))
                .requires_grad_(v["requires_grad"])
            ),
            "parameter": lambda v: torch.nn.Parameter(
                torch.from_numpy(self.arrays[v["array"]]).to(_device_for(v["device"])),
                requires_grad=v["requires_grad"],
            ),
            "csr": lambda v: sp.csr_matrix(
                (self.arrays[v["data"]], self.arrays[v["indices"]], self.arrays[v["indptr"]]), shape=tuple(v["shape"])
            ),
            "parquet": lambda v: pl.read_parquet(io.BytesIO(self.arrays[v["array"]].tobytes())),
            "id_index": lambda v: IdIndex(self.arrays[v["ids"]].tolist()),
            "training_data": lambda v: TrainingData(**{k: self.decode(x) for k, x in v["fields"].items()}),
        }
        if kind not in handlers:
            raise ArtifactError(f"unknown value type {kind!r} in the artifact")
        return handlers[kind](value)


def model_state(model: Any) -> dict[str, Any]:
    """The attributes a model persists (its `__getstate__`, which may drop caches or rebuildable parts)."""
    state = model.__getstate__()
    return dict(state or {})


def write_artifact(model: Any, path: Path) -> str:
    """Write `model` to `path` atomically (temporary file + rename); returns the file's sha256."""
    encoder = _Encoder()
    state = {k: encoder.encode(v, f"{type(model).__name__}.{k}") for k, v in model_state(model).items()}
    header = {"format": FORMAT, "class": type(model).__name__, "name": getattr(model, "name", None), "state": state}
    arrays = {STATE_KEY: np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **encoder.arrays}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)  # noqa: SIM115
    try:
        with handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)  # a killed or failed write never leaves half a file at `path`
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return sha256_of(path)


def mapped_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` file, each a copy-on-write memory map of the file where it is stored
    uncompressed (as `np.savez` writes it), else read (`np.load`, no pickles).

    A map reads nothing until a page is touched, and processes that map the same file share its pages
    in the page cache: two Dask workers loading a 674 MB model spent 1.8 s each reading it into
    private copies (bench.dask_timeline). Copy-on-write: a model may change its arrays in place
    without touching the file. Artifacts are replaced by rename, never rewritten in place, so a map
    keeps the version that was verified and opened."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, path.open("rb") as handle, np.load(path, allow_pickle=False) as stored:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:  # compressed or encrypted
                arrays[key] = stored[key]
                continue
            # the member's data follows its local header (30 bytes, then its name and extra field)
            handle.seek(info.header_offset)
            local = handle.read(30)
            if local[:4] != b"PK\x03\x04":
                raise ValueError(f"member {info.filename} has no local header")
            name_length, extra_length = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
            handle.seek(info.header_offset + 30 + name_length + extra_length)
            version = np.lib.format.read_magic(handle)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"member {info.filename} has .npy format {version}, which np.savez does not write")
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle)
            if dtype.hasobject:
                raise ValueError(f"member {info.filename} holds Python objects")
            count = int(np.prod(shape, dtype=np.int64))
            if count == 0 or dtype.itemsize == 0:  # nothing to map (mmap refuses zero bytes)
                arrays[key] = np.zeros(shape, dtype=dtype, order="F" if fortran else "C")
                continue
            mapped = np.memmap(
                path, dtype=dtype, mode="c", offset=handle.tell(), shape=shape, order="F" if fortran else "C"
            )
            arrays[key] = mapped.view(np.ndarray)
    return arrays


def read_artifact(cls: type, path: Path) -> Any:
    """Rebuild a `cls` instance from an artifact written by `write_artifact` (data only: no pickle)."""
    try:
        arrays = mapped_arrays(path)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtifactError(f"{path} is not a readable chatrec artifact ({exc})") from exc
    if STATE_KEY not in arrays:
        raise ArtifactError(f"{path} is not a chatrec artifact (no {STATE_KEY} entry)")
    header = json.loads(arrays.pop(STATE_KEY).tobytes())
    if header.get("format") != FORMAT:
        raise ArtifactError(f"{path} has format {header.get('format')!r}, expected {FORMAT!r}")
    if header.get("class") != cls.__name__:
        raise ArtifactError(f"{path} holds a {header.get('class')}, not a {cls.__name__}")
    decoder = _Decoder(arrays)
    state = {k: decoder.decode(v) for k, v in header["state"].items()}
    model = cls.__new__(cls)
    if getattr(type(model), "__setstate__", None) is not None:
        model.__setstate__(state)
    else:
        model.__dict__.update(state)
    device = getattr(model, "device", "cpu")
    if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
        model.device = "cpu"  # trained on a GPU machine, loaded on one without
    return model
