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


GOOD_AFTER = (
    "after/one,First after,Go,,1,,,,,x\n"
    "after/two,Second after,Go,,2,,,,,x\n"
    "after/three,Third after,Go,,3,,,,,x\n"
)


@pytest.mark.parametrize(
    ("broken", "tail"),
    [
        # The quote is never closed: csv would read to the end of the file as one field.
        ('broken/one,"never closed,Go,,1,,,,,x\n', ""),
        # Closed by the next quoted field further down: the record would swallow the lines
        # between and have too many or too few fields.
        ('broken/one,"closed much later,Go,,1,,,,,x\n', 'later/one,"quoted, fine",Go,,4,,,,,x\n'),
        # Closed by a stray quote whose line completes the field count: the merged record
        # would have exactly the right number of fields.
        ('broken/one,"oops,Go,,1,,,,,x\n', 'later/two,ends here",Go,,4,,,,,x\n'),
        # A quote opened in the last field.
        ('broken/one,desc,Go,,1,,,,,"x\n', 'later/one,"quoted, fine",Go,,4,,,,,x\n'),
    ],
    ids=["never-closed", "closed-later", "right-count-by-chance", "last-field"],
)
def test_an_unclosed_quote_costs_only_its_own_line(tmp_path: Path, broken: str, tail: str) -> None:
    directory = _snapshot(
        tmp_path / "snap",
        repos="before/one,Fine,Go,,1,,,,,x\n" + broken + GOOD_AFTER + tail,
        stars="alice,before/one\n",
    )
    data = SnapshotSource(directory).fetch()

    names = [r.full_name for r in data.repositories]
    assert names[:4] == ["before/one", "after/one", "after/two", "after/three"]
    assert "broken/one" not in names
    expected_tail = [line.split(",", 1)[0] for line in tail.splitlines()]
    assert names[4:] == expected_tail
    [rejected] = data.rejected
    assert (rejected.source_file, rejected.line_number) == ("repos.csv", 3)
    assert "quote" in rejected.reason
    assert rejected.raw_line == broken.rstrip("\n")


def test_an_unclosed_quote_in_the_stars_file_keeps_the_stars_after_it(tmp_path: Path) -> None:
    directory = _snapshot(
        tmp_path / "snap",
        repos="a/b,x,Go,,1,,,,,s\nc/d,y,Go,,1,,,,,s\n",
        stars='alice,a/b\nbob,"a/b\ncarol,a/b\ncarol,c/d\n',
    )
    data = SnapshotSource(directory).fetch()

    pairs = [(i.user_login, i.repo_full_name) for i in data.interactions]
    assert pairs == [("alice", "a/b"), ("carol", "a/b"), ("carol", "c/d")]
    assert [(r.source_file, r.line_number) for r in data.rejected] == [("user_stars.csv", 3)]


def test_a_quoted_field_over_several_lines_is_still_one_field(tmp_path: Path) -> None:
    directory = _snapshot(
        tmp_path / "snap",
        repos=(
            'a/b,"first line\nsecond, with a comma\nthird",Go,,1,,,,,s\nc/d,plain,Go,,2,,,,,s\n'
        ),
        stars="alice,a/b\n",
    )
    data = SnapshotSource(directory).fetch()

    assert data.rejected == []
    assert [r.description for r in data.repositories] == [
        "first line\nsecond, with a comma\nthird",
        "plain",
    ]


def test_a_long_field_loads_and_an_oversized_one_is_rejected_with_its_line(
    tmp_path: Path,
) -> None:
    from octorec.sources.snapshot import MAX_FIELD_CHARS

    long = "d" * (200 * 1024)
    oversized = "e" * (MAX_FIELD_CHARS + 1)
    directory = _snapshot(
        tmp_path / "snap",
        repos=(
            f"long/one,{long},Go,,1,,,,,s\n"
            f"huge/one,{oversized},Go,,1,,,,,s\n"
            f'huge/two,"{oversized}\n{oversized}",Go,,1,,,,,s\n'
            "after/one,fine,Go,,1,,,,,s\n"
        ),
        stars="alice,long/one\n",
    )
    data = SnapshotSource(directory).fetch()

    assert [r.full_name for r in data.repositories] == ["long/one", "after/one"]
    assert data.repositories[0].description == long
    rejected = {(r.line_number, r.field): r for r in data.rejected}
    assert set(rejected) == {(3, "description"), (4, "description")}
    assert f"more than the {MAX_FIELD_CHARS:,}" in rejected[(3, "description")].reason
    assert len(rejected[(3, "description")].raw_line) < 10_000


