"""The pipeline running by itself: a schedule, a sensor that watches the snapshot's content and
one that watches the feedback users give through the API.

All three target `training_data_pipeline` and all start STOPPED unless
`OCTOREC_SCHEDULE_ENABLED`, `OCTOREC_SNAPSHOT_SENSOR_ENABLED` or `OCTOREC_FEEDBACK_SENSOR_ENABLED`
say otherwise: a developer's `dagster dev` must not start a multi-minute run that holds the
warehouse's run lock (an `octorec run` would wait behind it) just because the UI was opened, and
a sensor's first look at a snapshot always finds it "new". Turned on in the UI or with
`dagster schedule start` / `dagster sensor start`, the state is kept by the Dagster instance and
outlives restarts; the variables only give the state of one the instance has never seen toggled.

With `OCTOREC_SHARDS` above 1 the job holds only the stages upstream of the shards
(`octorec.defs.jobs`), so the schedule and the sensor refresh those; the sharded stages run as
the asset backfill of docs/scale-out.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import dagster as dg

from octorec import constants as c
from octorec.defs.jobs import PIPELINE_JOB
from octorec.settings import (
    AutomationSettings,
    SettingsError,
    SourceKind,
    load_automation_settings,
    load_settings,
)
from octorec.sharding import configured_shards
from octorec.sources.snapshot_digest import SnapshotDigestError, snapshot_digest
from octorec.warehouse import WarehouseError, open_warehouse
from octorec.warehouse.fingerprints import table_exists, table_fingerprint

PIPELINE_SCHEDULE = "training_data_pipeline_schedule"
SNAPSHOT_SENSOR = "snapshot_sensor"
FEEDBACK_SENSOR = "feedback_sensor"
SNAPSHOT_TAG = "octorec/snapshot_sha256"
"""The run tag holding the content hash of the snapshot a sensor run was started for."""
FEEDBACK_TAG = "octorec/feedback_sha256"
"""The run tag holding the content hash of the feedback table a sensor run was started for."""
FEEDBACK_TABLE = f"{c.RAW_SCHEMA}.{c.RAW_FEEDBACK}"
FEEDBACK_LOCK_WAIT_SECONDS = 10.0
"""How long the feedback sensor waits for a DuckDB file another process is writing."""


@dataclass(frozen=True)
class ContentCursor:
    """What a sensor remembers between evaluations (its cursor, as JSON).

    `requested` is the content hash the last run was started for, `seen` the hash found at the
    last evaluation, `runs` how many runs the sensor started. The snapshot sensor starts a run
    when the content differs from `requested` and equals `seen`: the same new content at two
    evaluations in a row, so a file still being copied in does not start a run on half of it.
    The run key counts the runs, so content changed back to an earlier state (a rollback) runs
    again.
    """

    requested: str = ""
    seen: str = ""
    runs: int = 0

    @classmethod
    def parse(cls, cursor: str | None) -> ContentCursor:
        """The cursor Dagster stored; an empty or unreadable one starts afresh."""
        if not cursor:
            return cls()
        try:
            fields = json.loads(cursor)
            return cls(
                requested=str(fields["requested"]),
                seen=str(fields["seen"]),
                runs=int(fields["runs"]),
            )
        except (ValueError, TypeError, KeyError):
            return cls()

    def dump(self) -> str:
        """The cursor as Dagster stores it."""
        return json.dumps(asdict(self), sort_keys=True)


def evaluate_snapshot(cursor: str | None) -> dg.SensorResult:
    """One evaluation of the snapshot sensor: hash the snapshot and decide.

    Never raises: bad settings, another source, a missing or unreadable directory each give a
    skip reason that says why (shown on the tick in the UI), and leave the cursor as it was.
    """
    state = ContentCursor.parse(cursor)
    kept = state.dump()
    try:
        settings = load_settings()
    except SettingsError as error:
        return dg.SensorResult(skip_reason=str(error), cursor=kept)
    if settings.source is not SourceKind.SNAPSHOT:
        return dg.SensorResult(
            skip_reason=(
                f"OCTOREC_SOURCE={settings.source.value}: this sensor watches snapshot files "
                "only; the schedule refreshes the live source"
            ),
            cursor=kept,
        )
    try:
        digest = snapshot_digest(settings.snapshot_dir)
    except SnapshotDigestError as error:
        return dg.SensorResult(skip_reason=f"{error}; nothing to run", cursor=kept)
    sha = digest.sha256
    if sha == state.requested:
        return dg.SensorResult(
            skip_reason=f"snapshot unchanged (content {digest.short}) since the last run",
            cursor=ContentCursor(state.requested, sha, state.runs).dump(),
        )
    if sha != state.seen:
        return dg.SensorResult(
            skip_reason=(
                f"snapshot content is new ({digest.short}); a run starts at the next evaluation "
                "if the files still hold the same content (not while they are being written)"
            ),
            cursor=ContentCursor(state.requested, sha, state.runs).dump(),
        )
    runs = state.runs + 1
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"snapshot-{runs}-{sha}", tags={SNAPSHOT_TAG: sha})],
        cursor=ContentCursor(sha, sha, runs).dump(),
    )


def evaluate_feedback(cursor: str | None) -> dg.SensorResult:
    """One evaluation of the feedback sensor: fingerprint `raw.feedback` and decide.

    A run starts when the table's content (every answer, its kind and time) differs from what
    the last run was started for: a new like or dismissal, a changed or a withdrawn one. Never
    raises: bad settings, a warehouse that cannot be opened (missing, busy, unreachable) or a
    warehouse without the table each give a skip reason and leave the cursor as it was.
    """
    state = ContentCursor.parse(cursor)
    kept = state.dump()
    try:
        settings = load_settings()
    except SettingsError as error:
        return dg.SensorResult(skip_reason=str(error), cursor=kept)
    try:
        with open_warehouse(
            settings.warehouse_location, read_only=True, lock_wait=FEEDBACK_LOCK_WAIT_SECONDS
        ) as warehouse:
            if not table_exists(warehouse, c.RAW_SCHEMA, c.RAW_FEEDBACK):
                return dg.SensorResult(
                    skip_reason=(
                        f"the warehouse has no {FEEDBACK_TABLE} table yet (the API creates it "
                        "with the first feedback); nothing to run"
                    ),
                    cursor=kept,
                )
            answers = warehouse.count(FEEDBACK_TABLE)
            sha = table_fingerprint(warehouse, FEEDBACK_TABLE)
    except WarehouseError as error:
        return dg.SensorResult(
            skip_reason=f"{error}; trying again at the next evaluation", cursor=kept
        )
    if sha == state.requested or (not state.requested and answers == 0):
        return dg.SensorResult(
            skip_reason=f"no new feedback since the last run ({answers} answers stored)",
            cursor=ContentCursor(state.requested or sha, sha, state.runs).dump(),
        )
    runs = state.runs + 1
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"feedback-{runs}-{sha}", tags={FEEDBACK_TAG: sha})],
        cursor=ContentCursor(sha, sha, runs).dump(),
    )


def _status(enabled: bool) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED


def pipeline_schedule(settings: AutomationSettings, shards: int = 1) -> dg.ScheduleDefinition:
    """`training_data_pipeline` on `OCTOREC_SCHEDULE_CRON` in `OCTOREC_SCHEDULE_TIMEZONE`.

    Raises:
        SettingsError: the cron string is one Dagster does not accept (named, with an example).
    """
    sharded = (
        f" Sharded ({shards}): runs the stages before the shards; the sharded stages run as the "
        "asset backfill (docs/scale-out.md)."
        if shards > 1
        else ""
    )
    try:
        return dg.ScheduleDefinition(
            name=PIPELINE_SCHEDULE,
            job_name=PIPELINE_JOB,
            cron_schedule=settings.schedule_cron,
            execution_timezone=settings.schedule_timezone,
            default_status=_status(settings.schedule_enabled),
            description=(
                f"Runs {PIPELINE_JOB} at cron '{settings.schedule_cron}' "
                f"({settings.schedule_timezone}); set by OCTOREC_SCHEDULE_CRON and "
                f"OCTOREC_SCHEDULE_TIMEZONE.{sharded}"
            ),
        )
    except dg.DagsterInvalidDefinitionError:
        raise SettingsError(
            f"invalid settings: OCTOREC_SCHEDULE_CRON: {settings.schedule_cron!r} is not a cron "
            "schedule (five fields: minute hour day-of-month month day-of-week, e.g. "
            "'0 3 * * *' for 03:00 every day)"
        ) from None


def snapshot_sensor(settings: AutomationSettings, shards: int = 1) -> dg.SensorDefinition:
    """Starts `training_data_pipeline` when the snapshot files' content changes."""
    sharded = " Sharded: runs the stages before the shards." if shards > 1 else ""

    @dg.sensor(
        name=SNAPSHOT_SENSOR,
        job_name=PIPELINE_JOB,
        minimum_interval_seconds=settings.snapshot_sensor_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING
        if settings.snapshot_sensor_enabled
        else dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Starts {PIPELINE_JOB} when the content of the OCTOREC_SNAPSHOT_DIR files "
            "(repos.csv, user_stars.csv, users.csv) changes, by SHA-256, not modification time; "
            "once per change, after the same content was seen twice "
            f"{settings.snapshot_sensor_seconds} s apart.{sharded}"
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return evaluate_snapshot(context.cursor)

    return _sensor


def feedback_sensor(settings: AutomationSettings, shards: int = 1) -> dg.SensorDefinition:
    """Starts `training_data_pipeline` when feedback arrived (or changed) since its last run."""
    sharded = " Sharded: runs the stages before the shards." if shards > 1 else ""

    @dg.sensor(
        name=FEEDBACK_SENSOR,
        job_name=PIPELINE_JOB,
        minimum_interval_seconds=settings.feedback_sensor_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING
        if settings.feedback_sensor_enabled
        else dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Starts {PIPELINE_JOB} when the likes and dismissals in {FEEDBACK_TABLE} changed "
            "since the run it last started (by content); evaluated every "
            f"{settings.feedback_sensor_seconds} s, so at most one run that often.{sharded}"
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return evaluate_feedback(context.cursor)

    return _sensor


def defs() -> dg.Definitions:
    """The schedule and the sensors, configured by the settings read now (at load)."""
    settings = load_automation_settings()
    shards = configured_shards()
    return dg.Definitions(
        schedules=[pipeline_schedule(settings, shards)],
        sensors=[snapshot_sensor(settings, shards), feedback_sensor(settings, shards)],
    )
