"""The pipeline running by itself: a schedule, and a sensor that watches the snapshot's content.

Both target `training_data_pipeline` and both start STOPPED unless `OCTOREC_SCHEDULE_ENABLED` /
`OCTOREC_SNAPSHOT_SENSOR_ENABLED` say otherwise: a developer's `dagster dev` must not start a
multi-minute run that holds the warehouse's run lock (an `octorec run` would wait behind it)
just because the UI was opened, and the sensor's first look at a snapshot always finds it "new".
Turned on in the UI or with `dagster schedule start` / `dagster sensor start`, the state is kept
by the Dagster instance and outlives restarts; the variables only give the state of a schedule
or sensor the instance has never seen toggled.

With `OCTOREC_SHARDS` above 1 the job holds only the stages upstream of the shards
(`octorec.defs.jobs`), so the schedule and the sensor refresh those; the sharded stages run as
the asset backfill of docs/scale-out.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import dagster as dg

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

PIPELINE_SCHEDULE = "training_data_pipeline_schedule"
SNAPSHOT_SENSOR = "snapshot_sensor"
SNAPSHOT_TAG = "octorec/snapshot_sha256"
"""The run tag holding the content hash of the snapshot a sensor run was started for."""


@dataclass(frozen=True)
class SnapshotCursor:
    """What the snapshot sensor remembers between evaluations (its cursor, as JSON).

    `requested` is the content hash the last run was started for, `seen` the hash found at the
    last evaluation, `runs` how many runs the sensor started. A run starts when the content
    differs from `requested` and equals `seen`: the same new content at two evaluations in a
    row, so a file still being copied in does not start a run on half of it. The run key
    counts the runs, so a snapshot changed back to an earlier content (a rollback) runs again.
    """

    requested: str = ""
    seen: str = ""
    runs: int = 0

    @classmethod
    def parse(cls, cursor: str | None) -> SnapshotCursor:
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
    state = SnapshotCursor.parse(cursor)
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
            cursor=SnapshotCursor(state.requested, sha, state.runs).dump(),
        )
    if sha != state.seen:
        return dg.SensorResult(
            skip_reason=(
                f"snapshot content is new ({digest.short}); a run starts at the next evaluation "
                "if the files still hold the same content (not while they are being written)"
            ),
            cursor=SnapshotCursor(state.requested, sha, state.runs).dump(),
        )
    runs = state.runs + 1
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"snapshot-{runs}-{sha}", tags={SNAPSHOT_TAG: sha})],
        cursor=SnapshotCursor(sha, sha, runs).dump(),
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


def defs() -> dg.Definitions:
    """The schedule and the snapshot sensor, configured by the settings read now (at load)."""
    settings = load_automation_settings()
    shards = configured_shards()
    return dg.Definitions(
        schedules=[pipeline_schedule(settings, shards)],
        sensors=[snapshot_sensor(settings, shards)],
    )
