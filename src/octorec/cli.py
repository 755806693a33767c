"""The `octorec` command line: run the pipeline, read and serve the stored recommendations.

It calls the domain modules directly, never Dagster asset functions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from octorec.embeddings.encoder import EmbeddingBackend
from octorec.results import (
    StoredRecommendation,
    UnknownNameError,
    last_run,
    load_project_vectors,
    recommendations_for,
    users_with_recommendations,
)
from octorec.settings import SettingsError, load_settings
from octorec.warehouse import WarehouseError, open_warehouse

if TYPE_CHECKING:
    from octorec.github.source import ScrapeProgress
    from octorec.pipeline_run import AssetOutcome, RunSummary


def _table(recommendations: Sequence[StoredRecommendation]) -> str:
    header = (
        f"{'rank':>4}  {'project':<42} {'score':>6}  "
        f"{'sem':>5} {'cat':>5} {'tech':>5} {'pop':>5} {'collab':>6}  reason"
    )
    lines = [header]
    for r in recommendations:
        lines.append(
            f"{r.rank:>4}  {r.project_full_name:<42} {r.score:>6.3f}  "
            f"{r.semantic_similarity:>5.2f} {r.category_similarity:>5.2f} "
            f"{r.tech_stack_similarity:>5.2f} {r.popularity_similarity:>5.2f} "
            f"{r.collaborative_similarity:>6.2f}  {r.reason}"
        )
    return "\n".join(lines)


def _names(text: str) -> list[str]:
    """`--starred`/`--categories`/`--tech-stack`: a comma-separated list (blanks dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _recommend_on_request(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from octorec.scoring.context import load_context
    from octorec.scoring.person import Person, ProfileEncoder, recommend_person
    from octorec.sources.validation import InvalidField, full_name

    try:
        starred = [full_name(name) for name in args.starred]
    except InvalidField as error:
        print(f"octorec: --starred: {error}", file=sys.stderr)
        return 1
    settings = load_settings()
    with open_warehouse(settings.warehouse_location, read_only=True) as warehouse:
        run = last_run(warehouse)
        context = load_context(warehouse, settings)
    person = Person(
        starred=starred, categories=args.categories, tech_stack=args.tech_stack, bio=args.bio
    )
    answer = recommend_person(
        person,
        context,
        settings,
        run[0] if run else "on-request",
        ProfileEncoder(settings) if args.bio else None,
        top_n=args.top or 10,
    )
    fields = [f.name for f in dataclasses.fields(StoredRecommendation)]
    recommendations = [
        StoredRecommendation(**{name: row[name] for name in fields})
        for row in answer.table.to_pylist()
    ]
    notes = {
        "known_projects": answer.known,
        "unknown_projects": answer.unknown_projects,
        "unmatched_categories": answer.unmatched_categories,
        "unmatched_tech_stack": answer.unmatched_tech_stack,
    }
    if args.json:
        payload = {
            **notes,
            "weights": answer.weights,
            "recommendations": [dataclasses.asdict(r) for r in recommendations],
        }
        print(json.dumps(payload, indent=2))
        return 0
    for name, values in notes.items():
        if values and name != "known_projects":
            print(
                f"octorec: {name.replace('_', ' ')} (ignored): {', '.join(values)}", file=sys.stderr
            )
    if not recommendations:
        print("nothing to recommend above RECOMMENDATION_MIN_SIMILARITY")
        return 0
    print(f"on request ({len(answer.known)} known projects):\n{_table(recommendations)}")
    return 0


def _recommend(args: argparse.Namespace) -> int:
    on_request = bool(args.starred or args.categories or args.tech_stack or args.bio)
    if on_request and args.login:
        print(
            "octorec: give a LOGIN (stored recommendations) or --starred/--categories/"
            "--tech-stack/--bio (computed now), not both",
            file=sys.stderr,
        )
        return 1
    if on_request:
        return _recommend_on_request(args)
    if not args.login:
        print(
            "octorec: recommend needs a LOGIN, or --starred owner/name,... (or --bio, "
            "--categories, --tech-stack) to compute recommendations now",
            file=sys.stderr,
        )
        return 1
    with open_warehouse(load_settings().warehouse_location, read_only=True) as warehouse:
        recommendations = recommendations_for(warehouse, args.login, args.top)
    if args.json:
        import dataclasses
        import json

        print(json.dumps([dataclasses.asdict(r) for r in recommendations], indent=2))
    else:
        print(f"{recommendations[0].user_login}:\n{_table(recommendations)}")
    return 0


def _similar(args: argparse.Namespace) -> int:
    with open_warehouse(load_settings().warehouse_location, read_only=True) as warehouse:
        vectors = load_project_vectors(warehouse)
    similar = vectors.similar(args.project, args.top)
    name = vectors.names[vectors.position(args.project)]
    lines = [f"projects like {name}:", f"{'rank':>4}  {'project':<42} {'cosine':>6}  shared"]
    for rank, project in enumerate(similar, start=1):
        shared = ", ".join([*project.shared_categories, *project.shared_tech_stack]) or "-"
        lines.append(f"{rank:>4}  {project.full_name:<42} {project.similarity:>6.3f}  {shared}")
    print("\n".join(lines))
    return 0


def _status(args: argparse.Namespace) -> int:
    from octorec.definitions import defs
    from octorec.pipeline_run import dagster_home
    from octorec.status import pipeline_status

    with open_warehouse(load_settings().warehouse_location, read_only=True) as warehouse:
        statuses = pipeline_status(defs(), warehouse)
    print(
        f"{'asset':<31} {'group':<16} {'last materialised (UTC)':<24} {'rows':>8}  stored rows now"
    )
    for status in statuses:
        when = (
            status.materialized_at.strftime("%Y-%m-%d %H:%M:%S")
            if status.materialized_at
            else "never"
        )
        reported = "-" if status.reported_rows is None else str(status.reported_rows)
        stored = ", ".join(
            f"{table} {'missing' if rows is None else rows}"
            for table, rows in status.stored_rows.items()
        )
        print(f"{status.asset:<31} {status.group:<16} {when:<24} {reported:>8}  {stored or '-'}")
    if not any(s.run_id for s in statuses):
        print(f"\nno materialisation recorded in {dagster_home()} yet (octorec run, make demo)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from octorec.definitions import defs
    from octorec.pipeline_run import ProgressEvent, pipeline_stages, run_pipeline
    from octorec.sharding import configured_shards

    load_settings()  # a bad setting is one line (main prints it) before any run starts
    definitions = defs()
    stages = pipeline_stages(definitions)
    bars = {
        stage.group: tqdm(
            total=len(stage.assets),
            desc=f"{stage.group:<16}",
            unit="asset",
            position=position,
            file=sys.stderr,
            leave=True,
        )
        for position, stage in enumerate(stages)
    }
    seen: set[str] = set()

    def report(event: ProgressEvent) -> None:
        if event.asset is None:
            for bar in bars.values():
                if bar.n < (bar.total or 0):
                    bar.set_postfix_str(event.step)
                    break
        elif event.group in bars and event.asset not in seen:
            seen.add(event.asset)
            bars[event.group].update(1)
            bars[event.group].set_postfix_str(event.asset)

    try:
        summary = run_pipeline(
            definitions,
            force=args.force,
            on_progress=report,
            on_warning=lambda message: tqdm.write(f"octorec: {message}", file=sys.stderr),
        )
    finally:
        for bar in bars.values():
            bar.close()
    print(_run_summary(summary))
    if not summary.success:  # the cause, on the last line
        print(f"octorec: {_failure_line(summary)}", file=sys.stderr)
    if configured_shards() > 1:
        print(
            f"OCTOREC_SHARDS={configured_shards()}: this ran the stages before the shards; the "
            "embeddings and similarities run shard by shard as a Dagster asset backfill "
            "(docs/scale-out.md)"
        )
    return 0 if summary.success else 1


def _note(outcome: AssetOutcome) -> str:
    """What the summary says beside an asset's row count: unchanged, texts embedded and reused,
    rows rejected."""
    notes = []
    if outcome.unchanged:
        notes.append("unchanged: not rebuilt")
    if outcome.embedded is not None:
        notes.append(f"embedded {outcome.embedded}, reused {outcome.reused or 0} from the cache")
    if outcome.rejected is not None:
        notes.append(
            f"{outcome.rejected} rows rejected"
            + (" (listed in raw.rejected_rows)" if outcome.rejected else "")
        )
    return "; ".join(notes)


def _run_summary(summary: RunSummary) -> str:
    lines = [f"{'asset':<31} {'group':<16} {'rows':>8}  note"]
    for outcome in summary.assets:
        rows = "-" if outcome.rows is None else str(outcome.rows)
        lines.append(f"{outcome.asset:<31} {outcome.group:<16} {rows:>8}  {_note(outcome)}")
    state = (
        "succeeded"
        if summary.success
        else f"FAILED at {summary.failed_step}"
        if summary.failed_step
        else "FAILED before any step"
    )
    lines.append(f"steps' output (dbt): {summary.log_file}")
    lines.append(
        f"run {summary.run_id} {state} in {summary.seconds:.1f} s: "
        f"{len(summary.assets)} assets materialised (recorded in {summary.dagster_home})"
    )
    return "\n".join(lines)


def _failure_line(summary: RunSummary) -> str:
    """`<step> failed: <cause>`, or the cause alone when the run failed before any step."""
    cause = summary.failure or "failed (see the run's log file)"
    return f"{summary.failed_step} failed: {cause}" if summary.failed_step else cause


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from octorec.serving.api import create_app

    app = create_app(load_settings())
    print(
        f"octorec: serving on http://{args.host}:{args.port}/ (API docs at /docs)", file=sys.stderr
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _sample(args: argparse.Namespace) -> int:
    with open_warehouse(load_settings().warehouse_location, read_only=True) as warehouse:
        logins = users_with_recommendations(warehouse, args.users)
        for login in logins:
            print(f"\n{login}:\n{_table(recommendations_for(warehouse, login, args.top))}")
    if not logins:
        print("no recommendations stored yet: run the pipeline first (make demo)")
        return 1
    return 0


def _scrape(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from octorec.github.http import GitHubFetchError
    from octorec.ingestion import ingest
    from octorec.sources import SourceUnavailableError, open_source

    settings = load_settings()
    bars: dict[str, tqdm] = {}

    def report(progress: ScrapeProgress) -> None:
        bar = bars.get(progress.phase)
        if bar is None:
            bar = bars[progress.phase] = tqdm(
                total=progress.total, desc=progress.phase, unit="item", file=sys.stderr
            )
        bar.total = progress.total
        bar.n = progress.done
        bar.set_postfix(
            requests=progress.stats["requests"],
            not_modified=progress.stats["not_modified"],
            retries=progress.stats["retries"],
        )
        bar.refresh()

    with open_warehouse(settings.warehouse_location) as warehouse:
        try:
            run = ingest(open_source(settings, warehouse, on_progress=report), warehouse)
        except (SourceUnavailableError, GitHubFetchError) as error:
            failure: Exception | None = error
        else:
            failure = None
        finally:
            for bar in bars.values():
                bar.close()
    if failure is not None:  # on its own line, after the progress bars were closed
        print(f"octorec: {failure} (batches committed before this are kept)", file=sys.stderr)
        return 1
    print(
        f"stored {run.repositories} repositories, {run.users} users and "
        f"{run.interactions} interactions in {run.batches} batches"
    )
    return 0


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, not {text!r}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1], not {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _ks(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected k values like 5,10, not {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive k values like 5,10, not {text!r}")
    return values


def _seeds(text: str) -> tuple[int, ...]:
    try:
        values = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 42,1,2,3, not {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected seeds like 42,1,2,3, not {text!r}")
    return values


def _evaluate(args: argparse.Namespace) -> int:
    import json
    import logging

    from octorec.dbt_project import DbtRunError
    from octorec.evaluation.run import (
        EvaluationOptions,
        evaluate,
        evaluate_seeds,
        read_snapshot,
    )
    from octorec.evaluation.subsets import UserSubset
    from octorec.sources import SourceUnavailableError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for noisy in ("dagster", "dagster_dbt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = load_settings()
    try:
        data = read_snapshot(args.repos, args.stars, args.users)
    except SourceUnavailableError as error:
        print(f"octorec: {error}", file=sys.stderr)
        return 1
    if data.rejected:
        print(
            f"{len(data.rejected)} malformed rows left out (first: {data.rejected[0].source_file}"
            f":{data.rejected[0].line_number}: {data.rejected[0].reason})",
            file=sys.stderr,
        )
    try:
        subset = UserSubset.parse(args.user_subset, args.user_sample)
    except ValueError as error:
        print(f"octorec: {error}", file=sys.stderr)
        return 2
    data = subset.apply(data)
    options = EvaluationOptions(
        holdout=args.holdout,
        seed=args.seed,
        ks=args.k,
        validation_folds=args.folds,
        users=subset.describe(),
    )

    def say(message: str) -> None:
        print(f"· {message}", file=sys.stderr, flush=True)

    try:
        if args.seeds:
            several = evaluate_seeds(data, settings, args.seeds, options, on_phase=say)
            report = several.mean_report()
        else:
            report = evaluate(data, settings, options, on_phase=say)
    except DbtRunError as error:
        print(f"octorec: {error}", file=sys.stderr)
        return 1
    dataset = report.dataset
    seeds = ",".join(str(s) for s in args.seeds) if args.seeds else str(args.seed)
    print(
        f"{dataset['users']} users, {dataset['repos']} repositories, "
        f"{dataset['test_interactions']} held-out interactions "
        f"(hold-out {args.holdout}, seed{'s' if args.seeds else ''} {seeds})\n"
    )
    if args.seeds:
        print(f"mean over seeds {seeds}:")
    print(report.table())
    print()
    if args.seeds:
        print("mean [95% bootstrap interval over users]:")
        print(several.table())
        print()
    if args.seeds:
        fits = [r.setup["ranker"]["fit_seconds"] for r in several.reports.values()]
        seconds = ", ".join(f"{f:g}" for f in fits)
        print(f"ranker fit: {seconds} s per seed; users: {subset.describe()}")
    for line in report.targets("octorec") + report.targets("octorec_fitted"):
        print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = several.to_json() if args.seeds else report.to_json()
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from octorec.embeddings.encoder import ModelUnavailableError, TextEncoder
    from octorec.embeddings.text_file import TextFileError, embed_text_file

    encoder = TextEncoder.from_settings(load_settings(), backend=args.backend)
    try:
        done = embed_text_file(args.input, args.output, encoder)
    except (TextFileError, ModelUnavailableError) as error:
        print(f"octorec: {error}", file=sys.stderr)
        return 1
    print(
        f"embedded {done.texts} texts with {done.backend} on {done.device} in "
        f"{done.seconds:.2f} s ({done.texts_per_second:.0f} texts/s) -> {args.output}",
        file=sys.stderr,
    )
    return 0


def _backend(text: str) -> EmbeddingBackend:
    try:
        return EmbeddingBackend(text)
    except ValueError:
        choices = ", ".join(b.value for b in EmbeddingBackend)
        raise argparse.ArgumentTypeError(f"expected one of {choices}, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `octorec` command."""
    parser = argparse.ArgumentParser(prog="octorec", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="run the whole pipeline (training_data_pipeline) with a progress bar per stage"
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="recompute everything: rebuild every dbt model and embed every text again",
    )
    run.set_defaults(run=_run)

    recommend = commands.add_parser(
        "recommend",
        help="show a user's stored recommendations, or compute them now for a few projects",
    )
    recommend.add_argument("login", nargs="?", help="a user of the last run")
    recommend.add_argument(
        "--starred",
        type=_names,
        default=[],
        metavar="OWNER/NAME,...",
        help="compute now for someone who starred these (names the catalogue lacks are listed)",
    )
    recommend.add_argument(
        "--categories", type=_names, default=[], help="declared categories, comma-separated"
    )
    recommend.add_argument(
        "--tech-stack", type=_names, default=[], help="declared tech stack, comma-separated"
    )
    recommend.add_argument("--bio", default=None, help="a few words about them (embedded)")
    recommend.add_argument(
        "--top",
        "--limit",
        dest="top",
        type=_positive,
        default=None,
        help="at most this many (on request: default 10)",
    )
    recommend.add_argument("--json", action="store_true", help="print JSON instead of a table")
    recommend.set_defaults(run=_recommend)

    similar = commands.add_parser(
        "similar", help="projects most like a project (from the stored project embeddings)"
    )
    similar.add_argument("project", metavar="OWNER/REPO")
    similar.add_argument("--top", type=_positive, default=10, help="at most this many")
    similar.set_defaults(run=_similar)

    status = commands.add_parser(
        "status", help="what was last materialised, when, and the row counts stored now"
    )
    status.set_defaults(run=_status)

    serve = commands.add_parser("serve", help="the HTTP API and web page (FastAPI, docs at /docs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_positive, default=8000)
    serve.set_defaults(run=_serve)

    sample = commands.add_parser("sample", help="show the recommendations of a few users")
    sample.add_argument("--users", type=int, default=3)
    sample.add_argument("--top", type=int, default=None)
    sample.set_defaults(run=_sample)

    scrape = commands.add_parser(
        "scrape",
        help="collect GitHub data into the raw tables (github_scraping, with a progress bar)",
    )
    scrape.set_defaults(run=_scrape)

    evaluate = commands.add_parser(
        "evaluate",
        help="hold out interactions, rebuild with the pipeline, compare octorec with baselines",
    )
    evaluate.add_argument("--repos", type=Path, required=True, help="repos.csv")
    evaluate.add_argument("--stars", type=Path, required=True, help="user_stars.csv")
    evaluate.add_argument("--users", type=Path, default=None, help="users.csv (optional)")
    evaluate.add_argument(
        "--holdout", type=_fraction, default=0.2, help="fraction held out per user"
    )
    evaluate.add_argument(
        "--folds", type=_positive, default=3, help="validation folds the weights are fitted on"
    )
    evaluate.add_argument("--seed", type=int, default=42)
    evaluate.add_argument(
        "--seeds",
        type=_seeds,
        default=None,
        help="several splits in one run, e.g. 42,1,2,3: mean and 95%% bootstrap interval",
    )
    evaluate.add_argument("--k", type=_ks, default=(5, 10), help="cut-offs, e.g. 5,10")
    evaluate.add_argument(
        "--user-subset",
        default="all",
        help="all, or most-stars:N (only the N users with the most stars): a robustness check",
    )
    evaluate.add_argument(
        "--user-sample",
        type=_share,
        default=None,
        help="keep a seeded random share of the users (e.g. 0.5): a robustness check",
    )
    evaluate.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    evaluate.set_defaults(run=_evaluate)

    embed = commands.add_parser(
        "embed", help="embed one text per line with the pipeline's encoder, write a .npy file"
    )
    embed.add_argument("--input", type=Path, required=True, help="UTF-8 text, one per line")
    embed.add_argument("--output", type=Path, required=True, help="rows × dimensions .npy")
    embed.add_argument(
        "--backend",
        type=_backend,
        default=None,
        help="auto, torch, onnx or onnx-int8 (default: EMBEDDING_BACKEND)",
    )
    embed.set_defaults(run=_embed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (UnknownNameError, WarehouseError, SettingsError) as error:
        print(f"octorec: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
