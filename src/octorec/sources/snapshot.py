"""A GitHub snapshot on disk: `repos.csv`, `user_stars.csv` and an optional `users.csv`.

The format is the one of `shared/data/github-sample/` (see its SOURCES.md). Rows that break the
format are kept out of the result and reported with file, line, field and reason; a file that is
missing or has the wrong header stops the run with a message that names the file.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from octorec.sources import validation as v
from octorec.sources.base import (
    GitHubSource,
    InteractionRecord,
    RejectedRow,
    RepositoryRecord,
    SourceData,
    SourceUnavailableError,
    UserRecord,
)

logger = logging.getLogger(__name__)

REPOS_FILE = "repos.csv"
STARS_FILE = "user_stars.csv"
USERS_FILE = "users.csv"

REPOS_REQUIRED = ("full_name",)
STARS_REQUIRED = ("user", "repo_full_name")
USERS_REQUIRED = ("login",)

RecordT = TypeVar("RecordT")


class _FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _field(row: dict[str, str], name: str, parse: Callable[[str | None], Any]) -> Any:
    try:
        return parse(row.get(name))
    except v.InvalidField as error:
        raise _FieldError(name, str(error)) from None


def _repository(row: dict[str, str]) -> RepositoryRecord:
    payload = {key: value for key, value in row.items() if value not in (None, "")}
    return RepositoryRecord(
        full_name=_field(row, "full_name", v.full_name),
        description=_field(row, "description", v.optional_text),
        language=_field(row, "language", v.optional_text),
        topics=_field(row, "topics", v.pipe_list),
        stars=_field(row, "stars", v.optional_count),
        forks=_field(row, "forks", v.optional_count),
        open_issues=_field(row, "open_issues", v.optional_count),
        created_at=_field(row, "created_at", v.optional_timestamp),
        pushed_at=_field(row, "pushed_at", v.optional_timestamp),
        is_fork=_field(row, "fork", v.optional_flag),
        is_archived=_field(row, "archived", v.optional_flag),
        is_disabled=_field(row, "disabled", v.optional_flag),
        readme_excerpt=_field(row, "readme_excerpt", v.optional_text),
        source=_field(row, "source", v.optional_text),
        payload=payload,
    )


def _interaction(row: dict[str, str]) -> InteractionRecord:
    return InteractionRecord(
        user_login=_field(row, "user", v.login),
        repo_full_name=_field(row, "repo_full_name", v.full_name),
        kind=_field(row, "kind", v.interaction_kind),
        interacted_at=_field(row, "starred_at", v.optional_timestamp),
        source=STARS_FILE,
    )


def _user(row: dict[str, str]) -> UserRecord:
    payload = {key: value for key, value in row.items() if value not in (None, "")}
    return UserRecord(
        login=_field(row, "login", v.login),
        name=_field(row, "name", v.optional_text),
        bio=_field(row, "bio", v.optional_text),
        company=_field(row, "company", v.optional_text),
        location=_field(row, "location", v.optional_text),
        declared_categories=_field(row, "categories", v.pipe_list),
        declared_tech_stack=_field(row, "tech_stack", v.pipe_list),
        snapshot_date=_field(row, "stars_snapshot_date", v.optional_date),
        source=USERS_FILE,
        payload=payload,
    )


class SnapshotSource(GitHubSource):
    """Reads a snapshot directory laid out like `shared/data/github-sample/`."""

    name = "snapshot"

    def __init__(
        self,
        directory: Path,
        *,
        repos: Path | None = None,
        stars: Path | None = None,
        users: Path | None = None,
    ) -> None:
        """Read `directory`'s three files, or the files named one by one (`octorec evaluate`)."""
        self.directory = Path(directory)
        self.paths: dict[str, Path | None] = {
            REPOS_FILE: Path(repos) if repos else self.directory / REPOS_FILE,
            STARS_FILE: Path(stars) if stars else self.directory / STARS_FILE,
            USERS_FILE: Path(users) if users else None,
        }
        if repos is None and stars is None and users is None:
            self.paths[USERS_FILE] = self.directory / USERS_FILE

    @classmethod
    def from_files(cls, repos: Path, stars: Path, users: Path | None = None) -> SnapshotSource:
        """A snapshot made of explicitly named files; without `users`, no users file is read."""
        return cls(Path(repos).parent, repos=repos, stars=stars, users=users)

    def _path(self, file_name: str) -> Path:
        path = self.paths[file_name]
        if path is None:
            raise SourceUnavailableError(f"no {file_name} was given")
        return path

    def check_available(self) -> dict[str, Any]:
        if not self._path(REPOS_FILE).parent.is_dir():
            raise SourceUnavailableError(
                f"snapshot directory {self.directory} does not exist; set OCTOREC_SNAPSHOT_DIR to "
                f"a directory holding {REPOS_FILE} and {STARS_FILE}"
            )
        facts: dict[str, Any] = {"snapshot_dir": str(self.directory)}
        for file_name, required in (
            (REPOS_FILE, REPOS_REQUIRED),
            (STARS_FILE, STARS_REQUIRED),
            (USERS_FILE, USERS_REQUIRED),
        ):
            path = self.paths[file_name]
            if path is None or (file_name == USERS_FILE and not path.exists()):
                continue
            with self._open(path) as handle:
                self._check_header(path, csv.reader(_decoded_lines(handle, path)), required)
            facts[f"{file_name}_bytes"] = path.stat().st_size
        return facts

    def batches(self) -> Iterator[SourceData]:
        data = SourceData()
        data.repositories = self._read(REPOS_FILE, REPOS_REQUIRED, _repository, data, "full_name")
        data.interactions = self._read(
            STARS_FILE, STARS_REQUIRED, _interaction, data, "user_login", "repo_full_name", "kind"
        )
        users_path = self.paths[USERS_FILE]
        if users_path is not None and users_path.exists():
            data.users = self._read(USERS_FILE, USERS_REQUIRED, _user, data, "login")
        logger.info(
            "read snapshot %s: %d repositories, %d users, %d interactions, %d rejected rows",
            self.directory,
            len(data.repositories),
            len(data.users),
            len(data.interactions),
            len(data.rejected),
        )
        yield data

    def _read(
        self,
        file_name: str,
        required: tuple[str, ...],
        parse: Callable[[dict[str, str]], RecordT],
        data: SourceData,
        *key_attributes: str,
    ) -> list[RecordT]:
        path = self._path(file_name)
        data.files_read.append(str(path))
        records: list[RecordT] = []
        first_line_of_key: dict[tuple[Any, ...], int] = {}
        for line_number, raw_line, row, problem in self._rows(path, required):
            if problem is not None:
                data.rejected.append(RejectedRow(file_name, line_number, None, problem, raw_line))
                continue
            try:
                record = parse(row)
            except _FieldError as error:
                data.rejected.append(
                    RejectedRow(file_name, line_number, error.field, error.reason, raw_line)
                )
                continue
            key = tuple(_key_part(record, attribute) for attribute in key_attributes)
            if key in first_line_of_key:
                data.rejected.append(
                    RejectedRow(
                        file_name,
                        line_number,
                        None,
                        f"duplicate of line {first_line_of_key[key]} "
                        f"(same {', '.join(key_attributes)})",
                        raw_line,
                    )
                )
                continue
            first_line_of_key[key] = line_number
            records.append(record)
        return records

    def _rows(
        self, path: Path, required: tuple[str, ...]
    ) -> Iterator[tuple[int, str, dict[str, str], str | None]]:
        with self._open(path) as handle:
            reader = csv.reader(_decoded_lines(handle, path))
            header = self._check_header(path, reader, required)
            previous_end = reader.line_num
            for values in reader:
                line_number = previous_end + 1
                previous_end = reader.line_num
                if not any(value.strip() for value in values):
                    continue
                raw_line = _as_csv(values)
                if len(values) != len(header):
                    problem = f"expected {len(header)} fields, found {len(values)}"
                    yield line_number, raw_line, {}, problem
                    continue
                yield line_number, raw_line, dict(zip(header, values, strict=True)), None

    @staticmethod
    def _check_header(path: Path, reader: Any, required: tuple[str, ...]) -> list[str]:
        try:
            header = [column.strip() for column in next(reader)]
        except StopIteration:
            raise SourceUnavailableError(f"{path} is empty; expected a CSV header") from None
        missing = [column for column in required if column not in header]
        if missing:
            raise SourceUnavailableError(
                f"{path} has no column {', '.join(missing)}; expected a header with "
                f"{', '.join(required)}, found {', '.join(header) or 'nothing'}"
            )
        return header

    @staticmethod
    def _open(path: Path) -> io.TextIOWrapper:
        try:
            raw = path.open("rb")
        except FileNotFoundError:
            raise SourceUnavailableError(f"{path} does not exist") from None
        except OSError as error:
            raise SourceUnavailableError(f"{path} cannot be read: {error.strerror}") from None
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _decoded_lines(handle: io.TextIOWrapper, path: Path) -> Iterator[str]:
    """The file's lines; a decoding error becomes a message naming the file."""
    try:
        yield from handle
    except UnicodeDecodeError as error:
        raise SourceUnavailableError(
            f"{path} is not UTF-8 text (byte {error.start} of a read block): re-encode it as UTF-8"
        ) from None


def _key_part(record: Any, attribute: str) -> Any:
    value = getattr(record, attribute)
    return value.lower() if attribute in ("user_login", "login") else value


def _as_csv(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()
