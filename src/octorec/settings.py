"""One settings object, read from the environment when a run starts (never at import time)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from octorec.constants import MODEL_DIMENSIONS, MODEL_NAME
from octorec.embeddings.encoder import EmbeddingBackend, default_cache_dir

MAX_TOP_N = 1000
"""The most recommendations per user `RECOMMENDATION_TOP_N` may ask for."""


class SourceKind(StrEnum):
    """Where `github_scraping` reads GitHub data from."""

    SNAPSHOT = "snapshot"
    GITHUB = "github"


class _Weights(BaseSettings):
    """Non-negative weights, at least one of them positive."""

    @model_validator(mode="after")
    def _not_all_zero(self) -> Self:
        if sum(self.model_dump().values()) <= 0:
            prefix = self.model_config.get("env_prefix", "")
            raise ValueError(f"at least one {prefix}* must be positive")
        return self


class ScoringWeights(_Weights):
    """Weights of the score components for users who know at least one project.

    The defaults were fitted on validation splits of the sample (docs/quality.md).
    `ORIGIN_WEIGHTS` are the original design's; `ContentWeights` serve users who know nothing.
    """

    model_config = SettingsConfigDict(
        env_prefix="RECOMMENDATION_WEIGHT_", frozen=True, allow_inf_nan=False
    )

    semantic: float = Field(0.4, ge=0)
    category: float = Field(0.0, ge=0)
    tech_stack: float = Field(0.2, ge=0)
    popularity: float = Field(0.0, ge=0)
    collaborative: float = Field(0.4, ge=0)


class ContentWeights(_Weights):
    """Weights of the content components for users who know no project yet (cold start), and of
    the hybrid embeddings' blocks. The defaults are the original design's."""

    model_config = SettingsConfigDict(
        env_prefix="RECOMMENDATION_CONTENT_WEIGHT_", frozen=True, allow_inf_nan=False
    )

    semantic: float = Field(0.25, ge=0)
    category: float = Field(0.45, ge=0)
    tech_stack: float = Field(0.5, ge=0)
    popularity: float = Field(0.1, ge=0)

    def as_scoring_weights(self) -> ScoringWeights:
        """The same weights as score weights (no collaborative part: there is nothing to share)."""
        return ScoringWeights.model_validate({**self.model_dump(), "collaborative": 0.0})


ORIGIN_WEIGHTS = {
    "semantic": 0.25,
    "category": 0.45,
    "tech_stack": 0.5,
    "popularity": 0.1,
    "collaborative": 0.0,
}
"""The original design's weights (they sum to 1.3 on purpose); the `origin` evaluation model."""


class Retrieval(StrEnum):
    """How candidate projects are found before scoring."""

    EXACT = "exact"
    ANN = "ann"


class ScorerSettings(BaseSettings):
    """How the semantic and collaborative components are computed (docs/quality.md)."""

    model_config = SettingsConfigDict(
        env_prefix="RECOMMENDATION_", frozen=True, allow_inf_nan=False
    )

    semantic_neighbours: int = Field(
        10, ge=0, description="known projects averaged per candidate; 0: cosine to the mean"
    )
    collaborative_regularization: float = Field(100.0, gt=0)
    collaborative_shrinkage: float = Field(
        30.0, ge=0, description="β in the confidence n / (n + β) of a user knowing n projects"
    )
    collaborative_max_items: int = Field(10_000, gt=0)
    block_memory_mb: int = Field(
        256, gt=0, description="memory for one block of users × projects score arrays"
    )
    retrieval: Retrieval = Field(
        Retrieval.EXACT,
        description="exact: every user × every project; ann: index candidates, rescored exactly",
    )
    project_chunk_rows: int = Field(
        200_000, gt=0, description="projects a user shard is scored against at a time"
    )
    ann_candidates: int = Field(
        50, gt=0, description="candidates per user from the index (and as many collaborative)"
    )


class CandidateFilters(BaseSettings):
    """Which projects may be recommended at all."""

    model_config = SettingsConfigDict(
        env_prefix="RECOMMENDATION_", frozen=True, env_parse_none_str="", allow_inf_nan=False
    )

    exclude_archived: bool = True
    exclude_forks: bool = False
    max_months_since_push: int | None = Field(None, gt=0)
    languages: str = Field("", description="comma-separated languages to keep; empty keeps all")
    cold_start_active_months: int = Field(12, gt=0)

    @property
    def language_set(self) -> frozenset[str]:
        """The kept languages, lower-cased; empty means every language."""
        return frozenset(part.strip().lower() for part in self.languages.split(",") if part.strip())


