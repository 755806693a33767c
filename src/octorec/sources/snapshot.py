"""A GitHub snapshot on disk: `repos.csv`, `user_stars.csv` and an optional `users.csv`.

The format is the one of `shared/data/github-sample/` (see its SOURCES.md). Rows that break the
format are kept out of the result and reported with file, line, field and reason; a file that is
missing, has the wrong header or is not UTF-8 stops the run with a message that names the file
(and, for an encoding error, the line and the byte offset in the file).

What a broken row costs is that row, never the rows after it:

- A quote that is opened and not closed where its field should end would make a CSV reader take
  the following lines as part of one field. A record that runs over several lines is kept only
  when it has the header's number of fields and none of its continuation lines is a complete,
  valid record by itself; otherwise its first line is rejected ("unclosed quote") and reading
  starts again on the next line, so every well-formed line after it is kept.
- A field longer than `MAX_FIELD_CHARS` characters rejects its row, naming line and field.
- NUL bytes are removed (PostgreSQL cannot store them, DuckDB could: both backends must hold the
  same rows) and each line that had some is reported as a warning.

Rows with the same key (`full_name`; `login`; `user`, `repo_full_name` and `kind`) compared
without letter case are duplicates: the first in file order is kept, every later one is rejected
with the line of the first (and says when the two differ only in case), so the winner never
depends on how a name is capitalised.

A snapshot is the whole truth (`CompleteSnapshot`): loading it makes the raw tables equal to it.
Declared labels of `users.csv` missing from the dbt taxonomy are reported as warnings.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from octorec import constants as c
from octorec.sources import taxonomy as tx
from octorec.sources import validation as v
from octorec.sources.base import (
    CompleteSnapshot,
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

MAX_FIELD_CHARS = 1_048_576
"""The longest field accepted (1 MiB of characters); a longer one rejects its row."""
_CSV_READ_LIMIT = 16 * MAX_FIELD_CHARS
"""What the csv module may read as one field (its default, 128 KiB, stops a whole load)."""
RAW_LINE_SHOWN = 2_000
"""Characters of a rejected row kept in `raw.rejected_rows`."""
_NAME_KEYS = frozenset({"login", "user_login", "full_name", "repo_full_name"})
"""Key attributes GitHub compares without letter case."""

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
        allow_empty: bool = False,
    ) -> None:
        """Read `directory`'s three files, or the files named one by one (`octorec evaluate`).

        `allow_empty` (`OCTOREC_ALLOW_EMPTY_SNAPSHOT`) lets a snapshot without rows for a table
        empty that raw table; without it such a load is refused.
        """
        self.directory = Path(directory)
        self.allow_empty = allow_empty
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
                lines = _Lines(_physical_lines(handle, path, file_name, []))
                self._check_header(path, csv.reader(lines), required)
            facts[f"{file_name}_bytes"] = path.stat().st_size
        return facts

    def batches(self) -> Iterator[SourceData]:
        data = SourceData()
        repositories = self._read(REPOS_FILE, REPOS_REQUIRED, _repository, data, "full_name")
        interactions = self._read(
            STARS_FILE, STARS_REQUIRED, _interaction, data, "user_login", "repo_full_name", "kind"
        )
        data.repositories = [record for _, record in repositories]
        data.interactions = [record for _, record in interactions]
        users_path = self.paths[USERS_FILE]
        if users_path is not None and users_path.exists():
            users = self._read(USERS_FILE, USERS_REQUIRED, _user, data, "login")
            data.users = [record for _, record in users]
            data.warnings += _unknown_labels(users)
        data.complete = CompleteSnapshot(
            files={
                c.RAW_REPOSITORIES: str(self._path(REPOS_FILE)),
                c.RAW_INTERACTIONS: str(self._path(STARS_FILE)),
                c.RAW_USERS: str(users_path or USERS_FILE),
            },
            allow_empty=self.allow_empty,
        )
        logger.info(
            "read snapshot %s: %d repositories, %d users, %d interactions, %d rejected rows, "
            "%d warnings",
            self.directory,
            len(data.repositories),
            len(data.users),
            len(data.interactions),
            len(data.rejected),
            len(data.warnings),
        )
        yield data

    def _read(
        self,
        file_name: str,
        required: tuple[str, ...],
        parse: Callable[[dict[str, str]], RecordT],
        data: SourceData,
        *key_attributes: str,
    ) -> list[tuple[int, RecordT]]:
        """The file's valid records with their line numbers; the rest go to `data.rejected`."""
        path = self._path(file_name)
        data.files_read.append(str(path))
        records: list[tuple[int, RecordT]] = []
        first_of_key: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
        for line_number, raw_line, row in self._rows(path, file_name, required, parse, data):
            try:
                record = parse(row)
            except _FieldError as error:
                data.rejected.append(
                    RejectedRow(file_name, line_number, error.field, error.reason, raw_line)
                )
                continue
            exact = tuple(getattr(record, attribute) for attribute in key_attributes)
            key = tuple(_key_part(record, attribute) for attribute in key_attributes)
            if key in first_of_key:
                first_line, first_exact = first_of_key[key]
                names = ", ".join(key_attributes)
                how = (
                    f"same {names}"
                    if exact == first_exact
                    else f"differs only in letter case: same {names} ignoring case"
                )
                data.rejected.append(
                    RejectedRow(
                        file_name,
                        line_number,
                        None,
                        f"duplicate of line {first_line} ({how}); the first in file order is kept",
                        raw_line,
                    )
                )
                continue
            first_of_key[key] = (line_number, exact)
            records.append((line_number, record))
        return records

    def _rows(
        self,
        path: Path,
        file_name: str,
        required: tuple[str, ...],
        parse: Callable[[dict[str, str]], Any],
        data: SourceData,
    ) -> Iterator[tuple[int, str, dict[str, str]]]:
        """Rows with the header's fields, each with its first line and its text; rows broken
        as CSV are rejected into `data.rejected`, and reading starts again after their first
        line."""
        csv.field_size_limit(max(csv.field_size_limit(), _CSV_READ_LIMIT))
        with self._open(path) as handle:
            lines = _Lines(_physical_lines(handle, path, file_name, data.warnings))
            reader = csv.reader(lines)
            header = self._check_header(path, reader, required)
            while True:
                lines.start_record()
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    if not lines.taken:
                        raise SourceUnavailableError(f"{path} cannot be read: {error}") from None
                    problem: str | None = f"cannot be read as CSV ({error})"
                else:
                    problem = _broken_quote(lines.taken, values, header, parse)
                if problem is not None:
                    first = lines.taken[0]
                    data.rejected.append(
                        RejectedRow(file_name, first.number, None, problem, _shown(first.text))
                    )
                    lines.read_again_after_first()
                    reader = csv.reader(lines)
                    continue
                if not any(value.strip() for value in values):
                    continue
                line_number = lines.taken[0].number
                raw_line = _shown(_as_csv(values))
                if len(values) != len(header):
                    problem = f"expected {len(header)} fields, found {len(values)}"
                    data.rejected.append(
                        RejectedRow(file_name, line_number, None, problem, raw_line)
                    )
                    continue
                if max(map(len, values)) > MAX_FIELD_CHARS:
                    index = next(i for i, v in enumerate(values) if len(v) > MAX_FIELD_CHARS)
                    length = len(values[index])
                    data.rejected.append(
                        RejectedRow(
                            file_name,
                            line_number,
                            header[index],
                            f"{length:,} characters, more than the {MAX_FIELD_CHARS:,} "
                            "a field may hold",
                            raw_line,
                        )
                    )
                    continue
                yield line_number, raw_line, dict(zip(header, values, strict=True))

    @staticmethod
    def _check_header(path: Path, reader: Any, required: tuple[str, ...]) -> list[str]:
        try:
            header = [column.strip() for column in next(reader)]
        except StopIteration:
            raise SourceUnavailableError(f"{path} is empty; expected a CSV header") from None
        except csv.Error as error:
            raise SourceUnavailableError(f"{path} has an unreadable header: {error}") from None
        missing = [column for column in required if column not in header]
        if missing:
            found = _shown(" ".join(", ".join(header).split()), 200) or "nothing"
            raise SourceUnavailableError(
                f"{path} has no column {', '.join(missing)}; expected a header with "
                f"{', '.join(required)}, found {found}"
            )
        return header

    @staticmethod
    def _open(path: Path) -> BinaryIO:
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise SourceUnavailableError(f"{path} does not exist") from None
        except OSError as error:
            raise SourceUnavailableError(f"{path} cannot be read: {error.strerror}") from None


