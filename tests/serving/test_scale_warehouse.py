"""The latency benchmark's scale warehouse (`bench/scale_database.py`) is one the server scores
against: built small here, it must carry every column the pipeline's tables carry (a column the
pipeline gained and the benchmark lacked once broke `api_latency.py`'s scale phase unnoticed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from octorec.serving.api import create_app
from octorec.settings import load_settings
from octorec.warehouse import open_warehouse

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.slow


def test_the_scale_warehouse_is_served_stored_and_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("RECOMMENDATION_RETRIEVAL", "ann")  # what the benchmark serves it with
    from scale_database import scale_database

    database, _ = scale_database(projects=1_500, users=300, folder=tmp_path)
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(
            "SELECT user_login, known_projects FROM dbt_user_project_similarities "
            "ORDER BY len(known_projects) DESC, user_login LIMIT 1"
        ).to_pylist()[0]
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        stored = client.get(f"/users/{rows['user_login']}/recommendations")
        assert stored.status_code == 200, stored.text
        assert stored.json()["recommendations"]
        computed = client.post("/recommendations", json={"starred": rows["known_projects"]})
        assert computed.status_code == 200, computed.text
        answer = computed.json()
        assert answer["recommendations"] and not answer.get("unknown_projects")
        known = {name.lower() for name in rows["known_projects"]}
        assert not known & {r["project"]["full_name"].lower() for r in answer["recommendations"]}
