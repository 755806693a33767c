from pathlib import Path

import pytest

from octorec.sources import SourceUnavailableError
from octorec.sources.snapshot import SnapshotSource

REPOS_HEADER = (
    "full_name,description,language,topics,stars,forks,open_issues,created_at,pushed_at,source\n"
)


def _snapshot(directory: Path, repos: str, stars: str, users: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "repos.csv").write_text(REPOS_HEADER + repos, encoding="utf-8")
    (directory / "user_stars.csv").write_text("user,repo_full_name\n" + stars, encoding="utf-8")
    if users is not None:
        (directory / "users.csv").write_text(users, encoding="utf-8")
    return directory


def test_the_sample_loads_completely(sample_dir: Path) -> None:
    data = SnapshotSource(sample_dir).fetch()
    assert len(data.repositories) == 6279
    assert len(data.users) == 65
    assert len(data.interactions) == 20204
    assert data.rejected == []
    first = data.repositories[0]
    assert first.full_name == "codecrafters-io/build-your-own-x"
    assert first.stars == 541915
    assert "tutorial-code" in first.topics


def test_malformed_rows_are_kept_out_and_reported_with_file_line_and_field(
    tmp_path: Path,
) -> None:
    directory = _snapshot(
        tmp_path / "snap",
        repos=(
            "good/one,A tool,Python,cli|tools,10,1,0,2020-01-01T00:00:00Z,2024-01-01T00:00:00Z,x\n"
            "bad name,Broken,Python,,10,1,0,,,x\n"
            "good/two,Another,Go,,-5,1,0,,,x\n"
            '"good/three","multi\nline description",Rust,,7,,,,,x\n'
            "good/four,Too few fields\n"
            "good/five,When,Go,,1,1,1,not-a-date,,x\n"
            "good/one,Again,Python,,10,1,0,,,x\n"
        ),
        stars="alice,good/one\nalice,good/one\n-bad-,good/one\nbob,nonsense\n",
    )
    data = SnapshotSource(directory).fetch()

    assert [r.full_name for r in data.repositories] == ["good/one", "good/three"]
    assert data.repositories[1].description == "multi\nline description"
    problems = {(r.source_file, r.line_number, r.field) for r in data.rejected}
    assert problems == {
        ("repos.csv", 3, "full_name"),
        ("repos.csv", 4, "stars"),
        ("repos.csv", 7, None),  # too few fields; the multi-line record took lines 5 and 6
        ("repos.csv", 8, "created_at"),
        ("repos.csv", 9, None),  # duplicate of line 2
        ("user_stars.csv", 3, None),  # duplicate interaction
        ("user_stars.csv", 4, "user"),
        ("user_stars.csv", 5, "repo_full_name"),
    }
    by_line = {(r.source_file, r.line_number): r for r in data.rejected}
    assert "duplicate of line 2" in by_line[("repos.csv", 9)].reason
    assert "expected 10 fields, found 2" in by_line[("repos.csv", 7)].reason
    assert by_line[("repos.csv", 4)].describe() == (
        "repos.csv:4 field 'stars': expected a non-negative whole number, found '-5'"
    )
    assert [(i.user_login, i.repo_full_name) for i in data.interactions] == [("alice", "good/one")]


def test_optional_users_file_carries_declared_interests(tmp_path: Path) -> None:
    directory = _snapshot(
        tmp_path / "snap",
        repos="a/b,x,Go,,1,1,1,,,s\n",
        stars="alice,a/b\n",
        users="login,bio,categories,tech_stack\nalice,Data person,ai-ml|databases,python\n",
    )
    data = SnapshotSource(directory).fetch()
    assert data.users[0].login == "alice"
    assert data.users[0].bio == "Data person"
    assert data.users[0].declared_categories == ("ai-ml", "databases")
    assert data.users[0].declared_tech_stack == ("python",)


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        SourceUnavailableError, match=r"snapshot directory .*nowhere does not exist"
    ):
        SnapshotSource(tmp_path / "nowhere").check_available()


def test_missing_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "repos.csv").write_text(REPOS_HEADER)
    with pytest.raises(SourceUnavailableError, match=r"user_stars\.csv does not exist"):
        SnapshotSource(tmp_path / "snap").check_available()


def test_wrong_header_says_what_was_expected(tmp_path: Path) -> None:
    directory = _snapshot(tmp_path / "snap", repos="", stars="")
    (directory / "user_stars.csv").write_text("login,repo\nalice,a/b\n")
    with pytest.raises(SourceUnavailableError, match=r"no column user, repo_full_name"):
        SnapshotSource(directory).check_available()


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    directory = _snapshot(tmp_path / "snap", repos="", stars="")
    (directory / "repos.csv").write_bytes(
        REPOS_HEADER.encode() + "a/b,caf\xe9,,,1,,,,,\n".encode("latin-1")
    )
    with pytest.raises(SourceUnavailableError, match=r"repos\.csv is not UTF-8"):
        SnapshotSource(directory).fetch()
