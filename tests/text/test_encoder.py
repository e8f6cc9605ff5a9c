from pathlib import Path

import numpy as np
import polars as pl
import pytest

from chatrec.data.packaged import packaged_minilm_dir
from chatrec.text import ItemTextEncoder, item_text, item_texts, resolve_embedding_model


def test_item_text_uses_every_field_present() -> None:
    row = {"item_id": "1", "title": "Toy Story", "release_year": 1995, "genres": ["Animation", "Comedy"]}
    assert item_text(row) == "Toy Story (1995). Genres: Animation, Comedy."
    described = {**row, "genres": "Animation|Comedy", "description": "A 1995 film by Pixar."}
    assert item_text(described) == "Toy Story (1995). Genres: Animation, Comedy. A 1995 film by Pixar."
    assert item_text({"title": "Untitled Film", "release_year": None, "genres": []}) == "Untitled Film."


def test_item_text_rejects_items_without_title() -> None:
    with pytest.raises(ValueError, match="item '7' has no title"):
        item_text({"item_id": "7", "title": " "})
    with pytest.raises(ValueError, match="lacks column"):
        item_texts(pl.DataFrame({"item_id": ["1"]}))


def test_packaged_model_name_resolves_to_the_installed_folder(tmp_path: Path) -> None:
    assert resolve_embedding_model("all-MiniLM-L6-v2") == str(packaged_minilm_dir())
    not_a_folder = tmp_path / "weights.bin"
    not_a_folder.write_bytes(b"x")
    with pytest.raises(ValueError, match="is a file"):
        resolve_embedding_model(not_a_folder)


def test_embeddings_are_unit_vectors_and_similar_texts_are_closer(tmp_path: Path) -> None:
    encoder = ItemTextEncoder(cache_dir=tmp_path)
    vectors = encoder.encode(
        [
            "Star Wars (1977). Genres: Action, Sci-Fi. A space opera about rebels fighting an empire.",
            "Alien (1979). Genres: Horror, Sci-Fi. A crew in deep space is hunted by a creature.",
            "Sense and Sensibility (1995). Genres: Drama, Romance. Two sisters look for love in Georgian England.",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_cache_hit_loads_no_model_and_new_texts_are_encoded_alone(tmp_path: Path) -> None:
    texts = ["Heat (1995). Genres: Crime.", "Fargo (1996). Genres: Crime, Drama."]
    first = ItemTextEncoder(cache_dir=tmp_path)
    expected = first.encode(texts)
    assert first.texts_encoded == 2 and first.cache_file is not None and first.cache_file.is_file()

    second = ItemTextEncoder(cache_dir=tmp_path)
    np.testing.assert_array_equal(second.encode(texts), expected)
    assert second.texts_encoded == 0 and second._model is None  # served from disk, model never loaded

    grown = second.encode([*texts, "Clueless (1995). Genres: Comedy, Romance."])
    assert second.texts_encoded == 1 and grown.shape == (3, 384)
    third = ItemTextEncoder(cache_dir=tmp_path)
    third.encode(["Clueless (1995). Genres: Comedy, Romance."])
    assert third.texts_encoded == 0  # the grown cache was written back


def test_encoder_follows_settings(settings) -> None:
    encoder = ItemTextEncoder.from_settings(settings)
    assert encoder.device == settings.torch_device()
    assert encoder.cache_file is not None and encoder.cache_file.parent == settings.cache_dir / "embeddings"
    assert encoder.reference == str(packaged_minilm_dir())


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="no texts"):
        ItemTextEncoder().encode([])
    with pytest.raises(ValueError, match="batch_size"):
        ItemTextEncoder(batch_size=0)
