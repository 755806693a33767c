"""Dynamic batching of request-time scoring: concurrent requests scored in one `score_users`
call (what Triton, TorchServe and Ray Serve call dynamic batching).

One worker thread takes every scoring request waiting (at most `MAX_BATCH`, waiting at most
`MAX_WAIT_SECONDS` for more when it finds fewer), groups them by what they were asked with
(the snapshot's context, run, limit, exclusions, filters) and scores each group in one call:
the matrix work over many users costs much less per user than one user at a time. Each request
then gets its own rows, exactly those it would get alone:

- the serving context is built `row_invariant` (the item-item model's dual form multiplies each
  user on their own), and the rest of scoring is row by row or exact integer arithmetic;
- a user scored in a batch only where that holds (`batchable`): a person who knows no catalogue
  project (their semantic term is one product over all such users), a context without the
  catalogue's cosines (the known projects' cosines are one product over the batch's union) or
  with approximate retrieval and no learned ranker (the index searches all queries at once)
  is scored alone, in the same worker;
- a group whose call fails is scored again one request at a time, so an error in one
  request's input fails that request only.

Scoring runs in the worker, never on the event loop; a request waits for its future.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections.abc import Collection, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from octorec.scoring.context import ScoringContext, join_users
from octorec.scoring.inputs import UserFeatures
from octorec.scoring.store import score_users
from octorec.settings import Retrieval, Settings

logger = logging.getLogger(__name__)

MAX_BATCH = 64
"""Requests scored in one call at most."""
MAX_WAIT_SECONDS = 0.002
"""How long the worker waits for more requests when it finds fewer than `MAX_BATCH`."""


@dataclass(frozen=True)
class Options:
    """What a request asked its rows with; requests batch together only with equal options."""

    top_n: int | None
    exclude: frozenset[str]
    """Lower-case names."""
    languages: tuple[str, ...]
    categories: tuple[str, ...]

    @classmethod
    def of(
        cls,
        top_n: int | None,
        exclude: Collection[str],
        languages: Collection[str],
        categories: Collection[str],
    ) -> Options:
        return cls(
            top_n=top_n,
            exclude=frozenset(name.lower() for name in exclude),
            languages=tuple(sorted({language.lower() for language in languages})),
            categories=tuple(sorted({category.lower() for category in categories})),
        )


@dataclass
class _Request:
    users: UserFeatures
    """One user."""
    context: ScoringContext
    settings: Settings
    run_id: str
    options: Options
    future: Future[pa.Table] = field(default_factory=Future)


def batchable(users: UserFeatures, context: ScoringContext) -> bool:
    """Whether this one user's rows are the same scored with others as alone (see the module
    docstring); otherwise they are scored alone."""
    settings = context.settings
    return bool(
        context.row_invariant
        and (context.model is not None or settings.scorer.retrieval == Retrieval.EXACT)
        and settings.scorer.semantic_neighbours > 0
        and context.prepared.get("semantic") is not None
        and users.known.nnz > 0
    )


class ScoringBatcher:
    """The worker that scores requests in batches; started on the first request."""

    def __init__(
        self, max_batch: int = MAX_BATCH, max_wait: float = MAX_WAIT_SECONDS, workers: int = 1
    ) -> None:
        if max_batch < 1 or workers < 1:
            raise ValueError(
                f"max_batch and workers must be at least 1, not {max_batch} and {workers}"
            )
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.workers = workers
        """Worker threads, each taking the requests waiting when it is free (NumPy and
        LightGBM release the GIL in their loops, so two cores score two batches at once)."""
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._alone = itertools.count()
        self.batches = 0
        """Calls of `score_users` made (a batch of one counts)."""
        self.scored = 0
        """Requests answered."""
        self._counts = threading.Lock()

    def submit(
        self,
        users: UserFeatures,
        context: ScoringContext,
        settings: Settings,
        run_id: str,
        *,
        top_n: int | None = None,
        exclude: Collection[str] = (),
        languages: Collection[str] = (),
        categories: Collection[str] = (),
    ) -> Future[pa.Table]:
        """Queue one user's scoring (`score_users`' arguments); the future holds their rows."""
        if len(users.logins) != 1:
            raise ValueError(f"a request scores one user, not {len(users.logins)}")
        self._ensure_started()
        request = _Request(
            users, context, settings, run_id, Options.of(top_n, exclude, languages, categories)
        )
        self._queue.put(request)
        return request.future

    async def score(
        self,
        users: UserFeatures,
        context: ScoringContext,
        settings: Settings,
        run_id: str,
        *,
        top_n: int | None = None,
        exclude: Collection[str] = (),
        languages: Collection[str] = (),
        categories: Collection[str] = (),
    ) -> pa.Table:
        """`submit`, awaited without blocking the event loop."""
        future = self.submit(
            users,
            context,
            settings,
            run_id,
            top_n=top_n,
            exclude=exclude,
            languages=languages,
            categories=categories,
        )
        return await asyncio.wrap_future(future)

    def _ensure_started(self) -> None:
        with self._lock:
            if not self._threads or not all(thread.is_alive() for thread in self._threads):
                self._threads = [t for t in self._threads if t.is_alive()]
                while len(self._threads) < self.workers:
                    thread = threading.Thread(
                        target=self._loop, name=f"scoring-batcher-{len(self._threads)}", daemon=True
                    )
                    thread.start()
                    self._threads.append(thread)

    def stop(self) -> None:
        """End the workers once the requests queued before are answered."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            waiting = [first]
            deadline = time.perf_counter() + self.max_wait
            stop = False
            while len(waiting) < self.max_batch:
                try:
                    left = deadline - time.perf_counter()
                    nxt = self._queue.get_nowait() if left <= 0 else self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                waiting.append(nxt)
            try:
                self._answer(waiting)
            except BaseException as error:  # the worker must outlive any failure
                for request in waiting:
                    if not request.future.done():
                        request.future.set_exception(error)
            if stop:
                return

    def _answer(self, requests: list[_Request]) -> None:
        groups: dict[Hashable, list[_Request]] = {}
        for request in requests:
            key: Hashable = (
                (id(request.context), id(request.settings), request.run_id, request.options)
                if batchable(request.users, request.context)
                else ("alone", next(self._alone))
            )
            groups.setdefault(key, []).append(request)
        for group in groups.values():
            self._score(group)

    def _score(self, group: list[_Request]) -> None:
        first = group[0]
        options = first.options
        if len(group) == 1:
            try:
                table = score_users(
                    first.users,
                    first.context,
                    first.settings,
                    first.run_id,
                    top_n=options.top_n,
                    exclude=options.exclude,
                    languages=options.languages,
                    categories=options.categories,
                )
            except Exception as error:
                first.future.set_exception(error)
            else:
                first.future.set_result(table)
            with self._counts:
                self.batches += 1
                self.scored += 1
            return
        # Each request's user under a login of its own, so the rows split back by login.
        tags = [f"\x00{i}" for i in range(len(group))]
        try:
            users = join_users(
                [_relabelled(r.users, tag) for r, tag in zip(group, tags, strict=True)]
            )
            table = score_users(
                users,
                first.context,
                first.settings,
                first.run_id,
                top_n=options.top_n,
                exclude=options.exclude,
                languages=options.languages,
                categories=options.categories,
            )
        except Exception:
            logger.warning("a batch of %d failed; scoring its requests one at a time", len(group))
            for request in group:
                self._score([request])
            return
        with self._counts:
            self.batches += 1
            self.scored += len(group)
        column = table.schema.get_field_index("user_login")
        for request, tag in zip(group, tags, strict=True):
            mine = table.filter(pc.equal(table.column("user_login"), tag))
            login = request.users.logins[0]
            mine = mine.set_column(
                column, "user_login", pa.array([login] * mine.num_rows, pa.string())
            )
            request.future.set_result(mine)


def _relabelled(users: UserFeatures, login: str) -> UserFeatures:
    return UserFeatures(
        logins=[login],
        semantic=users.semantic,
        categories=users.categories,
        tech_stack=users.tech_stack,
        known=users.known,
        dismissed=users.dismissed,
    )
