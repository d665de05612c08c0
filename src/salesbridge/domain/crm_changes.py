"""The CRM changes a seller is told about on their home: which changes of an imported record are noticed. Pure.

The import hands every page's changes (each record as stored before and after) to :func:`noticed_changes`; what
it returns is stored with the page. Noticed are changes of a record that was already stored (a new record, a
deleted one and a full read's rows are not "changes" a seller follows):

* ``owner``: a contact, lead, account or opportunity got another owner;
* ``stage``: an open opportunity's stage moved (``stepname``, else ``salesstage``);
* ``won`` / ``lost``: an opportunity was closed (``statecode`` 1 / 2);
* ``job``: a contact's or lead's job title or account changed (the workspace profile is then "Out of date").
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, NamedTuple

from salesbridge.domain.sync_runs import RecordChange, RecordState

VALUE_LENGTH = 400
"""Stored characters of a value before or after a change."""


class ChangeKind(StrEnum):
    """What changed."""

    OWNER = "owner"
    STAGE = "stage"
    WON = "won"
    LOST = "lost"
    JOB = "job"


class NoticedChange(NamedTuple):
    """One noticed change of a CRM record: ``before`` and ``after`` are the changed value as text (owner ids in
    lower case; a stage's name; a job title), ``owner_id`` and ``parent_id`` the record's after the change."""

    table: str
    crm_id: str
    kind: ChangeKind
    before: str | None
    after: str | None
    owner_id: str | None
    parent_id: str | None


_OWNED = frozenset({"contact", "lead", "account", "opportunity"})
_PEOPLE = frozenset({"contact", "lead"})
_WON, _LOST = 1, 2


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:VALUE_LENGTH]


def _stage(state: RecordState) -> str | None:
    return _text(state.data.get("stepname")) or _text(state.data.get("salesstage"))


def _account(state: RecordState) -> str | None:
    return state.parent_id


def _one(table: str, crm_id: str, before: RecordState, after: RecordState) -> list[NoticedChange]:
    found: list[tuple[ChangeKind, str | None, str | None]] = []
    if table in _OWNED and before.owner_id != after.owner_id and after.owner_id is not None:
        found.append((ChangeKind.OWNER, before.owner_id, after.owner_id))
    if table == "opportunity":
        if before.state_code != after.state_code and after.state_code in (_WON, _LOST):
            kind = ChangeKind.WON if after.state_code == _WON else ChangeKind.LOST
            found.append((kind, _stage(before), _stage(after)))
        elif after.state_code in (0, None) and _stage(before) != _stage(after):
            found.append((ChangeKind.STAGE, _stage(before), _stage(after)))
    if table in _PEOPLE:
        title_before, title_after = _text(before.data.get("jobtitle")), _text(after.data.get("jobtitle"))
        if title_before != title_after or _account(before) != _account(after):
            found.append((ChangeKind.JOB, title_before, title_after))
    return [NoticedChange(table, crm_id, kind, old, new, after.owner_id, after.parent_id) for kind, old, new in found]


def noticed_changes(table: str, changes: Iterable[RecordChange]) -> list[NoticedChange]:
    """The noticed changes among a page's ``changes`` of ``table`` (see the module), in order."""
    noticed: list[NoticedChange] = []
    for change in changes:
        if change.before is not None and change.after is not None:
            noticed.extend(_one(table, change.crm_id, change.before, change.after))
    return noticed
