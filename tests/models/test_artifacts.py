"""Artifacts are read as copy-on-write memory maps: the same arrays as numpy reads them, writable
without changing the file; compressed members are read; Python objects are refused. (Every model's
save/load round trip is in tests/models/mixin.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chatrec.models.artifacts import ArtifactError, mapped_arrays, sha256_of
from chatrec.models.ease import EASE


def _sample_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "weights": rng.standard_normal((37, 23)).astype(np.float32),
        "fortran": np.asfortranarray(rng.standard_normal((5, 4))),
        "ids": np.array(["u1", "user-two", "ü3"]),
        "counts": np.arange(11, dtype=np.int64),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "scalar": np.array(2.5),
        "flags": np.array([True, False, True]),
    }


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_mapped_arrays_are_what_numpy_reads(tmp_path: Path, save) -> None:
    path = tmp_path / "arrays.npz"
    expected = _sample_arrays()
    save(path, **expected)
    arrays = mapped_arrays(path)
    assert set(arrays) == set(expected)
    for key, value in expected.items():
        assert arrays[key].dtype == value.dtype and arrays[key].shape == value.shape, key
        np.testing.assert_array_equal(arrays[key], value)
    assert arrays["fortran"].flags.f_contiguous


def test_changing_a_mapped_array_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "arrays.npz"
    np.savez(path, **_sample_arrays())
    before = sha256_of(path)
    arrays = mapped_arrays(path)
    arrays["weights"][:] = 0.0  # copy-on-write: this process's pages only
    torch.from_numpy(arrays["counts"]).add_(1)  # a tensor over the map, changed in place
    assert sha256_of(path) == before
    again = mapped_arrays(path)
    np.testing.assert_array_equal(again["weights"], _sample_arrays()["weights"])
    np.testing.assert_array_equal(again["counts"], np.arange(11))


def test_a_member_holding_python_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, ok=np.arange(3), objects=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="objects"):
        mapped_arrays(path)


def test_a_file_that_is_not_an_archive_is_an_artifact_error(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ArtifactError, match="not a readable chatrec artifact"):
        EASE.load(path)