class RankerSettings(BaseSettings):
    """How the learned ranker is fitted and how many candidates it ranks (docs/quality.md)."""

    model_config = SettingsConfigDict(env_prefix="RANKER_", frozen=True, allow_inf_nan=False)

    candidates_per_signal: int = Field(
        100, ge=1, le=2000, description="candidates per user from each signal (stage 1)"
    )
    min_users: int = Field(
        10, ge=2, description="users with enough stars below which no model is fitted"
    )
    min_stars: int = Field(
        5, ge=2, description="stars a user needs for a validation hold-out to be carved"
    )
    min_positives: int = Field(
        50, ge=1, description="held-out stars among the candidates below which no model is fitted"
    )
    folds: int = Field(
        3,
        ge=2,
        le=10,
        description="seeded validation hold-outs, each validated by a fit on the others",
    )
    holdout: float = Field(0.2, gt=0, lt=1, description="share of each user's stars held out")
    threads: int = Field(1, ge=1, description="LightGBM threads (fixed: the same model every run)")
    seed: int = Field(42, ge=0, description="seed of the validation hold-outs and of LightGBM")
    enabled: bool = Field(
        True, description="fit the ranker; off: score with the formula's weights (documented)"
    )


class Settings(BaseSettings):
    """Everything a run can be configured with, from environment variables.

    Relative paths are resolved against the working directory when the settings are read, so
    every process of a run (Dagster, dbt, the CLI) agrees on the same files.
    """

    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, allow_inf_nan=False)

    source: SourceKind = Field(
        SourceKind.SNAPSHOT, validation_alias=AliasChoices("OCTOREC_SOURCE", "source")
    )
    snapshot_dir: Path = Field(
        Path("../shared/data/github-sample"),
        validation_alias=AliasChoices("OCTOREC_SNAPSHOT_DIR", "snapshot_dir"),
    )
    allow_empty_snapshot: bool = Field(
        False,
        validation_alias=AliasChoices("OCTOREC_ALLOW_EMPTY_SNAPSHOT", "allow_empty_snapshot"),
        description="let a snapshot without rows for a table empty that raw table",
    )
    database: Path = Field(
        Path("data/octorec.duckdb"),
        validation_alias=AliasChoices("OCTOREC_DATABASE", "database"),
    )
    dbt_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("OCTOREC_DBT_DIR", "dbt_dir"),
        description="dbt's target and log folders, one per warehouse; unset: $DAGSTER_HOME/dbt",
    )
    database_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="postgresql://user:password@host:5432/db; when set, PostgreSQL is used",
    )
    model_name: str = Field(MODEL_NAME, validation_alias=AliasChoices("MODEL_NAME", "model_name"))
    model_dimensions: int = Field(
        MODEL_DIMENSIONS,
        gt=0,
        validation_alias=AliasChoices("MODEL_DIMENSIONS", "model_dimensions"),
    )
    model_batch_size: int = Field(
        32, gt=0, validation_alias=AliasChoices("MODEL_BATCH_SIZE", "model_batch_size")
    )
    model_device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        validation_alias=AliasChoices("MODEL_DEVICE", "model_device"),
        description="auto (a CUDA GPU when available), cpu, cuda or cuda:N",
    )
    embedding_backend: EmbeddingBackend = Field(
        EmbeddingBackend.AUTO,
        validation_alias=AliasChoices("EMBEDDING_BACKEND", "embedding_backend"),
        description="auto, torch (the reference), onnx or onnx-int8",
    )
    embedding_threads: int = Field(
        0,
        ge=0,
        validation_alias=AliasChoices("EMBEDDING_THREADS", "embedding_threads"),
        description="CPU threads for the encoder; 0 = every core this process may use",
    )
    embedding_max_tokens: int | None = Field(
        None,
        gt=0,
        validation_alias=AliasChoices("EMBEDDING_MAX_TOKENS", "embedding_max_tokens"),
        description="texts are cut to this many tokens; unset = the model's own limit",
    )
    model_cache_dir: Path = Field(
        default_factory=default_cache_dir,
        validation_alias=AliasChoices("OCTOREC_MODEL_CACHE", "model_cache_dir"),
        description="where the ONNX exports of the model are kept",
    )
    top_n: int = Field(
        5,
        gt=0,
        le=MAX_TOP_N,
        validation_alias=AliasChoices("RECOMMENDATION_TOP_N", "top_n"),
        description=f"recommendations kept per user, at most {MAX_TOP_N}",
    )
    min_similarity: float = Field(
        0.05,
        validation_alias=AliasChoices("RECOMMENDATION_MIN_SIMILARITY", "min_similarity"),
    )
    allow_empty_results: bool = Field(
        False,
        validation_alias=AliasChoices("OCTOREC_ALLOW_EMPTY_RESULTS", "allow_empty_results"),
        description=(
            "let a scoring run that recommends nothing replace a stored table that had "
            "recommendations (warns instead of failing)"
        ),
    )
    force: bool = Field(
        False,
        validation_alias=AliasChoices("OCTOREC_FORCE", "force"),
        description="recompute every step even when its inputs have not changed",
    )
    api_refresh_seconds: float = Field(
        10.0,
        ge=0,
        validation_alias=AliasChoices("API_REFRESH_SECONDS", "api_refresh_seconds"),
        description="how often `octorec serve` looks for a newer run's results (0: never)",
    )
    api_scoring_workers: int = Field(
        1,
        ge=1,
        le=16,
        validation_alias=AliasChoices("API_SCORING_WORKERS", "api_scoring_workers"),
        description=(
            "threads of `octorec serve` that score batched on-request recommendations, each a "
            "batch at a time"
        ),
    )
    api_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("API_TOKEN", "api_token"),
        description=(
            "when set, writes (feedback) and requests that spend GitHub quota (refresh) need "
            "`Authorization: Bearer <token>`; reads of stored results stay open"
        ),
    )
    run_lock_timeout_seconds: float = Field(
        3600.0,
        ge=0,
        validation_alias=AliasChoices("OCTOREC_RUN_LOCK_TIMEOUT", "run_lock_timeout_seconds"),
    )
    warehouse_retry_seconds: float = Field(
        5.0,
        ge=0,
        validation_alias=AliasChoices("OCTOREC_WAREHOUSE_RETRY_SECONDS", "warehouse_retry_seconds"),
        description=(
            "first wait before a PostgreSQL server that cannot be reached is tried again "
            "(three retries, the wait doubling: 5, 10, 20 s)"
        ),
    )
    user_profile_weight: float = Field(
        0.3,
        ge=0,
        le=1,
        validation_alias=AliasChoices("USER_PROFILE_WEIGHT", "user_profile_weight"),
    )
    weights: ScoringWeights = Field(default_factory=lambda: ScoringWeights())
    content_weights: ContentWeights = Field(default_factory=lambda: ContentWeights())
    scorer: ScorerSettings = Field(default_factory=lambda: ScorerSettings())
    filters: CandidateFilters = Field(default_factory=lambda: CandidateFilters())
    ranker: RankerSettings = Field(default_factory=lambda: RankerSettings())
    evaluation_database: Path = Field(
        Path("data/evaluation.duckdb"),
        validation_alias=AliasChoices("OCTOREC_EVALUATION_DATABASE", "evaluation_database"),
        description="where `octorec evaluate` builds its data and keeps its embedding cache",
    )

    github_api_url: str = Field(
        "https://api.github.com", validation_alias=AliasChoices("GITHUB_API_URL", "github_api_url")
    )
    github_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("GITHUB_TOKEN", "github_token")
    )
    github_search_queries: str = Field(
        "",
        validation_alias=AliasChoices("GITHUB_SEARCH_QUERIES", "github_search_queries"),
        description="search queries separated by ';', e.g. 'language:python stars:>100'",
    )
    github_repositories: str = Field(
        "",
        validation_alias=AliasChoices("GITHUB_REPOSITORIES", "github_repositories"),
        description="explicit owner/name list, separated by commas or whitespace",
    )
    github_users: str = Field("", validation_alias=AliasChoices("GITHUB_USERS", "github_users"))
    github_users_file: Path | None = Field(
        None, validation_alias=AliasChoices("GITHUB_USERS_FILE", "github_users_file")
    )
    github_max_repositories: int = Field(
        1000,
        gt=0,
        validation_alias=AliasChoices("GITHUB_MAX_REPOSITORIES", "github_max_repositories"),
    )
    github_batch_size: int = Field(
        50, gt=0, le=100, validation_alias=AliasChoices("GITHUB_BATCH_SIZE", "github_batch_size")
    )
    github_max_retries: int = Field(
        5, ge=0, validation_alias=AliasChoices("GITHUB_MAX_RETRIES", "github_max_retries")
    )
    github_backoff_seconds: float = Field(
        1.0, ge=0, validation_alias=AliasChoices("GITHUB_BACKOFF_SECONDS", "github_backoff_seconds")
    )
    github_max_wait_seconds: float = Field(
        3600.0, ge=0, validation_alias=AliasChoices("GITHUB_MAX_WAIT", "github_max_wait_seconds")
    )
    github_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("GITHUB_TIMEOUT", "github_timeout_seconds")
    )
    github_max_detail_age_days: float = Field(
        7.0,
        ge=0,
        validation_alias=AliasChoices("GITHUB_MAX_DETAIL_AGE_DAYS", "github_max_detail_age_days"),
        description="repository details older than this are read again even if unchanged",
    )

    @property
    def warehouse_location(self) -> str | Path:
        """The PostgreSQL URL when `DATABASE_URL` is set, else the DuckDB file."""
        if self.database_url is not None and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return self.database

    @field_validator("database_url", mode="after")
    @classmethod
    def _postgres_only(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("expected a postgresql://user:password@host:port/database URL")
        return url

    @field_validator(
        "snapshot_dir",
        "database",
        "evaluation_database",
        "model_cache_dir",
        "dbt_dir",
        mode="after",
    )
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        return path.expanduser().resolve() if path is not None else None


class AutomationSettings(BaseSettings):
    """When the pipeline runs by itself: the schedule, the snapshot and the feedback sensors.

    Read when the code location loads (`load_automation_settings`), like `OCTOREC_SHARDS`:
    Dagster fixes a schedule's cron, timezone and default status, and a sensor's interval, in
    the definitions. The cron string itself is checked by Dagster's own rules where the schedule
    is defined (`octorec.defs.automation`), so what is accepted here is what Dagster runs.
    """

    model_config = SettingsConfigDict(env_prefix="OCTOREC_", frozen=True, allow_inf_nan=False)

    schedule_cron: str = Field(
        "0 3 * * *",
        min_length=1,
        description="five-field cron string of the pipeline's schedule; default 03:00 nightly",
    )
    schedule_timezone: str = Field(
        "UTC", description="IANA timezone the cron string is read in, e.g. Europe/Berlin"
    )
    schedule_enabled: bool = Field(
        False, description="the schedule starts RUNNING when the instance first sees it"
    )
    snapshot_sensor_enabled: bool = Field(
        False, description="the snapshot sensor starts RUNNING when the instance first sees it"
    )
    snapshot_sensor_seconds: int = Field(
        60, ge=5, description="seconds between two evaluations of the snapshot sensor"
    )
    feedback_sensor_enabled: bool = Field(
        False, description="the feedback sensor starts RUNNING when the instance first sees it"
    )
    feedback_sensor_seconds: int = Field(
        3600,
        ge=5,
        description="seconds between two evaluations of the feedback sensor: at most one "
        "feedback run this often, however many answers arrive",
    )

    @field_validator("schedule_cron", mode="after")
    @classmethod
    def _one_line(cls, cron: str) -> str:
        return " ".join(cron.split())

    @field_validator("schedule_timezone", mode="after")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "expected an IANA timezone name such as UTC or Europe/Berlin"
            ) from None
        return name