@dataclass(frozen=True)
class _Line:
    number: int
    text: str


def _physical_lines(
    handle: BinaryIO, path: Path, file_name: str, warnings: list[str]
) -> Iterator[_Line]:
    """The file's lines (ended by LF, CRLF or CR) decoded, without a BOM or NUL bytes.

    Raises:
        SourceUnavailableError: a line is not UTF-8; the message names the line and the byte's
            offset in the file.
    """
    number = 0
    offset = 0
    for chunk in handle:
        for raw in chunk.splitlines(keepends=True):
            number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise SourceUnavailableError(
                    f"{path} is not UTF-8 text: line {number} has byte 0x{raw[error.start]:02x} "
                    f"at byte offset {offset + error.start} of the file; re-encode it as UTF-8 "
                    "(for example with `iconv -f latin1 -t utf-8`)"
                ) from None
            offset += len(raw)
            if number == 1:
                text = text.removeprefix("\ufeff")
            if "\x00" in text:
                removed = text.count("\x00")
                text = text.replace("\x00", "")
                warnings.append(
                    f"{file_name}:{number}: removed {removed} NUL byte{'s' * (removed > 1)} "
                    "(PostgreSQL cannot store them)"
                )
            yield _Line(number, text)


class _Lines:
    """Lines fed to a csv reader, keeping those of the current record so that reading can start
    again on the line after its first one (a reader cannot re-synchronise by itself)."""

    def __init__(self, source: Iterator[_Line]) -> None:
        self._source = source
        self._again: deque[_Line] = deque()
        self.taken: list[_Line] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._again.popleft() if self._again else next(self._source)
        self.taken.append(line)
        return line.text

    def start_record(self) -> None:
        """Forget the lines of the previous record."""
        self.taken = []

    def read_again_after_first(self) -> None:
        """Give the current record's lines after its first one to the next reader."""
        self._again.extendleft(reversed(self.taken[1:]))
        self.taken = []


