"""The users the ranker trains on, rebuilt in Python, are the users the pipeline stored."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from octorec.embeddings.encoder import TextEncoder
from octorec.ranker.inputs import read_profiles
from octorec.scoring.inputs import load_features
from octorec.scoring.profiles import profile_features
from octorec.settings import load_settings
from octorec.warehouse import open_warehouse

pytestmark = pytest.mark.slow


def test_profile_features_rebuild_every_stored_user_as_dbt_and_user_embeddings_did(
    pipeline_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "octorec.duckdb"
    shutil.copy(pipeline_run[0], database)  # the session's result, on the sample slice
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    settings = load_settings()
    with open_warehouse(database) as warehouse:
        stored, projects = load_features(warehouse, settings)
        profiles = read_profiles(warehouse, TextEncoder.from_settings(settings))
    rebuilt = profile_features(profiles, projects, settings.user_profile_weight)
    assert list(rebuilt.logins) == list(stored.logins)
    # The slice has a user who only declared interests and one who gave nothing at all.
    assert any(p.declared_categories for p in profiles)
    assert any(p.profile_vector is not None for p in profiles)
    assert [list(x) for x in rebuilt.categories] == [list(x) for x in stored.categories]
    assert [list(x) for x in rebuilt.tech_stack] == [list(x) for x in stored.tech_stack]
    assert (rebuilt.known != stored.known).nnz == 0
    np.testing.assert_allclose(rebuilt.semantic, stored.semantic, atol=1e-5)
