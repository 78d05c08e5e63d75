"""What an admin account may do. Two roles: a manager does everything; door staff only check
tickets in (the check-in page and its handlers, `POST /api/checkins`, the counts and the name
search at the door). One table, read by the one check of each entry point (the REST
dependency `api/admin_auth.require_admin` and the Reflex middleware `state/roles.py`), so a
new route or handler is a manager's unless it is declared part of check-in.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MANAGER = "manager"
    DOOR = "door"


class Capability(StrEnum):
    MANAGE = "manage"  # everything an organiser does
    CHECK_IN = "check_in"  # admit tickets at the door, and what that needs to read


GRANTS: dict[Role, frozenset[Capability]] = {
    Role.MANAGER: frozenset(Capability),
    Role.DOOR: frozenset({Capability.CHECK_IN}),
}
ROLES = tuple(r.value for r in Role)


def parse_role(value: str) -> Role:
    """A role from its name; unknown names are refused (never silently a manager)."""
    try:
        return Role((value or "").strip().lower())
    except ValueError:
        raise ValueError(f"unknown role {value!r}; one of {', '.join(ROLES)}") from None


def may(role: str, capability: Capability) -> bool:
    """Whether an account of `role` may do what needs `capability`. An unknown role (a row
    written by a newer release) may do nothing."""
    try:
        return capability in GRANTS[Role(role)]
    except ValueError:
        return False
