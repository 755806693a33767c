"""GraphQL and REST repository objects read as GitHub's schema types them."""

from typing import Any

import pytest

from octorec.github import records

NODE: dict[str, Any] = {
    "databaseId": 7,
    "nameWithOwner": "octo/cat",
    "description": "A cat",
    "homepageUrl": "",
    "primaryLanguage": {"name": "Rust"},
    "languages": {"edges": [{"size": 120, "node": {"name": "Rust"}}, None]},
    "repositoryTopics": {"nodes": [{"topic": {"name": "cli"}}]},
    "stargazerCount": 10,
    "forkCount": 2,
    "watchers": {"totalCount": 3},
    "issues": {"totalCount": 1},
    "licenseInfo": {"spdxId": "MIT"},
    "isFork": False,
    "isArchived": False,
    "isDisabled": False,
    "createdAt": "2020-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
    "pushedAt": "2025-06-01T00:00:00Z",
    "readme": {"text": "# cat"},
}


@pytest.mark.parametrize(
    "field",
    [
        "databaseId",
        "description",
        "homepageUrl",
        "primaryLanguage",
        "languages",
        "licenseInfo",
        "pushedAt",
        "readme",
    ],
)
def test_a_field_the_schema_makes_nullable_may_be_null(field: str) -> None:
    record = records.repository_from_graphql({**NODE, field: None}, "octo/cat")
    assert record.full_name == "octo/cat" and record.stars == 10


def test_nested_nullable_lists_and_their_null_items() -> None:
    node = {**NODE, "languages": {"edges": None}, "repositoryTopics": {"nodes": [None]}}
    record = records.repository_from_graphql(node, "octo/cat")
    assert record.languages == {} and record.topics == ()
    assert record.language == "Rust" and record.github_id == 7 and record.homepage is None


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("stargazerCount", "many", "stargazerCount"),
        ("stargazerCount", None, "stargazerCount"),
        ("stargazerCount", True, "stargazerCount"),
        ("forkCount", -1, "forkCount"),
        ("languages", [], "languages"),
        ("languages", {"edges": [{"size": "big", "node": {"name": "C"}}]}, "languages.edges.size"),
        ("repositoryTopics", None, "repositoryTopics"),
        ("repositoryTopics", {"nodes": ["cli"]}, "repositoryTopics.nodes"),
        ("isFork", "no", "isFork"),
        ("createdAt", "yesterday", "createdAt"),
        ("nameWithOwner", "not a name", "nameWithOwner"),
        ("watchers", {"totalCount": None}, "watchers.totalCount"),
    ],
)
def test_a_value_of_another_type_is_rejected_naming_the_field(
    field: str, value: Any, path: str
) -> None:
    with pytest.raises(records.RejectedField) as raised:
        records.repository_from_graphql({**NODE, field: value}, "octo/cat")
    assert raised.value.field == path
    assert str(raised.value).startswith("expected ")


def test_a_rename_is_kept_in_the_payload() -> None:
    record = records.repository_from_graphql(NODE, "old/cat")
    assert record.payload["renamed_from"] == "old/cat" and "readme" not in record.payload


def test_the_rest_object_gives_the_same_record() -> None:
    rest = {
        "id": 7,
        "full_name": "octo/cat",
        "description": "A cat",
        "homepage": "",
        "language": "Rust",
        "topics": ["cli"],
        "stargazers_count": 10,
        "forks_count": 2,
        "subscribers_count": 3,
        "open_issues_count": 1,
        "license": {"spdx_id": "MIT"},
        "fork": False,
        "archived": False,
        "disabled": False,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "pushed_at": "2025-06-01T00:00:00Z",
    }
    from_rest = records.repository_from_rest(rest, {"Rust": 120}, "# cat", "octo/cat")
    from_graphql = records.repository_from_graphql(NODE, "octo/cat")
    different = {"source", "payload"}
    assert {k: v for k, v in vars(from_rest).items() if k not in different} == {
        k: v for k, v in vars(from_graphql).items() if k not in different
    }
    with pytest.raises(records.RejectedField, match="non-negative integer"):
        records.repository_from_rest(rest, {"Rust": "lots"}, None, "octo/cat")