def _broken_quote(
    taken: list[_Line],
    values: list[str],
    header: list[str],
    parse: Callable[[dict[str, str]], Any],
) -> str | None:
    """Why a record read over several lines is an unclosed quote rather than a quoted field
    holding line breaks, or None when it is one good record."""
    if len(taken) < 2:
        return None
    again = "; the lines after it are read on their own"
    if len(values) != len(header):
        return (
            f"unclosed quote: read as one record it would run over lines {taken[0].number}-"
            f"{taken[-1].number} with {len(values)} fields, expected {len(header)}{again}"
        )
    for line in taken[1:]:
        if _is_record(line.text, header, parse):
            return (
                f"unclosed quote: it would swallow line {line.number}, a complete record of "
                f"its own{again}"
            )
    return None


def _is_record(text: str, header: list[str], parse: Callable[[dict[str, str]], Any]) -> bool:
    """Whether one line on its own is a valid record of the file."""
    try:
        values = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        return False
    if len(values) != len(header):
        return False
    try:
        parse(dict(zip(header, values, strict=True)))
    except _FieldError:
        return False
    return True


def _unknown_labels(users: list[tuple[int, UserRecord]]) -> list[str]:
    """A warning for each declared label dbt will drop because the taxonomy lacks it."""
    try:
        taxonomy = tx.load_taxonomy()
    except OSError as error:
        logger.warning("declared labels not checked: cannot read the taxonomy (%s)", error)
        return []
    unknown: dict[tuple[str, str], tuple[str, list[int]]] = {}
    for line_number, user in users:
        for kind, labels in (
            (tx.CATEGORY, user.declared_categories),
            (tx.TECH_STACK, user.declared_tech_stack),
        ):
            for label in labels:
                if not taxonomy.knows(kind, label):
                    _, lines = unknown.setdefault((kind, tx.padded_tokens(label)), (label, []))
                    if line_number not in lines:
                        lines.append(line_number)
    warnings = []
    for (kind, _), (label, lines) in unknown.items():
        what = "category" if kind == tx.CATEGORY else "tech-stack entry"
        shown = ", ".join(str(n) for n in lines[:10])
        more = f" and {len(lines) - 10} more" if len(lines) > 10 else ""
        warnings.append(
            f"{USERS_FILE}: {what} {label!r} (line{'s' * (len(lines) > 1)} {shown}{more}) is "
            f"not in the taxonomy ({taxonomy.files[kind].name}) and is ignored"
        )
    return warnings


def _key_part(record: Any, attribute: str) -> Any:
    value = getattr(record, attribute)
    return value.lower() if attribute in _NAME_KEYS else value


def _shown(text: str, limit: int = RAW_LINE_SHOWN) -> str:
    text = text.rstrip("\r\n")
    return text if len(text) <= limit else text[:limit] + "…"


def _as_csv(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()
