"""The `octorec` command line: read the stored recommendations.

It calls the domain modules directly, never Dagster asset functions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from octorec.results import (
    StoredRecommendation,
    UnknownUserError,
    recommendations_for,
    users_with_recommendations,
)
from octorec.settings import SettingsError, load_settings
from octorec.warehouse import WarehouseError, open_warehouse

if TYPE_CHECKING:
    from octorec.github.source import ScrapeProgress


def _table(recommendations: Sequence[StoredRecommendation]) -> str:
    header = (
        f"{'rank':>4}  {'project':<42} {'score':>6}  "
        f"{'sem':>5} {'cat':>5} {'tech':>5} {'pop':>5}  matched"
    )
    lines = [header]
    for r in recommendations:
        matched = ", ".join(r.matched_categories + r.matched_tech_stack) or "-"
        lines.append(
            f"{r.rank:>4}  {r.project_full_name:<42} {r.score:>6.3f}  "
            f"{r.semantic_similarity:>5.2f} {r.category_similarity:>5.2f} "
            f"{r.tech_stack_similarity:>5.2f} {r.popularity_similarity:>5.2f}  {matched}"
        )
    return "\n".join(lines)


def _recommend(args: argparse.Namespace) -> int:
    with open_warehouse(load_settings().warehouse_location, read_only=True) as warehouse:
        recommendations = recommendations_for(warehouse, args.login, args.top)
    print(f"{args.login}:\n{_table(recommendations)}")
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
            print(f"octorec: {error} (batches committed before this are kept)", file=sys.stderr)
            return 1
        finally:
            for bar in bars.values():
                bar.close()
    print(
        f"stored {run.repositories} repositories, {run.users} users and "
        f"{run.interactions} interactions in {run.batches} batches"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `octorec` command."""
    parser = argparse.ArgumentParser(prog="octorec", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    recommend = commands.add_parser("recommend", help="show a user's recommendations")
    recommend.add_argument("login")
    recommend.add_argument("--top", type=int, default=None, help="at most this many")
    recommend.set_defaults(run=_recommend)

    sample = commands.add_parser("sample", help="show the recommendations of a few users")
    sample.add_argument("--users", type=int, default=3)
    sample.add_argument("--top", type=int, default=None)
    sample.set_defaults(run=_sample)

    scrape = commands.add_parser(
        "scrape",
        help="collect GitHub data into the raw tables (github_scraping, with a progress bar)",
    )
    scrape.set_defaults(run=_scrape)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (UnknownUserError, WarehouseError, SettingsError) as error:
        print(f"octorec: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
