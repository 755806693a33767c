"""The octorec dbt project: where it lives, how dbt is invoked, and pointing it at a warehouse.

Plain Python: the Dagster dbt assets and the offline evaluation both run dbt through here.
"""

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache, cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from octorec.constants import RAW_SCHEMA
from octorec.warehouse import is_postgres_url

logger = logging.getLogger(__name__)

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
_SOURCES_OF_TRUTH = ("dbt_project.yml", "models", "macros", "seeds", "tests")


def dbt_state_dir(configured: Path | None = None) -> Path:
    """Where dbt's working folders (targets, logs) go: `configured` (`OCTOREC_DBT_DIR`), else
    `$DAGSTER_HOME/dbt`, else `.dagster/dbt` in the working directory (where `octorec run` keeps
    its Dagster instance). Never inside the checkout, which may be read-only."""
    if configured is not None:
        return configured
    home = os.environ.get("DAGSTER_HOME")
    return (Path(home) if home else Path(".dagster").resolve()) / "dbt"


def location_folder(location: str | Path) -> str:
    """A folder name for a warehouse location: readable (DuckDB: the file's name; PostgreSQL:
    host, port and database) and unique (a hash of the location without its password); never
    the password, nor the user name."""
    where = {k: v for k, v in dbt_environment(location).items() if "PASSWORD" not in k}
    digest = hashlib.sha256(repr(sorted(where.items())).encode()).hexdigest()[:12]
    if where["OCTOREC_DBT_TARGET"] == "duckdb":
        readable = "duckdb-" + Path(where["OCTOREC_DATABASE"]).stem
    else:
        readable = "postgres-{}-{}-{}".format(
            where["OCTOREC_PG_HOST"], where["OCTOREC_PG_PORT"], where["OCTOREC_PG_DATABASE"]
        )
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', readable)[:80]}-{digest}"


def dbt_target_dir(location: str | Path, configured: Path | None = None) -> Path:
    """dbt's target folder (its log too: dagster-dbt writes `dbt.log` there) for one warehouse
    location, under `dbt_state_dir`; kept between runs so dbt's partial parse is reused."""
    return dbt_state_dir(configured) / location_folder(location)


def dbt_executable() -> str:
    """The dbt installed beside this Python (the virtual environment's), else dbt on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


class InstalledDbtCliResource(DbtCliResource):
    """dagster-dbt's CLI resource, told dbt's version by the installed package.

    Before its first command dagster-dbt asks the executable for its version (`dbt --version`:
    a Python start, dbt's imports and a look at PyPI for the latest release, about 5 s here,
    and a wait for the network where there is none). The dbt beside this Python is the
    dbt-core package this Python has installed, so its metadata answers; any other dbt is
    still asked.
    """

    def __init__(self, project_dir: str | Path | DbtProject, **fields: Any) -> None:
        # Typed as DbtCliResource's own: Dagster makes it again from its fields (`profiles_dir`..).
        super().__init__(project_dir=project_dir, **fields)

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource for the octorec project."""
    return InstalledDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())


