"""Running the `training_data_pipeline` job from the command line, reporting its progress.

Dagster runs the job (in this process, recorded in the instance of `DAGSTER_HOME` so the UI
shows it); a watcher thread reads the run's event log as it grows and reports each step that
starts and each asset materialised, so the command line can draw a progress bar per stage
(asset group). `force` launches the run with the run config
`{"resources": {"octorec": {"config": {"force": true}}}}`: dbt steps rebuild and every text is
embedded again (the environment is left alone). What the steps print (dbt's own log lines)
goes to a log file beside the instance, named in the summary, so the terminal shows the
progress bars only.

Unlike the domain modules, this one drives Dagster itself: the command line's `run` is a
Dagster run (recorded, visible in the UI, with the same resources and checks), not a second
way of executing the pipeline. Runs are kept in `DAGSTER_HOME`, by default `.dagster/` in the
working directory as `make demo` and `make dev` use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import EventLogEntry
from dagster_shared.error import SerializableErrorInfo

from octorec.defs.jobs import PIPELINE_GROUPS, PIPELINE_JOB
from octorec.defs.resources import FORCE_CONFIG

POLL_SECONDS = 0.2
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"""The terminal shows the progress and the cause of a failure on one line; Dagster's traces
stay in its event log (the UI) and in the run's log file."""
_WRAPPERS = frozenset(
    {
        "DagsterExecutionStepExecutionError",
        "DagsterResourceFunctionError",
        "DagsterUserCodeExecutionError",
        "RetryRequested",
    }
)
"""Dagster's errors around the one that says what went wrong (their `cause`)."""


@dataclass(frozen=True)
class Stage:
    """An asset group of the job and its assets, in the job's order."""

    group: str
    assets: tuple[str, ...]


@dataclass(frozen=True)
class ProgressEvent:
    """A step started (`asset` None) or an asset was materialised."""

    step: str
    asset: str | None = None
    group: str | None = None


@dataclass
class AssetOutcome:
    """What the run did to one asset."""

    asset: str
    group: str
    rows: int | None = None
    unchanged: bool = False
    embedded: int | None = None
    """Texts embedded now, where the asset embeds (the others came from the cache)."""
    reused: int | None = None
    """Texts whose vectors came from the embedding cache."""
    rejected: int | None = None
    """Source rows rejected by validation (kept in raw.rejected_rows), where the asset ingests."""


@dataclass
class RunSummary:
    """The end of a run: its id, success, time and what each asset became."""

    run_id: str
    success: bool
    seconds: float
    dagster_home: Path
    """The Dagster instance the run is recorded in (the UI shows it)."""
    log_file: Path | None = None
    """Where the steps' printed output (dbt's log lines) was written."""
    assets: list[AssetOutcome] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)
    failure: str | None = None
    """The cause of the first failure, on one line."""
    failed_step: str | None = None
    """The step that failed, None when the run failed before any step (settings, warehouse)."""


def pipeline_stages(definitions: dg.Definitions, *, job_only: bool = True) -> list[Stage]:
    """The pipeline's stages: its asset groups in order, each with its assets in the order they
    run (upstream first); only those `training_data_pipeline` runs unless `job_only` is false
    (with shards, the sharded stages run as an asset backfill)."""
    in_job = definitions.resolve_job_def(PIPELINE_JOB).asset_layer.selected_asset_keys
    group_of = {
        spec.key: spec.group_name
        for spec in definitions.resolve_all_asset_specs()
        if spec.group_name in PIPELINE_GROUPS and (spec.key in in_job or not job_only)
    }
    by_group: dict[str, list[str]] = {group: [] for group in PIPELINE_GROUPS}
    for key in definitions.resolve_asset_graph().toposorted_asset_keys:
        if key in group_of:
            by_group[group_of[key]].append(key.to_user_string())
    return [Stage(group, tuple(assets)) for group, assets in by_group.items()]


