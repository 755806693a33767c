from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from octorec import constants as c
from octorec.constants import MODEL_DIMENSIONS, MODEL_NAME
from octorec.embeddings.cache import content_hash, encode_with_cache
from octorec.embeddings.encoder import ModelUnavailableError, TextEncoder
from octorec.warehouse import open_warehouse

pytestmark = pytest.mark.slow

TEXTS = [f"project {number}: a library for topic {number % 17}" for number in range(200)]


def _encode(database: Path, encoder: TextEncoder, texts: list[str]):  # type: ignore[no-untyped-def]
    with open_warehouse(database) as warehouse:
        return encode_with_cache(warehouse, encoder, texts, [content_hash(t) for t in texts])


def test_when_one_percent_of_texts_change_one_percent_is_embedded(tmp_path: Path) -> None:
    database = tmp_path / "cache.duckdb"
    encoder = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS)
    first = _encode(database, encoder, TEXTS)
    changed = [*TEXTS[:198], "a brand new description", "another new one"]

    again = _encode(database, encoder, TEXTS)
    partly = _encode(database, encoder, changed)

    assert (first.embedded, first.reused) == (200, 0)
    assert (again.embedded, again.reused) == (0, 200)
    assert (partly.embedded, partly.reused) == (2, 198)
    np.testing.assert_array_equal(partly.vectors[:198], first.vectors[:198])


def test_refresh_embeds_every_text_again_and_keeps_one_row_each(tmp_path: Path) -> None:
    database = tmp_path / "cache.duckdb"
    encoder = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx")
    texts = TEXTS[:20]
    first = _encode(database, encoder, texts)
    with open_warehouse(database) as warehouse:
        hashes = [content_hash(t) for t in texts]
        forced = encode_with_cache(warehouse, encoder, texts, hashes, refresh=True)
        stored = warehouse.count(c.EMBEDDING_CACHE)
    assert (forced.embedded, forced.reused) == (20, 0)
    assert stored == 20
    np.testing.assert_allclose(forced.vectors, first.vectors, atol=1e-6)


def test_each_backend_keeps_its_own_vectors(tmp_path: Path) -> None:
    database = tmp_path / "cache.duckdb"
    int8 = _encode(database, TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx-int8"), TEXTS)
    exact = _encode(database, TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx"), TEXTS)

    assert int8.embedded == 200 and exact.embedded == 200
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(f"SELECT backend, count(*) AS n FROM {c.EMBEDDING_CACHE} GROUP BY 1")
    assert dict(zip(*rows.to_pydict().values(), strict=True)) == {
        "onnx-int8.v3@256": 200,
        "onnx.v3@256": 200,
    }


def test_a_cache_from_before_backends_is_rebuilt(tmp_path: Path) -> None:
    database = tmp_path / "old.duckdb"
    with duckdb.connect(str(database)) as old:
        old.execute(
            f"CREATE TABLE {c.EMBEDDING_CACHE} (model VARCHAR, content_hash VARCHAR, "
            "embedding FLOAT[], created_at TIMESTAMPTZ, PRIMARY KEY (model, content_hash))"
        )
        old.execute(f"INSERT INTO {c.EMBEDDING_CACHE} VALUES ('m', 'h', [1.0], now())")

    result = _encode(database, TextEncoder(MODEL_NAME, MODEL_DIMENSIONS), TEXTS[:3])

    assert result.embedded == 3
    with open_warehouse(database, read_only=True) as warehouse:
        assert warehouse.count(c.EMBEDDING_CACHE) == 3


def test_new_texts_are_embedded_and_stored_chunk_by_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx")
    whole = _encode(tmp_path / "whole.duckdb", encoder, TEXTS)
    monkeypatch.setattr("octorec.embeddings.cache.ENCODE_CHUNK", 64)
    chunked = _encode(tmp_path / "chunked.duckdb", encoder, TEXTS)

    assert chunked.embedded == 200
    np.testing.assert_allclose(chunked.vectors, whole.vectors, atol=1e-5)
    with open_warehouse(tmp_path / "chunked.duckdb", read_only=True) as warehouse:
        assert warehouse.count(c.EMBEDDING_CACHE) == 200


def test_model_dimensions_other_than_the_models_names_the_setting_and_both_sizes(
    tmp_path: Path,
) -> None:
    database = tmp_path / "cache.duckdb"
    _encode(database, TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx"), TEXTS[:5])
    wrong = MODEL_DIMENSIONS + 128

    with pytest.raises(ModelUnavailableError) as refused:
        _encode(database, TextEncoder(MODEL_NAME, wrong, backend="onnx"), TEXTS[:5])

    message = str(refused.value)
    assert f"MODEL_DIMENSIONS={wrong}" in message
    assert f"{MODEL_DIMENSIONS}" in message and "set MODEL_DIMENSIONS" in message


def test_cached_vectors_of_another_size_than_the_model_say_to_embed_again(
    tmp_path: Path,
) -> None:
    database = tmp_path / "cache.duckdb"
    encoder = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx")
    with open_warehouse(database) as warehouse:
        warehouse.upsert(
            c.EMBEDDING_CACHE,
            pa.table(
                {
                    "model": [MODEL_NAME],
                    "backend": [encoder.cache_variant],
                    "content_hash": [content_hash(TEXTS[0])],
                    "embedding": pa.array([[0.6, 0.8, 0.0]], pa.list_(pa.float32())),
                    "created_at": [datetime.now(UTC)],
                }
            ),
            ["model", "backend", "content_hash"],
        )

    with pytest.raises(ModelUnavailableError) as refused:
        _encode(database, encoder, TEXTS[:2])
    message = str(refused.value)
    assert f"MODEL_DIMENSIONS={MODEL_DIMENSIONS}" in message and "3 values" in message
    assert "--force" in message and "OCTOREC_FORCE=1" in message

    with open_warehouse(database) as warehouse:
        hashes = [content_hash(t) for t in TEXTS[:2]]
        forced = encode_with_cache(warehouse, encoder, TEXTS[:2], hashes, refresh=True)
    assert forced.vectors.shape == (2, MODEL_DIMENSIONS)
