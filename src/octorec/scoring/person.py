"""Recommendations for anyone, computed on request from what is known of them.

A person is what they starred (catalogue names, any case; names the catalogue lacks are
reported, not fatal), the categories and tech stack they declared (mapped through the dbt
taxonomy as `dbt_user_embeddings_data` maps them; unmatched ones reported) and a short bio
(embedded with the pipeline's encoder). They become scorer input by the pipeline's own rules
(`octorec.scoring.profiles`) and are scored by `score_users` against a `ScoringContext`, the
function the batch run scores every stored user with.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from octorec.scoring.context import ScoringContext
from octorec.scoring.inputs import UserFeatures
from octorec.scoring.profiles import Profile, profile_features
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.rows import weights_used
from octorec.scoring.store import score_users
from octorec.settings import Settings
from octorec.sources.taxonomy import CATEGORY, TECH_STACK, load_taxonomy

if TYPE_CHECKING:
    from octorec.embeddings.encoder import TextEncoder

logger = logging.getLogger(__name__)

ANONYMOUS = "(on request)"
"""The login of a person who gave none, in the rows scored for them."""
BIO_CACHE = 1024
"""Profile texts whose vectors a `ProfileEncoder` keeps."""


@dataclass(frozen=True)
class Person:
    """What is known of someone to recommend to."""

    starred: Sequence[str] = ()
    """Projects they starred, `owner/name`, any case."""
    categories: Sequence[str] = ()
    tech_stack: Sequence[str] = ()
    bio: str | None = None
    login: str | None = None
    """Their GitHub login, when known: catalogue projects they own count as known, as dbt
    counts them for stored users."""


@dataclass(frozen=True)
class PersonAnswer:
    """The rows scored for a person and what of their input the catalogue did not know."""

    table: pa.Table
    """`user_project_similarities` rows, best first."""
    weights: dict[str, float]
    """The weights their score was made with (cold-start or popularity alone where it applies)."""
    known: list[str] = field(default_factory=list)
    """The catalogue projects they were taken to know (starred or owned)."""
    unknown_projects: list[str] = field(default_factory=list)
    unmatched_categories: list[str] = field(default_factory=list)
    unmatched_tech_stack: list[str] = field(default_factory=list)


class ProfileEncoder:
    """The pipeline's text encoder, loaded on first use, with the vectors of recent texts kept.

    Thread-safe: requests that arrive while the model loads wait for it once.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._encoder: TextEncoder | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _loaded(self) -> TextEncoder:
        with self._lock:
            if self._encoder is None:
                from octorec.embeddings.encoder import TextEncoder

                encoder = TextEncoder.from_settings(self.settings)
                encoder.check()
                self._encoder = encoder
            return self._encoder

    def vector(self, text: str) -> np.ndarray:
        """The unit-length vector of `text`."""
        with self._lock:
            found = self._vectors.get(text)
            if found is not None:
                self._vectors.move_to_end(text)
                return found
        vector = np.asarray(self._loaded().encode([text])[0], dtype=np.float32)
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > BIO_CACHE:
                self._vectors.popitem(last=False)
        return vector


def declared_labels(kind: str, values: Sequence[str]) -> tuple[list[str], list[str]]:
    """The taxonomy labels `values` map to (byte order) and the values that map to none."""
    taxonomy = load_taxonomy()
    labels: set[str] = set()
    unmatched: list[str] = []
    for value in values:
        found = taxonomy.labels_of(kind, value)
        if found:
            labels |= found
        else:
            unmatched.append(value)
    return sorted(labels, key=str.encode), unmatched


def person_profile(
    person: Person, context: ScoringContext, encoder: ProfileEncoder | None
) -> tuple[Profile, PersonAnswer]:
    """The person as a `Profile` against the context's catalogue, with what it did not know
    (in a `PersonAnswer` without rows yet)."""
    known: list[str] = []
    unknown: list[str] = []
    for name in dict.fromkeys(person.starred):
        found = context.name_of(name)
        if found is None:
            unknown.append(name)
        else:
            known.append(found)
    if person.login:
        known += context.owned_by(person.login)
    known = sorted(set(known), key=str.encode)
    categories, unmatched_categories = declared_labels(CATEGORY, person.categories)
    tech_stack, unmatched_tech_stack = declared_labels(TECH_STACK, person.tech_stack)
    text = (person.bio or "").strip()
    vector = None
    if text:
        if encoder is None:
            raise ValueError("a bio needs the text encoder")
        vector = encoder.vector(text)
    profile = Profile(
        login=person.login or ANONYMOUS,
        known=known,
        profile_vector=vector,
        declared_categories=categories,
        declared_tech_stack=tech_stack,
    )
    notes = PersonAnswer(
        table=pa.table({}),
        weights={},
        known=known,
        unknown_projects=unknown,
        unmatched_categories=unmatched_categories,
        unmatched_tech_stack=unmatched_tech_stack,
    )
    return profile, notes


def person_features(
    person: Person,
    context: ScoringContext,
    settings: Settings,
    encoder: ProfileEncoder | None = None,
) -> tuple[UserFeatures, PersonAnswer]:
    """The person as scorer input against the context's catalogue, with what of their input
    it did not know and the weights their score is made with (a `PersonAnswer` without rows
    yet): what `recommend_person` scores, and what a request batches."""
    profile, notes = person_profile(person, context, encoder)
    users = profile_features(
        [profile], context.projects, settings.user_profile_weight, columns=context.columns
    )
    return users, replace(notes, weights=scoring_weights(users, context, settings)[0])


def scoring_weights(
    users: UserFeatures, context: ScoringContext, settings: Settings
) -> list[dict[str, float]]:
    """The weights each user's score is made with, by component (`weights_used`)."""
    used = weights_used(
        settings.weights,
        context.cold_start_weights,
        users.knows_nothing(),
        users.without_signal(),
    )
    return [{name: float(row[i]) for i, name in enumerate(COMPONENTS)} for row in used]


def recommend_person(
    person: Person,
    context: ScoringContext,
    settings: Settings,
    run_id: str,
    encoder: ProfileEncoder | None = None,
    *,
    top_n: int | None = None,
    exclude: Collection[str] = (),
    languages: Collection[str] = (),
    categories: Collection[str] = (),
) -> PersonAnswer:
    """Score one person on request: `score_users` on their profile (see there for the
    options; `exclude` takes dismissed projects too)."""
    users, notes = person_features(person, context, settings, encoder)
    table = score_users(
        users,
        context,
        settings,
        run_id,
        top_n=top_n,
        exclude=exclude,
        languages=languages,
        categories=categories,
    )
    return replace(notes, table=table)
