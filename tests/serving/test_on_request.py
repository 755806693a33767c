"""Recommendations computed on request, against the pipeline's real result on the sample slice:
`POST /recommendations`, the stored route's request-time options and `?refresh=true` with the
local GitHub stand-in.

The known answers are the pipeline's own: a user in the run, described by what the run knew of
them, gets the rows the run stored; a limit past the stored top N starts with the stored list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from octorec.serving.api import ComputedRecommendations, UserRecommendations, create_app
from octorec.settings import load_settings
from octorec.testing.fake_github import FakeGitHub, FakeGitHubData
from octorec.warehouse import open_warehouse
from tests.conftest import COLD_START_LOGIN, NO_SIGNAL_LOGIN, SLICE_USERS

pytestmark = pytest.mark.slow

SCORE_TOLERANCE = 1e-6
STRANGER = "Agu168"
"""A sample user the slice's run did not know (their stars are in the sample snapshot)."""
API_TOKEN = "test-api-token-never-logged"


def _stored(database: Path) -> dict[str, list[dict[str, Any]]]:
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(
            "SELECT user_login, project_full_name, rank, score "
            "FROM user_project_similarities ORDER BY user_login, rank"
        ).to_pylist()
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["user_login"], []).append(row)
    return found


def _known_of(database: Path) -> dict[str, dict[str, Any]]:
    """What the run knew of each user: known projects, declared labels, profile text."""
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(
            "SELECT d.user_login, d.known_projects, d.categories, d.tech_stack, "
            "d.profile_basis, e.profile_text FROM dbt_user_project_similarities AS d "
            "INNER JOIN dbt_user_embeddings_data AS e ON e.user_login = d.user_login"
        ).to_pylist()
    return {row["user_login"]: row for row in rows}


def _body_for(known: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"starred": list(known["known_projects"]), "limit": 5}
    if known["profile_basis"] == "declared":  # labels the run took as declared, not derived
        body["categories"] = list(known["categories"])
        body["tech_stack"] = list(known["tech_stack"])
    if known["profile_text"]:
        body["bio"] = known["profile_text"]
    return body


def _pairs(recommendations: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(r["project"]["full_name"], r["score"]) for r in recommendations]


