"""The registration state machine."""

from __future__ import annotations

import pytest

from planning.lifecycle import (
    Action,
    RegistrationStatus,
    TransitionError,
    holds_place,
    next_status,
)

S = RegistrationStatus


@pytest.mark.parametrize(
    ("current", "action", "expected"),
    [
        (S.PROPOSED, Action.ACCEPT, S.ACCEPTED),
        (S.PROPOSED, Action.DEFER, S.DEFERRED),
        (S.PROPOSED, Action.REFUSE, S.REFUSED),
        (S.PROPOSED, Action.WITHDRAW, S.WITHDRAWN),
        (S.ACCEPTED, Action.DEFER, S.DEFERRED),
        (S.ACCEPTED, Action.REFUSE, S.REFUSED),
        (S.ACCEPTED, Action.WITHDRAW, S.WITHDRAWN),
    ],
)
def test_allowed_transitions(current, action, expected):
    assert next_status(current, action) is expected


@pytest.mark.parametrize(
    ("current", "action"),
    [
        (S.ACCEPTED, Action.ACCEPT),
        (S.REFUSED, Action.ACCEPT),
        (S.DEFERRED, Action.REFUSE),
        (S.WITHDRAWN, Action.ACCEPT),
        (S.REFUSED, Action.WITHDRAW),
    ],
)
def test_refused_transitions_say_what_is_allowed(current, action):
    with pytest.raises(TransitionError, match="cannot become"):
        next_status(current, action)


def test_final_statuses_say_so():
    with pytest.raises(TransitionError, match="final status"):
        next_status("deferred", "accepted")


def test_places_are_held_by_proposed_and_accepted_only():
    assert {s for s in S if holds_place(s)} == {S.PROPOSED, S.ACCEPTED}
