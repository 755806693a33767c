"""Feedback through the API: stored on both backends, idempotent, validated, guarded by
`API_TOKEN`, and a dismissed project gone from the user's answers at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from octorec.constants import USER_PROJECT_SIMILARITIES
from octorec.feedback import FeedbackKind, read_feedback, record_feedback, remove_feedback
from octorec.serving.api import Users, create_app
from octorec.serving.feedback import FeedbackEntry, UserFeedback
from octorec.serving.users import UserProfile
from octorec.settings import load_settings
from octorec.warehouse import open_warehouse
from tests.serving import test_api
from tests.serving.conftest import API_TOKEN as TOKEN
from tests.serving.test_api import store_in_postgres

stored = test_api.stored
"""Three users' recommendations over five projects (the API tests' small warehouse)."""

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(stored: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as test_client:
        yield test_client


def _names(client: TestClient, login: str) -> list[str]:
    body = client.get(f"/users/{login}/recommendations").json()
    return [r["project"]["full_name"] for r in body["recommendations"]]


def _stored_rows(location: str | Path) -> list[tuple[str, str, str]]:
    with open_warehouse(location, read_only=True) as warehouse:
        return [(f.user_login, f.project_full_name, str(f.kind)) for f in read_feedback(warehouse)]


@pytest.fixture(params=["duckdb", "postgres"])
def location(request: pytest.FixtureRequest, database: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(database)


def test_the_feedback_table_keeps_one_answer_per_user_and_project(location: str) -> None:
    first = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    with open_warehouse(location) as warehouse:
        liked = record_feedback(warehouse, "Alice", "torch/vision", FeedbackKind.LIKE, first)
        again = record_feedback(warehouse, "alice", "torch/vision", FeedbackKind.LIKE)
        assert again == liked and again.created_at == first  # the same kind changes nothing
        record_feedback(warehouse, "bob", "torch/vision", FeedbackKind.LIKE)
        dismissed = record_feedback(warehouse, "ALICE", "torch/vision", FeedbackKind.DISMISS)
        assert dismissed.kind is FeedbackKind.DISMISS and dismissed.created_at > first
        assert warehouse.count("raw.feedback") == 2
        assert remove_feedback(warehouse, "alice", "torch/vision") is True
        assert remove_feedback(warehouse, "alice", "torch/vision") is False
        # Whatever a client sends is a value, never SQL.
        record_feedback(warehouse, "eve", "x'); DROP TABLE raw.feedback; --", FeedbackKind.LIKE)
    assert _stored_rows(location) == [
        ("bob", "torch/vision", "like"),
        ("eve", "x'); DROP TABLE raw.feedback; --", "like"),
    ]


def test_a_dismissed_project_leaves_the_answers_at_once(client: TestClient, stored: Path) -> None:
    assert _names(client, "alice") == ["torch/vision", "torch/audio", "data/lake"]
    response = client.post(
        "/users/Alice/feedback", json={"project": "Torch/Audio", "kind": "dismiss"}
    )
    assert response.status_code == 200, response.text
    entry = FeedbackEntry.model_validate(response.json())
    assert (entry.login, entry.project, entry.kind) == ("alice", "torch/audio", "dismiss")
    assert _names(client, "alice") == ["torch/vision", "data/lake"]
    answer = client.get("/users/alice/recommendations").json()
    ranks = [r["rank"] for r in answer["recommendations"]]
    assert ranks == [1, 2]  # renumbered, as every filtered answer is
    assert client.app.state.feedback.dismissed("ALICE") == frozenset({"torch/audio"})
    assert client.app.state.feedback.dismissed("bob") == frozenset()
    assert _stored_rows(stored) == [("alice", "torch/audio", "dismiss")]

    # Liking it instead brings it back; undoing a like leaves nothing stored.
    client.post("/users/alice/feedback", json={"project": "torch/audio", "kind": "like"})
    assert _names(client, "alice") == ["torch/vision", "torch/audio", "data/lake"]
    removed = client.delete("/users/alice/feedback/torch/audio")
    assert removed.json() == {"login": "alice", "project": "torch/audio", "removed": True}
    assert client.delete("/users/alice/feedback/torch/audio").json()["removed"] is False
    assert _stored_rows(stored) == []


def test_posting_the_same_feedback_twice_stores_one_row(client: TestClient, stored: Path) -> None:
    answers = [
        client.post("/users/bob/feedback", json={"project": "data/lake", "kind": "like"}).json()
        for _ in range(2)
    ]
    assert answers[0] == answers[1]
    listed = UserFeedback.model_validate(client.get("/users/BOB/feedback").json())
    assert [(f.project, f.kind) for f in listed.feedback] == [("data/lake", "like")]
    assert _stored_rows(stored) == [("bob", "data/lake", "like")]


def test_a_new_app_reads_the_stored_feedback(client: TestClient, stored: Path) -> None:
    client.post("/users/alice/feedback", json={"project": "torch/vision", "kind": "dismiss"})
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as restarted:
        assert _names(restarted, "alice") == ["torch/audio", "data/lake"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"project": "torch/vision", "kind": "love"}, "kind"),
        ({"project": "torch/vision"}, "kind"),
        ({"project": "not a name", "kind": "like"}, "project"),
        ({"project": "torch/vision'; --", "kind": "like"}, "project"),
        ({"project": "torch/vision", "kind": "like", "extra": 1}, "extra"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/users/alice/feedback", json=body)
    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


def test_feedback_on_an_unknown_project_is_404_with_close_matches(client: TestClient) -> None:
    answer = {"project": "torch/visoin", "kind": "like"}
    response = client.post("/users/alice/feedback", json=answer)
    assert response.status_code == 404
    assert response.json()["close_matches"][0] == "torch/vision"
    assert client.delete("/users/alice/feedback/torch/visoin").status_code == 404


def test_with_api_token_writes_need_it_and_reads_stay_open(
    stored: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    body = {"project": "torch/vision", "kind": "dismiss"}
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = client.post("/users/alice/feedback", json=body, headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in response.text
        assert client.delete("/users/alice/feedback/torch/vision").status_code == 401
        assert _stored_rows(stored) == []
        assert client.post("/users/alice/feedback", json=body, headers=AUTH).status_code == 200
        assert client.get("/users/alice/feedback").status_code == 200
        assert client.get("/users/alice/recommendations").status_code == 200
        assert client.delete("/users/alice/feedback/torch/vision", headers=AUTH).status_code == 200


def test_the_user_route_shows_the_evidence(client: TestClient, stored: Path) -> None:
    with open_warehouse(stored) as warehouse:
        warehouse.execute(
            "CREATE TABLE dbt_user_project_similarities AS "
            "SELECT 'Alice' AS user_login, ['data/lake', 'web/vue-kit'] AS known_projects"
        )
        # A newer run: the snapshot (and the known projects with it) is read again.
        rows = warehouse.query(f"SELECT * FROM {USER_PROJECT_SIMILARITIES}")
        warehouse.replace(
            USER_PROJECT_SIMILARITIES,
            rows.set_column(
                rows.column_names.index("run_id"), "run_id", pa.array(["run-2"] * rows.num_rows)
            ),
        )
    assert client.app.state.snapshots.refresh() is True
    client.post("/users/alice/feedback", json={"project": "torch/audio", "kind": "dismiss"})
    client.post("/users/alice/feedback", json={"project": "web/react-kit", "kind": "like"})
    profile = UserProfile.model_validate(client.get("/users/ALICE").json())
    assert profile.login == "Alice" and profile.run_id == "run-2"
    assert [p.full_name for p in profile.known_projects] == ["data/lake", "web/vue-kit"]
    assert profile.known_projects[0].stars == 70
    assert profile.recommendations == 2
    assert (profile.liked, profile.dismissed) == (["web/react-kit"], ["torch/audio"])
    unknown = client.get("/users/alicee")
    assert unknown.status_code == 404 and unknown.json()["close_matches"] == ["Alice"]


def test_users_are_paged_with_the_total(client: TestClient) -> None:
    first = Users.model_validate(client.get("/users", params={"limit": 2}).json())
    rest = Users.model_validate(client.get("/users", params={"limit": 2, "offset": 2}).json())
    assert first.total == rest.total == 3
    assert [u.login for u in first.users + rest.users] == ["Alice", "alina-dev", "bob"]
    assert client.get("/users", params={"offset": -1}).status_code == 422


def test_feedback_through_the_api_is_stored_in_postgresql(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_in_postgres(postgres_url)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        answer = {"project": "torch/vision", "kind": "dismiss"}
        assert client.post("/users/alice/feedback", json=answer).status_code == 401
        assert client.post("/users/alice/feedback", json=answer, headers=AUTH).status_code == 200
        assert _names(client, "alice") == []
    assert _stored_rows(postgres_url) == [("alice", "torch/vision", "dismiss")]


@pytest.mark.slow
def test_the_live_server_needs_the_token_for_writes_and_never_logs_it(
    token_server: tuple[str, Path],
) -> None:
    url, log = token_server
    answer = {"project": _first_recommended(url), "kind": "like"}
    for headers in ({}, {"Authorization": f"Token {TOKEN}"}, {"Authorization": "Bearer no"}):
        refused = httpx.post(f"{url}/users/dkadev/feedback", json=answer, headers=headers)
        assert refused.status_code == 401 and TOKEN not in refused.text
    accepted = httpx.post(f"{url}/users/dkadev/feedback", json=answer, headers=AUTH, timeout=30)
    assert accepted.status_code == 200, accepted.text
    listed = httpx.get(f"{url}/users/dkadev/feedback", timeout=30).json()["feedback"]
    assert [(f["project"], f["kind"]) for f in listed] == [(answer["project"], "like")]
    removed = httpx.delete(
        f"{url}/users/dkadev/feedback/{answer['project']}", headers=AUTH, timeout=30
    )
    assert removed.json()["removed"] is True
    text = log.read_text()
    assert "POST /users/dkadev/feedback" in text and "feedback: dkadev like" in text
    assert TOKEN not in text  # requests and debug lines logged, never the token


def _first_recommended(url: str) -> str:
    body = httpx.get(f"{url}/users/dkadev/recommendations", timeout=30).json()
    return str(body["recommendations"][0]["project"]["full_name"])
