from octorec.github.http import GitHubHttp
from octorec.github.search import _star_bounds, search_repositories
from octorec.testing.fake_github import FakeGitHub


def test_star_bounds_of_queries() -> None:
    assert _star_bounds("language:go") == (0, None)
    assert _star_bounds("stars:>100") == (101, None)
    assert _star_bounds("stars:>=100 language:go") == (100, None)
    assert _star_bounds("stars:10..20") == (10, 20)
    assert _star_bounds("stars:<50") == (0, 49)


def test_results_past_the_1000_cap_are_reached_by_splitting(fake_github: FakeGitHub) -> None:
    every = sorted(fake_github.data.repositories.values(), key=lambda r: -r["stargazers_count"])
    with GitHubHttp(fake_github.url) as http:
        found = search_repositories(http, "stars:>0", 2500)
    names = [r["full_name"] for r in found]
    assert len(names) == len(set(names)) == 2500
    stars = [r["stargazers_count"] for r in found]
    assert stars == sorted(stars, reverse=True)
    # The same stars as the true top 2,500 (names may differ only among equal star counts).
    assert stars == [r["stargazers_count"] for r in every[:2500]]


def test_small_limits_need_no_split(fake_github: FakeGitHub) -> None:
    with GitHubHttp(fake_github.url) as http:
        found = search_repositories(http, "language:rust", 150)
    assert len(found) == 150
    assert fake_github.requests["search"] == 1 + 2  # the probe and two pages of 100
