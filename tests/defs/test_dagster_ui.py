"""The real Dagster webserver loads the code location and shows the pipeline through GraphQL.

This is what `dagster dev` users see: the job, its ten assets in their groups, and the dbt tests as
asset checks, read from the running server rather than from the Python objects.
"""

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from octorec.testing.processes import free_port, output_tail, running_server
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

JOB = "training_data_pipeline"
# The known answer: the job's assets and their groups, written out rather than read from the code.
JOB_ASSETS = {
    "github_data_ready": "github_data",
    "github_scraping": "github_data",
    "dbt_projects": "ml_preparation",
    "dbt_project_enriched_data": "ml_preparation",
    "dbt_user_embeddings_data": "ml_preparation",
    "project_semantic_embeddings": "ml_embeddings",
    "project_hybrid_embeddings": "ml_embeddings",
    "user_embeddings": "ml_embeddings",
    "dbt_user_project_similarities": "ml_similarities",
    "recommendation_model": "ml_similarities",
    "user_project_similarities": "ml_similarities",
}
# One uniqueness test per dbt model, on the column the model is keyed by.
KEY_CHECKS = {
    "dbt_projects": "unique_dbt_projects_project_key",
    "dbt_project_enriched_data": "unique_dbt_project_enriched_data_full_name",
    "dbt_user_embeddings_data": "unique_dbt_user_embeddings_data_user_login",
    "dbt_user_project_similarities": "unique_dbt_user_project_similarities_user_login",
    # octorec's own checks on what users read (octorec.scoring.checks)
    "project_semantic_embeddings": "embeddings_have_model_dimension_and_unit_norm",
    "user_embeddings": "embeddings_have_model_dimension_and_unit_norm",
    "user_project_similarities": "nothing_already_known",
}
# Loading the code location can parse the dbt project; on a small machine that takes a minute.
STARTUP_TIMEOUT_SECONDS = 300.0
REQUEST_TIMEOUT_SECONDS = 120.0

WORKSPACE_QUERY = """
{
  workspaceOrError {
    __typename
    ... on PythonError { message stack }
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
          ... on RepositoryLocation { name }
        }
      }
    }
  }
}
"""

REPOSITORIES_QUERY = """
{
  repositoriesOrError {
    __typename
    ... on PythonError { message stack }
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
  }
}
"""

ASSETS_QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    jobNames
    hasAssetChecks
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name } }
    }
  }
}
"""


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dagster-webserver -m octorec.definitions` on a free port; yields its base URL."""
    directory = tmp_path_factory.mktemp("dagster-ui")
    home = directory / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "OCTOREC_DATABASE": str(directory / "octorec.duckdb"),
        "HF_HUB_OFFLINE": "1",
    }
    port = free_port()
    executable = Path(sys.executable).parent / "dagster-webserver"
    command = [str(executable), "-m", "octorec.definitions", "-h", "127.0.0.1", "-p", str(port)]
    log = directory / "webserver.log"
    url = f"http://127.0.0.1:{port}"
    try:
        with running_server(
            command,
            f"{url}/server_info",
            log,
            env=env,
            cwd=ROOT,
            timeout=STARTUP_TIMEOUT_SECONDS,
            stop_timeout=60,
        ):
            yield url
    finally:
        print(f"webserver output ({log}):\n{output_tail(log)}")


def _graphql(url: str, query: str) -> dict[str, Any]:
    """POST a query to the webserver; fail with the server's errors if it reports any."""
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=REQUEST_TIMEOUT_SECONDS)
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:2000]}"
    payload = response.json()
    assert not payload.get("errors"), f"GraphQL errors: {payload['errors']}"
    data: dict[str, Any] = payload["data"]
    return data


def _python_error(value: dict[str, Any] | None) -> str:
    if value is None or value.get("__typename") != "PythonError":
        return ""
    return f"{value['message']}\n{''.join(value['stack'])}"


def test_the_code_location_loads_without_error(webserver: str) -> None:
    workspace = _graphql(webserver, WORKSPACE_QUERY)["workspaceOrError"]
    assert workspace["__typename"] == "Workspace", _python_error(workspace)
    [entry] = workspace["locationEntries"]
    location = entry["locationOrLoadError"]
    assert location is not None, f"location {entry['name']} has neither a location nor an error"
    assert location["__typename"] == "RepositoryLocation", _python_error(location)
    assert entry["loadStatus"] == "LOADED"


def test_the_job_is_in_the_repository(webserver: str) -> None:
    repositories = _graphql(webserver, REPOSITORIES_QUERY)["repositoriesOrError"]
    assert repositories["__typename"] == "RepositoryConnection", _python_error(repositories)
    [repository] = repositories["nodes"]
    jobs = {job["name"] for job in repository["jobs"]}
    assert JOB in jobs, f"jobs found: {sorted(jobs)}"


@pytest.fixture(scope="module")
def asset_nodes(webserver: str) -> dict[str, dict[str, Any]]:
    """Every asset node the webserver shows, by its key as a string."""
    nodes = _graphql(webserver, ASSETS_QUERY)["assetNodes"]
    return {"/".join(node["assetKey"]["path"]): node for node in nodes}


def test_the_job_assets_are_shown_in_their_groups(asset_nodes: dict[str, dict[str, Any]]) -> None:
    found = {name: asset_nodes[name]["groupName"] for name in JOB_ASSETS if name in asset_nodes}
    assert found == JOB_ASSETS, f"assets shown: {sorted(asset_nodes)}"
    for name in JOB_ASSETS:
        assert JOB in asset_nodes[name]["jobNames"], (name, asset_nodes[name]["jobNames"])


def test_the_job_has_exactly_those_eleven_assets(asset_nodes: dict[str, dict[str, Any]]) -> None:
    in_job = {name for name, node in asset_nodes.items() if JOB in node["jobNames"]}
    assert in_job == set(JOB_ASSETS)
    assert len(in_job) == 11


def test_dbt_tests_and_output_checks_are_shown_as_asset_checks(
    asset_nodes: dict[str, dict[str, Any]],
) -> None:
    with_checks = {name for name, node in asset_nodes.items() if node["hasAssetChecks"]}
    assert with_checks == set(KEY_CHECKS)
    for name, check in KEY_CHECKS.items():
        checks = asset_nodes[name]["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", checks
        assert check in {c["name"] for c in checks["checks"]}, (name, checks["checks"])
