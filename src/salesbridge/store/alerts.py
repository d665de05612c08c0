"""Alerts by email: each organization's alert episodes (``alert_states``) and its administrators' choices
(``alert_preferences``), migrations 0021 and 0031. The rows are declared here, beside their only repository."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from salesbridge.domain.alerts import AlertKind, AlertState
from salesbridge.store.repositories import _ScopedRepository
from salesbridge.store.tables import Base, UtcDateTime


class AlertStateRow(Base):
    """An organization's alert of one kind (:class:`salesbridge.domain.alerts.AlertState`)."""

    __tablename__ = "alert_states"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # migration 0031
    detail: Mapped[str | None] = mapped_column(String(1000))


class AlertPreferenceRow(Base):
    """An administrator's choice for one alert kind; no row: on."""

    __tablename__ = "alert_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean)


class AlertRepository(_ScopedRepository):
    """The organization's alert episodes and its administrators' alert choices."""

    def states(self) -> dict[AlertKind, AlertState]:
        """Every alert's state; a kind never evaluated is its initial state (inactive, never checked)."""
        rows = self._session.scalars(
            select(AlertStateRow).where(AlertStateRow.organization_id == self._organization_id)
        )
        found = {row.kind: row for row in rows}
        return {kind: _state(kind, found.get(kind.value)) for kind in AlertKind}

    def save(self, state: AlertState) -> None:
        """Store ``state`` (its kind's row, created when missing). Idempotent."""
        row = self._session.get(AlertStateRow, (self._organization_id, state.kind.value))
        if row is None:
            row = AlertStateRow(organization_id=self._organization_id, kind=state.kind.value)
            self._session.add(row)
        row.active = state.active
        row.started_at = state.started_at
        row.notified_at = state.notified_at
        row.ended_at = state.ended_at
        row.checked_at = state.checked_at
        row.resolved_notified_at = state.resolved_notified_at
        row.detail = state.detail[:1000] if state.detail else None
        self._session.flush()

    def preferences(self, user_id: uuid.UUID) -> dict[AlertKind, bool]:
        """The alerts ``user_id`` chose: every kind, on unless they turned it off."""
        statement = select(AlertPreferenceRow).where(
            AlertPreferenceRow.organization_id == self._organization_id, AlertPreferenceRow.user_id == user_id
        )
        chosen = {row.kind: row.enabled for row in self._session.scalars(statement)}
        return {kind: chosen.get(kind.value, True) for kind in AlertKind}

    def set_preferences(self, user_id: uuid.UUID, chosen: dict[AlertKind, bool]) -> None:
        """Record ``user_id``'s choice for each kind of ``chosen`` (the others keep theirs). Idempotent.

        Raises:
            RowNotFoundError: ``user_id`` is not a user of this organization.
        """
        self._require_user(user_id)
        for kind, enabled in chosen.items():
            row = self._session.get(AlertPreferenceRow, (user_id, kind.value))
            if row is None:
                row = AlertPreferenceRow(user_id=user_id, kind=kind.value, organization_id=self._organization_id)
                self._session.add(row)
            row.enabled = enabled
        self._session.flush()


def _state(kind: AlertKind, row: AlertStateRow | None) -> AlertState:
    if row is None:
        return AlertState(kind)
    return AlertState(
        kind,
        active=row.active,
        started_at=row.started_at,
        notified_at=row.notified_at,
        ended_at=row.ended_at,
        checked_at=row.checked_at,
        resolved_notified_at=row.resolved_notified_at,
        detail=row.detail,
    )
