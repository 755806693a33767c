"""The client against the GitHub stand-in: every fault ends with the right answer."""

import pytest

from octorec.github.http import GitHubFetchError, GitHubHttp, RetryPolicy
from octorec.testing.fake_github import FAULT_KINDS, FakeGitHub

FAST = RetryPolicy(max_retries=4, backoff_base=0.02, backoff_cap=0.1, max_wait=5)


def _client(api: FakeGitHub, **kwargs) -> GitHubHttp:
    return GitHubHttp(api.url, "ghp_secret_value", policy=FAST, timeout=0.5, **kwargs)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_is_survived(fake_github: FakeGitHub, kind: str) -> None:
    clean = _client(fake_github).get("/users/HearLing/starred", {"per_page": 3}).body
    fake_github.inject(kind, r"/users/guohekui/starred")
    with _client(fake_github) as http:
        answer = http.get("/users/guohekui/starred", {"per_page": 3})
    reference = _client(fake_github).get("/users/guohekui/starred", {"per_page": 3}).body
    assert answer.body == reference
    assert clean  # the stand-in serves data at all
    if kind in ("primary", "secondary", "429"):
        assert http.stats.rate_limit_waits == 1
    else:
        assert http.stats.retries == 1


def test_graphql_faults_are_survived(fake_github: FakeGitHub) -> None:
    query = 'query { r0: repository(owner: "rust-lang", name: "rust") { nameWithOwner } }'
    fake_github.inject("502", "/graphql")
    fake_github.inject("truncated", "/graphql")
    with _client(fake_github) as http:
        body = http.graphql(query).body
    assert body["data"]["r0"]["nameWithOwner"] == "rust-lang/rust"
    assert http.stats.retries == 2


def test_giving_up_names_what_was_not_fetched_and_never_the_token(
    fake_github: FakeGitHub,
) -> None:
    for _ in range(FAST.max_retries + 1):
        fake_github.inject("503", "/users/HearLing$")
    with pytest.raises(GitHubFetchError) as raised, _client(fake_github) as http:
        http.get("/users/HearLing")
    message = str(raised.value)
    assert message == "GET /users/HearLing not fetched after 5 attempts (HTTP 503)"
    assert "ghp_secret_value" not in message
    assert fake_github.seen_authorization == {"Bearer ghp_secret_value"}


def test_unchanged_answers_cost_no_rate_limit(fake_github: FakeGitHub) -> None:
    with _client(fake_github) as http:
        first = http.get("/users/HearLing/starred")
        remaining = http.stats.remaining["core"]
        again = http.get("/users/HearLing/starred")
    assert again.not_modified and again.body == first.body
    assert http.stats.remaining["core"] == remaining
    assert fake_github.not_modified == 1


def test_missing_repositories_are_reported_not_raised(fake_github: FakeGitHub) -> None:
    with _client(fake_github) as http:
        assert http.get("/repos/nobody/nothing", missing_ok=True).status == 404
        with pytest.raises(GitHubFetchError, match="HTTP 404"):
            http.get("/repos/nobody/nothing")


def test_pagination_follows_link_headers(fake_github: FakeGitHub) -> None:
    with _client(fake_github) as http:
        page = http.get("/users/guohekui/starred", {"per_page": 4, "page": 1})
        assert page.next_page() == "/users/guohekui/starred?per_page=4&page=2"
        assert len(page.body) == 4


def test_a_refusal_that_is_not_a_rate_limit_is_not_retried(fake_github: FakeGitHub) -> None:
    fake_github.data.gone["secret/repo"] = 403
    try:
        with _client(fake_github) as http:
            assert http.get("/repos/secret/repo", missing_ok=True).status == 403
            assert http.stats.retries == 0
    finally:
        fake_github.data.gone.clear()


def test_a_wrong_token_is_a_clear_error_without_the_token(github_data) -> None:
    with (
        FakeGitHub(github_data, token="right-token") as api,
        _client(api) as http,
        pytest.raises(GitHubFetchError, match="HTTP 401: Bad credentials") as raised,
    ):
        http.get("/users/HearLing")
    assert "ghp_secret_value" not in str(raised.value)


def test_endless_rate_limiting_gives_up(fake_github: FakeGitHub) -> None:
    policy = RetryPolicy(max_retries=1, backoff_base=0.01, max_wait=5, max_rate_limit_waits=2)
    for _ in range(5):
        fake_github.inject("secondary", "/users/HearLing$")
    fake_github.latency_seconds = 0
    with (
        GitHubHttp(fake_github.url, policy=policy) as http,
        pytest.raises(GitHubFetchError, match="still rate limited after 2 waits"),
    ):
        http.get("/users/HearLing")