class SettingsError(ValueError):
    """An environment variable holds a value octorec cannot use; the message names it."""


_SECRET_MARKERS = ("URL", "PASSWORD", "TOKEN", "SECRET")


def _describe(error: ValidationError, prefix: str = "") -> str:
    problems = []
    for item in error.errors():
        name = prefix + ".".join(str(part) for part in item["loc"]).upper()
        shown = "" if any(m in name for m in _SECRET_MARKERS) else f" (found {item['input']!r})"
        problems.append(f"{name}: {item['msg']}{shown}")
    return "invalid settings: " + "; ".join(problems)


def load_settings() -> Settings:
    """Read the settings from the environment now; call it when a run starts.

    Raises:
        SettingsError: a variable is set to something unusable; the message names each one.
    """
    try:
        weights = ScoringWeights()
        content_weights = ContentWeights()
        scorer = ScorerSettings()
        filters = CandidateFilters()
        ranker = RankerSettings()
    except ValidationError as error:
        prefix = {
            "ScoringWeights": "RECOMMENDATION_WEIGHT_",
            "ContentWeights": "RECOMMENDATION_CONTENT_WEIGHT_",
            "RankerSettings": "RANKER_",
        }.get(error.title, "RECOMMENDATION_")
        raise SettingsError(_describe(error, prefix=prefix)) from None
    try:
        return Settings(
            weights=weights,
            content_weights=content_weights,
            scorer=scorer,
            filters=filters,
            ranker=ranker,
        )
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


def load_automation_settings() -> AutomationSettings:
    """Read the schedule's and the sensor's settings; call it where the definitions load.

    Raises:
        SettingsError: an `OCTOREC_SCHEDULE_*`, `OCTOREC_SNAPSHOT_SENSOR_*` or
            `OCTOREC_FEEDBACK_SENSOR_*` variable is unusable; the message names it.
    """
    try:
        return AutomationSettings()
    except ValidationError as error:
        raise SettingsError(_describe(error, prefix="OCTOREC_")) from None