@pytest.mark.parametrize("login", [*SLICE_USERS, COLD_START_LOGIN, NO_SIGNAL_LOGIN])
def test_a_user_of_the_run_gets_the_stored_list_on_request(
    live_server: str, served_database: Path, login: str
) -> None:
    stored = _stored(served_database)[login]
    body = _body_for(_known_of(served_database)[login])
    response = httpx.post(f"{live_server}/recommendations", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer = ComputedRecommendations.model_validate(response.json())
    assert answer.computed and answer.unknown_projects == []
    assert [r.project.full_name for r in answer.recommendations] == [
        row["project_full_name"] for row in stored
    ]
    for computed, row in zip(answer.recommendations, stored, strict=True):
        assert computed.score == pytest.approx(row["score"], abs=SCORE_TOLERANCE)
        assert computed.rank == row["rank"]
    served = httpx.get(f"{live_server}/users/{login}/recommendations").json()
    assert answer.weights == pytest.approx(served["weights"])
    assert [r.reason for r in answer.recommendations] == [
        r["reason"] for r in served["recommendations"]
    ]


def test_a_limit_past_the_stored_top_n_is_computed_and_extends_the_stored_list(
    live_server: str, served_database: Path
) -> None:
    login = "dkadev"
    stored = _stored(served_database)[login]
    assert len(stored) == 5
    body = httpx.get(f"{live_server}/users/{login}/recommendations", params={"limit": 9}).json()
    UserRecommendations.model_validate(body)
    assert body["computed"] is True and len(body["recommendations"]) == 9
    assert [r["rank"] for r in body["recommendations"]] == list(range(1, 10))
    assert _pairs(body["recommendations"])[:5] == [
        (row["project_full_name"], pytest.approx(row["score"], abs=SCORE_TOLERANCE))
        for row in stored
    ]
    scores = [r["score"] for r in body["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    within = httpx.get(f"{live_server}/users/{login}/recommendations", params={"limit": 3}).json()
    assert within["computed"] is False and len(within["recommendations"]) == 3


def test_a_plain_request_gets_the_answer_the_declared_route_gives(
    live_server: str, served_database: Path
) -> None:
    # Without a query string the stored answer is sent encoded once; it must be the bytes the
    # declared route (parameters resolved) sends for the same answer.
    login = "dkadev"
    stored = _stored(served_database)[login]
    plain = httpx.get(f"{live_server}/users/{login.upper()}/recommendations")
    declared = httpx.get(
        f"{live_server}/users/{login}/recommendations", params={"limit": len(stored)}
    )
    assert plain.status_code == declared.status_code == 200
    assert plain.content == declared.content
    assert plain.headers["content-type"] == "application/json"
    assert [r["project"]["full_name"] for r in plain.json()["recommendations"]] == [
        row["project_full_name"] for row in stored
    ]
    missing = httpx.get(f"{live_server}/users/dkadevv/recommendations")
    assert missing.status_code == 404 and "dkadev" in missing.json()["close_matches"]
    invalid = httpx.get(f"{live_server}/users/-bad-/recommendations")
    assert invalid.status_code == 422


def test_exclude_removes_projects_and_the_next_ones_move_up(
    live_server: str, served_database: Path
) -> None:
    login = "dkadev"
    full = httpx.get(f"{live_server}/users/{login}/recommendations", params={"limit": 8}).json()
    names = [r["project"]["full_name"] for r in full["recommendations"]]
    dropped = [names[0], names[2]]
    for params in (
        {"limit": 6, "exclude": ",".join(dropped)},
        [("limit", "6"), ("exclude", dropped[0]), ("exclude", dropped[1].upper())],
    ):
        body = httpx.get(f"{live_server}/users/{login}/recommendations", params=params).json()
        assert [r["project"]["full_name"] for r in body["recommendations"]] == [
            n for n in names if n not in dropped
        ][:6]
        assert [r["rank"] for r in body["recommendations"]] == list(range(1, 7))


def test_language_and_category_filters_keep_only_matching_projects(
    live_server: str, served_database: Path
) -> None:
    login = "dkadev"
    with open_warehouse(served_database, read_only=True) as warehouse:
        projects = {
            row["full_name"]: row
            for row in warehouse.query(
                "SELECT full_name, language, categories FROM dbt_project_enriched_data"
            ).to_pylist()
        }
    url = f"{live_server}/users/{login}/recommendations"
    body = httpx.get(url, params={"language": "python", "limit": 6}).json()
    assert body["recommendations"], "the slice has Python projects to recommend"
    assert {projects[r["project"]["full_name"]]["language"] for r in body["recommendations"]} == {
        "Python"
    }
    body = httpx.get(url, params={"category": "ai-ml,web", "limit": 6}).json()
    assert body["recommendations"]
    for r in body["recommendations"]:
        assert {"ai-ml", "web"} & set(projects[r["project"]["full_name"]]["categories"])
    computed = httpx.post(
        f"{live_server}/recommendations",
        json={"starred": ["vuejs/vue"], "language": ["TypeScript"], "limit": 4},
    ).json()
    assert {
        projects[r["project"]["full_name"]]["language"] for r in computed["recommendations"]
    } <= {"TypeScript"}


def test_unknown_projects_and_labels_are_reported_not_fatal(live_server: str) -> None:
    response = httpx.post(
        f"{live_server}/recommendations",
        json={
            "starred": ["nobody/not-a-project", "VUEJS/VUE"],
            "categories": ["Machine Learning", "underwater basket weaving"],
            "tech_stack": ["py", "cobol-on-cogs"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["unknown_projects"] == ["nobody/not-a-project"]
    assert body["known_projects"] == ["vuejs/vue"]
    assert body["unmatched_categories"] == ["underwater basket weaving"]
    assert body["unmatched_tech_stack"] == ["cobol-on-cogs"]
    names = [r["project"]["full_name"] for r in body["recommendations"]]
    assert names and "vuejs/vue" not in names


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"starred": ["not a name"]}, "starred"),
        ({"starred": ["a/b"] * 2001}, "starred"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"bio": "x" * 2001}, "bio"),
        ({"categories": ["x" * 101]}, "categories"),
        ({"stars": ["a/b"]}, "stars"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(
    live_server: str, body: dict[str, Any], field: str
) -> None:
    response = httpx.post(f"{live_server}/recommendations", json=body)
    assert response.status_code == 422
    assert field in [str(part) for error in response.json()["detail"] for part in error["loc"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"exclude": "not a project"}, "exclude"),
        ({"exclude": "a/b,also bad"}, "exclude"),
        ({"refresh": "perhaps"}, "refresh"),
        ({"language": "\x01"}, "language"),
    ],
)
def test_bad_options_are_422(live_server: str, params: dict[str, str], field: str) -> None:
    response = httpx.get(f"{live_server}/users/dkadev/recommendations", params=params)
    assert response.status_code == 422
    assert field in response.text


def test_the_openapi_document_describes_the_options(live_server: str) -> None:
    schema = httpx.get(f"{live_server}/openapi.json").json()
    stored = schema["paths"]["/users/{login}/recommendations"]["get"]
    assert {p["name"] for p in stored["parameters"]} == {
        "login",
        "limit",
        "language",
        "category",
        "exclude",
        "refresh",
    }
    assert "post" in schema["paths"]["/recommendations"]


@pytest.fixture
def stranger_github(sample_dir: Path) -> Iterator[FakeGitHub]:
    data = FakeGitHubData.from_snapshot(sample_dir, users=[STRANGER])
    with FakeGitHub(data, token="ghp_test_token") as api:
        yield api


@pytest.fixture
def refresh_client(
    served_database: Path, stranger_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("OCTOREC_DATABASE", str(served_database))
    monkeypatch.setenv("GITHUB_API_URL", stranger_github.url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token")
    monkeypatch.setenv("API_TOKEN", API_TOKEN)
    monkeypatch.setenv("GITHUB_BACKOFF_SECONDS", "0.01")
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        yield client


def test_refresh_scores_a_login_the_run_did_not_know_from_their_github_stars(
    refresh_client: TestClient, stranger_github: FakeGitHub
) -> None:
    path = f"/users/{STRANGER.lower()}/recommendations"
    assert refresh_client.get(path).status_code == 404
    denied = refresh_client.get(path, params={"refresh": "true"})
    assert denied.status_code == 401 and API_TOKEN not in denied.text
    assert stranger_github.requests["starred"] == 0
    authorised = {"Authorization": f"Bearer {API_TOKEN}"}
    response = refresh_client.get(path, params={"refresh": "true"}, headers=authorised)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["login"] == STRANGER and body["computed"] is True
    assert stranger_github.requests["starred"] >= 1
    starred = [name for name, _ in stranger_github.data.stars[STRANGER.lower()]]
    assert body["recommendations"] and body["unknown_projects"]
    assert not {r["project"]["full_name"] for r in body["recommendations"]} & set(starred)
    assert len(body["recommendations"]) == 5  # no limit: the stored top N's size
    same = refresh_client.post("/recommendations", json={"starred": starred, "limit": 5}).json()
    assert _pairs(body["recommendations"]) == _pairs(same["recommendations"])
    missing = refresh_client.get(
        "/users/no-such-person-here/recommendations",
        params={"refresh": "true"},
        headers=authorised,
    )
    assert missing.status_code == 404 and "GitHub has no user" in missing.json()["detail"]


def test_refresh_without_a_github_token_says_what_to_set(
    served_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOREC_DATABASE", str(served_database))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("API_TOKEN", raising=False)
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        response = client.get(f"/users/{STRANGER}/recommendations", params={"refresh": "true"})
    assert response.status_code == 503 and "GITHUB_TOKEN" in response.json()["detail"]


def test_dismissed_projects_leave_stored_and_computed_answers(
    served_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOREC_DATABASE", str(served_database))
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        path = "/users/dkadev/recommendations"
        before = [r["project"]["full_name"] for r in client.get(path).json()["recommendations"]]
        client.app.state.on_request.dismissed = lambda login: (
            {before[1]} if login == "dkadev" else set()
        )
        for limit in (3, 8):  # from the stored rows, then computed
            after = client.get(path, params={"limit": limit}).json()["recommendations"]
            assert before[1] not in [r["project"]["full_name"] for r in after]
            assert len(after) == limit