def test_nul_bytes_are_removed_and_reported_with_their_line(tmp_path: Path) -> None:
    directory = _snapshot(
        tmp_path / "snap",
        repos="a/b,nul\x00here,Go,,1,,,,,s\nc/d,fine,Go,,1,,,,,s\n",
        stars="alice,a/b\n",
    )
    data = SnapshotSource(directory).fetch()

    assert [r.description for r in data.repositories] == ["nulhere", "fine"]
    assert data.rejected == []
    [warning] = data.warnings
    assert warning.startswith("repos.csv:2: ") and "NUL" in warning


def test_non_utf8_bytes_are_named_by_line_and_byte_offset(tmp_path: Path) -> None:
    directory = _snapshot(tmp_path / "snap", repos="", stars="")
    content = (
        REPOS_HEADER.encode() + b"a/b,fine,,,1,,,,,\n" + "c/d,caf\xe9,,,1,,,,,\n".encode("latin-1")
    )
    (directory / "repos.csv").write_bytes(content)
    offset = content.index(b"\xe9")
    with pytest.raises(SourceUnavailableError) as raised:
        SnapshotSource(directory).fetch()
    message = str(raised.value)
    assert "repos.csv" in message
    assert "line 3" in message
    assert f"byte offset {offset}" in message
    assert "read block" not in message


def test_duplicates_that_differ_in_case_keep_the_first_in_file_order(tmp_path: Path) -> None:
    for first, second in (("Foo/Bar", "foo/bar"), ("foo/bar", "Foo/Bar")):
        directory = _snapshot(
            tmp_path / first.replace("/", "_"),
            repos=f"{first},one,Go,,1,,,,,s\n{second},two,Go,,9,,,,,s\n",
            stars=f"alice,{first}\nALICE,{second}\n",
        )
        data = SnapshotSource(directory).fetch()
        assert [(r.full_name, r.description) for r in data.repositories] == [(first, "one")]
        assert [(i.user_login, i.repo_full_name) for i in data.interactions] == [("alice", first)]
        by_file = {r.source_file: r for r in data.rejected}
        assert set(by_file) == {"repos.csv", "user_stars.csv"}
        assert by_file["repos.csv"].line_number == 3
        assert "only in letter case" in by_file["repos.csv"].reason
        assert "line 2" in by_file["repos.csv"].reason


def test_labels_missing_from_the_taxonomy_are_named_in_a_warning(tmp_path: Path) -> None:
    directory = _snapshot(
        tmp_path / "snap",
        repos="a/b,x,Go,,1,,,,,s\n",
        stars="alice,a/b\n",
        users=(
            "login,categories,tech_stack\n"
            "alice,ai-ml|Quantum Knitting,python|COBOL++\n"
            "bob,quantum knitting|databases,Rust\n"
        ),
    )
    data = SnapshotSource(directory).fetch()

    assert data.users[0].declared_categories == ("ai-ml", "Quantum Knitting")
    assert len(data.warnings) == 2
    categories, tech = sorted(data.warnings)
    assert "'Quantum Knitting'" in categories and "lines 2, 3" in categories
    assert "categor" in categories and "taxonomy" in categories
    assert "'COBOL++'" in tech and "line 2" in tech
    assert not any("ai-ml" in w or "python" in w or "Rust" in w for w in data.warnings)


def test_the_taxonomy_read_is_the_dbt_projects_seeds() -> None:
    from octorec.dbt_project import DBT_PROJECT_DIR
    from octorec.sources.taxonomy import SEEDS_DIR

    assert SEEDS_DIR == DBT_PROJECT_DIR / "seeds"
