"""The registration state machine: which decision may follow which status."""

from __future__ import annotations

import enum


class RegistrationStatus(enum.StrEnum):
    PROPOSED = "proposed"  # registered by a physician, waiting for the 3C
    ACCEPTED = "accepted"  # on the final list of the session
    DEFERRED = "deferred"  # moved by the 3C to another session (a new registration there)
    REFUSED = "refused"  # refused by the 3C, with a reason
    WITHDRAWN = "withdrawn"  # withdrawn by the physician before the deadline


class Action(enum.StrEnum):
    ACCEPT = "accepted"
    DEFER = "deferred"
    REFUSE = "refused"
    WITHDRAW = "withdrawn"


S = RegistrationStatus

TRANSITIONS: dict[RegistrationStatus, dict[Action, RegistrationStatus]] = {
    S.PROPOSED: {
        Action.ACCEPT: S.ACCEPTED,
        Action.DEFER: S.DEFERRED,
        Action.REFUSE: S.REFUSED,
        Action.WITHDRAW: S.WITHDRAWN,
    },
    S.ACCEPTED: {
        Action.DEFER: S.DEFERRED,
        Action.REFUSE: S.REFUSED,
        Action.WITHDRAW: S.WITHDRAWN,
    },
    S.DEFERRED: {},
    S.REFUSED: {},
    S.WITHDRAWN: {},
}

#: Statuses that hold a place in the session (count against its capacity).
ACTIVE = frozenset({S.PROPOSED, S.ACCEPTED})


class TransitionError(ValueError):
    """The action is not allowed from the current status."""


def next_status(current: RegistrationStatus | str, action: Action | str) -> RegistrationStatus:
    """The status after ``action``; raises TransitionError when the action is not allowed."""
    status, act = RegistrationStatus(current), Action(action)
    target = TRANSITIONS[status].get(act)
    if target is None:
        allowed = ", ".join(a.value for a in TRANSITIONS[status]) or "none (final status)"
        raise TransitionError(
            f"a registration {status.value} cannot become {act.value} (allowed: {allowed})"
        )
    return target


def holds_place(status: RegistrationStatus | str) -> bool:
    return RegistrationStatus(status) in ACTIVE
