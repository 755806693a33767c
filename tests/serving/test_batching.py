"""Dynamic batching of request-time scoring: requests scored together get exactly the rows each
gets alone (the learned ranker and the formula, with per-request options), one bad request
fails alone, and the serving context's rows do not depend on who else is in the call."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from octorec.ranker import train_model
from octorec.scoring.context import ScoringContext, build_context, join_users, select_users
from octorec.scoring.inputs import UserFeatures
from octorec.scoring.profiles import profile_features
from octorec.scoring.store import score_users
from octorec.serving.batching import ScoringBatcher, batchable
from octorec.settings import RankerSettings, Settings
from tests.ranker.world import language_world
from tests.scoring.synthetic import synthetic_world

RANKER = Settings(ranker=RankerSettings(candidates_per_signal=25, min_positives=20), top_n=8)
FORMULA = Settings(min_similarity=0.0, top_n=6)


def _rows(table: pa.Table) -> list[dict]:
    return table.drop_columns(["computed_at"]).to_pylist()


@pytest.fixture(scope="module")
def ranked() -> tuple[UserFeatures, ScoringContext]:
    profiles, projects = language_world(n_users=40, n_projects=180)
    outcome = train_model(profiles, projects, RANKER, seed=7)
    assert outcome.model is not None, outcome.reason
    users = profile_features(profiles, projects, RANKER.user_profile_weight)
    context = build_context(projects, users.known, RANKER, outcome.model, row_invariant=True)
    return users, context


@pytest.fixture(scope="module")
def formula() -> tuple[UserFeatures, ScoringContext]:
    users, projects = synthetic_world(50, 400, seed=5)
    return users, build_context(projects, users.known, FORMULA, row_invariant=True)


def _all_at_once(batcher: ScoringBatcher, submit: Callable[[int], object], count: int) -> list:
    """Submit `count` requests from as many threads, released together."""
    futures: list = [None] * count
    start = threading.Barrier(count)

    def one(i: int) -> None:
        start.wait()
        futures[i] = submit(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [future.result(timeout=60) for future in futures]  # type: ignore[attr-defined]


def test_the_serving_context_scores_a_user_with_others_exactly_as_alone(ranked) -> None:
    users, context = ranked
    together = _rows(score_users(users, context, RANKER, "run"))
    alone = [
        row
        for i in range(len(users.logins))
        for row in _rows(score_users(select_users(users, [i]), context, RANKER, "run"))
    ]
    assert together and together == alone


@pytest.mark.parametrize("workers", [1, 2])
def test_batched_requests_get_the_rows_each_gets_alone_under_the_ranker(ranked, workers) -> None:
    users, context = ranked
    batcher = ScoringBatcher(max_batch=64, max_wait=0.5, workers=workers)
    count = 24
    try:
        tables = _all_at_once(
            batcher,
            lambda i: batcher.submit(select_users(users, [i]), context, RANKER, "run", top_n=5),
            count,
        )
    finally:
        batcher.stop()
    assert batcher.scored == count and batcher.batches < count  # some were scored together
    for i, table in enumerate(tables):
        alone = score_users(select_users(users, [i]), context, RANKER, "run", top_n=5)
        assert table.num_rows > 0
        assert _rows(table) == _rows(alone), users.logins[i]


def test_batched_requests_with_different_options_each_get_their_own(formula) -> None:
    users, context = formula
    names = context.projects.names
    # Users 0 and 1 know nothing (scored alone), the rest in groups of equal options.
    options = [
        {"top_n": 3 + i % 3, "exclude": [names[i], names[i + 1]] if i % 2 else []}
        for i in range(len(users.logins))
    ]
    assert not batchable(select_users(users, [0]), context)
    assert batchable(select_users(users, [5]), context)
    batcher = ScoringBatcher(max_wait=0.5)
    try:
        tables = _all_at_once(
            batcher,
            lambda i: batcher.submit(select_users(users, [i]), context, FORMULA, "r", **options[i]),
            len(users.logins),
        )
    finally:
        batcher.stop()
    assert batcher.batches < len(users.logins)
    for i, table in enumerate(tables):
        alone = score_users(select_users(users, [i]), context, FORMULA, "r", **options[i])
        assert _rows(table) == _rows(alone), users.logins[i]
        excluded = set(options[i]["exclude"])
        assert not excluded & set(table.column("project_full_name").to_pylist())


def test_a_bad_request_fails_alone_and_its_batch_is_answered(formula) -> None:
    users, context = formula
    good = [select_users(users, [i]) for i in range(2, 12)]
    one = good[0]
    wrong = UserFeatures(  # a known matrix over another catalogue: scoring it raises
        logins=["wrong"],
        semantic=one.semantic,
        categories=one.categories,
        tech_stack=one.tech_stack,
        known=sp.csr_matrix(np.ones((1, 3), dtype=np.float32)),
    )
    requests = [*good[:5], wrong, *good[5:]]
    batcher = ScoringBatcher(max_wait=0.5)
    try:
        futures = [None] * len(requests)
        start = threading.Barrier(len(requests))

        def one_request(i: int) -> None:
            start.wait()
            futures[i] = batcher.submit(requests[i], context, FORMULA, "r")

        threads = [threading.Thread(target=one_request, args=(i,)) for i in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for request, future in zip(requests, futures, strict=True):
            if request is wrong:
                with pytest.raises(ValueError):
                    future.result(timeout=60)
            else:
                expected = score_users(request, context, FORMULA, "r")
                assert _rows(future.result(timeout=60)) == _rows(expected)
    finally:
        batcher.stop()
    # They were asked together: the failed batch was scored again one request at a time.
    assert batcher.scored == len(requests) and batcher.batches >= len(requests)


def test_join_users_keeps_each_users_rows_and_dismissals(formula) -> None:
    users, _ = formula
    first = select_users(users, [3, 4])
    dismissed = sp.csr_matrix(([1.0], ([0], [7])), shape=(1, users.known.shape[1]))
    second = UserFeatures(
        logins=["x"],
        semantic=users.semantic[[9]],
        categories=[users.categories[9]],
        tech_stack=[users.tech_stack[9]],
        known=users.known[[9]],
        dismissed=dismissed.astype(np.float32),
    )
    joined = join_users([first, second])
    assert joined.logins == [users.logins[3], users.logins[4], "x"]
    assert (joined.known != users.known[[3, 4, 9]]).nnz == 0
    assert joined.dismissed is not None and joined.dismissed[2, 7] == 1
    assert joined.dismissed[:2].nnz == 0
    assert select_users(joined, [2]).dismissed is not None  # select_users keeps them