def dagster_home() -> Path:
    """`DAGSTER_HOME`, or `.dagster/` in the working directory (made, with telemetry off, and
    set for this process) as the Makefile uses it."""
    configured = os.environ.get("DAGSTER_HOME")
    if configured:
        return Path(configured)
    home = Path(".dagster").resolve()
    home.mkdir(exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@contextmanager
def _instance() -> Iterator[dg.DagsterInstance]:
    dagster_home()
    with dg.DagsterInstance.get() as instance:
        yield instance


def run_config(*, force: bool = False) -> dict[str, Any]:
    """The run config `octorec run` launches with: a quiet console, and `force` for the
    `octorec` resource when asked."""
    config: dict[str, Any] = dict(QUIET_CONSOLE)
    if force:
        config.update(FORCE_CONFIG)
    return config


class _Watcher(threading.Thread):
    """Reads the run's new events every `POLL_SECONDS` and reports them."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        group_of: dict[str, str],
        report: Callable[[ProgressEvent], None],
        warn: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name="octorec-run-progress", daemon=True)
        self.warn = warn
        self.instance, self.run_id, self.group_of, self.report = instance, run_id, group_of, report
        self.finished = threading.Event()
        self.cursor: str | None = None

    def run(self) -> None:
        while not self.finished.wait(POLL_SECONDS):
            self.drain()
        self.drain()

    def drain(self) -> None:
        if not self.instance.has_run(self.run_id):
            return
        connection = self.instance.get_records_for_run(self.run_id, cursor=self.cursor)
        self.cursor = connection.cursor
        for record in connection.records:
            entry = record.event_log_entry
            event = entry.dagster_event
            if event is None:
                # The console logger is quiet (the cause is printed once, at the end); the
                # run's warnings (waiting for another run, a warehouse tried again) still show.
                level = entry.level
                if isinstance(level, str):
                    level = logging.getLevelName(level)
                if isinstance(level, int) and level >= logging.WARNING and self.warn is not None:
                    self.warn(entry.user_message)
                continue
            if event.event_type not in (
                dg.DagsterEventType.STEP_START,
                dg.DagsterEventType.ASSET_MATERIALIZATION,
            ):
                continue
            step = event.step_key or ""
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                asset = event.asset_key.to_user_string() if event.asset_key else None
                self.report(ProgressEvent(step, asset, self.group_of.get(asset or "")))
            else:
                self.report(ProgressEvent(step))


def run_pipeline(
    definitions: dg.Definitions,
    *,
    force: bool = False,
    on_progress: Callable[[ProgressEvent], None] = lambda event: None,
    on_warning: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run `training_data_pipeline` to the end and summarise it; never raises on a failed step."""
    job = definitions.resolve_job_def(PIPELINE_JOB)
    group_of = {a: s.group for s in pipeline_stages(definitions) for a in s.assets}
    run_id = str(uuid.uuid4())
    started = time.perf_counter()
    with _instance() as instance:
        logs = Path(instance.root_directory) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_file = logs / f"octorec-run-{run_id}.log"
        watcher = _Watcher(instance, run_id, group_of, on_progress, on_warning)
        watcher.start()
        try:
            with log_file.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
                result = job.execute_in_process(
                    run_config=run_config(force=force),
                    instance=instance,
                    run_id=run_id,
                    raise_on_error=False,
                    tags={
                        "octorec/launched_by": "octorec run",
                        "octorec/force": str(force).lower(),
                    },
                )
        finally:
            watcher.finished.set()
            watcher.join()
        summary = RunSummary(
            run_id,
            result.success,
            time.perf_counter() - started,
            Path(instance.root_directory),
            log_file,
        )
        _read_outcomes(instance.all_logs(run_id), group_of, summary)
    return summary


def _read_outcomes(
    entries: Sequence[EventLogEntry], group_of: dict[str, str], summary: RunSummary
) -> None:
    starts: dict[str, float] = {}
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            continue
        step = event.step_key or ""
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            starts[step] = entry.timestamp
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            summary.step_seconds[step] = entry.timestamp - starts.get(step, entry.timestamp)
            if kind == dg.DagsterEventType.STEP_FAILURE and summary.failure is None:
                summary.failure = failure_cause(event.step_failure_data.error)
                summary.failed_step = step
        elif kind == dg.DagsterEventType.RESOURCE_INIT_FAILURE and summary.failure is None:
            summary.failure = failure_cause(event.engine_event_data.error)
        elif kind == dg.DagsterEventType.RUN_FAILURE and summary.failure is None:
            summary.failure = failure_cause(event.job_failure_data.error)
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION and event.asset_key:
            asset = event.asset_key.to_user_string()
            metadata = event.materialization.metadata
            summary.assets.append(
                AssetOutcome(
                    asset=asset,
                    group=group_of.get(asset, ""),
                    rows=_count(metadata, "dagster/row_count"),
                    unchanged="unchanged_since_run" in metadata,
                    embedded=_count(metadata, "embedded"),
                    reused=_count(metadata, "reused_from_cache"),
                    rejected=_count(metadata, "rejected_rows"),
                )
            )


def failure_cause(error: SerializableErrorInfo | None) -> str:
    """The first line of what went wrong, without Dagster's wrappers around it or the module
    path of a message octorec or Dagster's `Failure` wrote for people."""
    if error is None:
        return "failed (see the run's log file)"
    while error.cls_name in _WRAPPERS and error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines()
    first = lines[0] if lines else error.cls_name or "failed"
    qualified, sep, rest = first.partition(": ")
    if sep and qualified.rsplit(".", 1)[-1] == error.cls_name:
        if error.cls_name == "Failure" or qualified.startswith("octorec."):
            return rest.strip()
        return f"{error.cls_name}: {rest.strip()}"
    return first.strip()


def _count(metadata: Mapping[str, Any], key: str) -> int | None:
    """A whole-number metadata value, or None when the asset did not report it."""
    value = metadata.get(key)
    number = getattr(value, "value", None)
    return int(number) if isinstance(number, int | float) else None
