"""Every fact a workflow records has a projection in the program record (adapters/store/projections.py)."""

from typing import get_args

from adapters.store.projections import HANDLERS
from domain.events import Fact


def test_every_kind_of_domain_event_has_a_projection() -> None:
    """A fact a workflow records that no projection knows would stop the store at its first append: each kind,
    including every kind a Matched fact takes, is named in the projections (those no table needs, as ignored)."""
    (union, _discriminator) = get_args(Fact)
    kinds = {kind for fact in get_args(union) for kind in get_args(fact.model_fields["kind"].annotation)}
    assert len(kinds) >= 24  # the 23 facts, one of them with two kinds
    assert kinds == set(HANDLERS)