@cache
def dbt_project() -> DbtProject:
    """The octorec dbt project, its manifest parsed when missing or older than the SQL.

    The manifest is kept in `dbt/target` (where `make setup` parses it); in a checkout that
    cannot be written, under `dbt_state_dir()` instead."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if _manifest_is_stale(project) and not _writable(DBT_PROJECT_DIR / "target"):
        project = DbtProject(
            project_dir=DBT_PROJECT_DIR,
            profiles_dir=DBT_PROJECT_DIR,
            target_path=dbt_state_dir() / "manifest",
        )
    if _manifest_is_stale(project):
        logger.info("parsing the dbt project into %s", project.manifest_path)
        parse_project(project)
    return project


def parse_project(project: DbtProject) -> None:
    """`dbt parse` into the project's target folder, for the configured warehouse.

    dbt keeps its parse (`partial_parse.msgpack`) for one profile, and the DuckDB file's path
    is part of the profile: parsed for the warehouse the runs will use, the first dbt command
    of a run (which starts from this parse) skips a full parse (about 5 s).
    """
    with _variables(_configured_dbt_environment()):
        InstalledDbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["--quiet", "parse"], target_path=Path(project.target_path)
        ).wait()


def _configured_dbt_environment() -> dict[str, str]:
    """The dbt variables of the configured warehouse, or none when the settings are unusable
    (the run that reads them will say why)."""
    from octorec.settings import SettingsError, load_settings

    try:
        return dbt_environment(load_settings().warehouse_location)
    except SettingsError:
        return {}


@contextmanager
def _variables(values: dict[str, str]) -> Iterator[None]:
    """`os.environ` with `values` set, then as it was."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _writable(folder: Path) -> bool:
    """Whether `folder` can be written (made, when missing)."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    return os.access(existing, os.W_OK)


def _manifest_is_stale(project: DbtProject) -> bool:
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in _SOURCES_OF_TRUTH:
        path = Path(project.project_dir) / name
        files = [path] if path.is_file() else path.rglob("*")
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def dbt_environment(location: str | Path) -> dict[str, str]:
    """The variables that point dbt's profile (`dbt/profiles.yml`) at a warehouse.

    DuckDB: the file, made absolute, so dbt (which runs in the dbt folder) and Python open the
    same file. PostgreSQL: the parts of the URL, which dbt profiles cannot parse themselves.
    """
    if not is_postgres_url(location):
        return {"OCTOREC_DBT_TARGET": "duckdb", "OCTOREC_DATABASE": str(Path(location).resolve())}
    parts = urlsplit(str(location))
    return dict(
        OCTOREC_DBT_TARGET="postgres",
        OCTOREC_PG_HOST=parts.hostname or "localhost",
        OCTOREC_PG_PORT=str(parts.port or 5432),
        OCTOREC_PG_USER=unquote(parts.username or ""),
        OCTOREC_PG_PASSWORD=unquote(parts.password or ""),
        OCTOREC_PG_DATABASE=unquote(parts.path.lstrip("/")) or "postgres",
        OCTOREC_PG_SSLMODE=parse_qs(parts.query).get("sslmode", ["prefer"])[0],
    )


def export_for_dbt(location: str | Path) -> None:
    """Point dbt at a warehouse for the rest of this process (a Dagster run's dbt steps inherit
    it); none of the values is logged."""
    os.environ.update(dbt_environment(location))


class DbtRunError(RuntimeError):
    """A dbt command outside Dagster failed; the message holds the end of dbt's output."""


def run_dbt(location: str | Path, args: Sequence[str], state_dir: Path | None = None) -> None:
    """Run one dbt command against a warehouse outside Dagster, raising when dbt fails.

    dbt runs as its own process with the warehouse's variables added to its environment (this
    process's environment is left alone) and a fixed target and log folder per warehouse
    (`dbt_target_dir`, under `state_dir`: `OCTOREC_DBT_DIR`, else `$DAGSTER_HOME/dbt`), so
    repeated commands reuse dbt's partial parse and nothing is written into the checkout. The
    warehouse must not be held open by this process meanwhile (DuckDB: one writer).

    Raises:
        DbtRunError: dbt exited with an error; the message ends with dbt's last output lines.
    """
    project = dbt_project()
    target = dbt_target_dir(location, state_dir) / "outside-dagster"
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(project.project_dir),
        "--profiles-dir",
        str(project.profiles_dir),
        "--target-path",
        str(target),
        "--log-path",
        str(target),
    ]
    started = time.perf_counter()
    finished = subprocess.run(
        command,
        # As dagster-dbt runs it: no usage statistics sent to dbt Labs.
        env={**os.environ, **dbt_environment(location), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
        check=False,
    )
    logger.info("dbt %s in %.1f s", " ".join(args), time.perf_counter() - started)
    if finished.returncode != 0:
        output = (finished.stdout + finished.stderr).strip().splitlines()[-20:]
        raise DbtRunError(f"dbt {' '.join(args)} failed:\n" + "\n".join(output))


def project_files_fingerprint() -> str:
    """SHA-256 over the dbt project's own files (models, macros, seeds, tests, profiles)."""
    digest = hashlib.sha256()
    for name in (*_SOURCES_OF_TRUTH, "profiles.yml"):
        path = DBT_PROJECT_DIR / name
        for file in sorted([path] if path.is_file() else path.rglob("*")):
            if file.is_file():
                digest.update(str(file.relative_to(DBT_PROJECT_DIR)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def upstream_source_tables(manifest_path: Path, models: Sequence[str]) -> list[str]:
    """The warehouse tables of every dbt source the `models` read, directly or through other
    models, sorted; raw sources are schema-qualified."""
    manifest = json.loads(Path(manifest_path).read_text())
    by_name = {
        node["name"]: unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }
    pending = [by_name[model] for model in models]
    seen: set[str] = set()
    tables: set[str] = set()
    while pending:
        unique_id = pending.pop()
        if unique_id in seen:
            continue
        seen.add(unique_id)
        if unique_id in manifest["sources"]:
            source = manifest["sources"][unique_id]
            table = source.get("identifier") or source["name"]
            raw = source["source_name"] == RAW_SCHEMA
            tables.add(f"{RAW_SCHEMA}.{table}" if raw else table)
        elif unique_id in manifest["nodes"]:
            pending.extend(manifest["nodes"][unique_id].get("depends_on", {}).get("nodes", []))
    return sorted(tables)
