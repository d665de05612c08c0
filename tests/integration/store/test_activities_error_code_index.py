"""The writeback questions about activities failing with a code (whether activities wait for the CRM app, is its
check due, how many checks, putting them off) and whether anything is due read indexes on SQLite and PostgreSQL,
for an organization with tens of thousands of activities, most of them delivered and thousands failing for another
reason: migration 0041's partial index of the error code, and the state index. Never a scan of the table, so the
answer costs the same however many activities the organization has (an ``EXISTS`` let PostgreSQL plan a sequential
scan, in some runs, hoping to meet a row early). The statements are the repositories' own, captured as they reach the
driver, and explained with their parameters (statistics gathered first)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, insert
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.writeback import CRM_APP_MISSING_CODE, DataItem, DeliveryState
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.tables import ActivityRow
from salesbridge.store.uow import UnitOfWorkFactory

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ERROR_CODE_INDEX = "ix_activities_organization_id_error_code_state"
STATE_INDEX = "ix_activities_organization_id_state_next_attempt_at"
SHAPE = (  # state, error code, next attempt (minutes from NOW), how many
    (DeliveryState.DELIVERED, None, None, 20_000),
    (DeliveryState.FAILING, "0x80040216", -5, 4_000),
    (DeliveryState.PARKED, "0x80040265", None, 1_000),
    (DeliveryState.FAILING, CRM_APP_MISSING_CODE, 3, 300),
)


Shape = tuple[tuple[DeliveryState, str | None, int | None, int], ...]


def _rows(organization_id: uuid.UUID, shape: Shape) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    author = uuid.uuid4()
    for state, code, minutes, count in shape:
        for _ in range(count):
            activity_id = uuid.uuid4()
            rows.append(
                {
                    "id": activity_id,
                    "organization_id": organization_id,
                    "author_user_id": author,
                    "client_id": activity_id.hex,
                    "item": DataItem.MESSAGE.value,
                    "person_id": uuid.uuid4(),
                    "company_id": None,
                    "subject": None,
                    "body": "…",
                    "direction": "outgoing",
                    "occurred_at": NOW,
                    "conversation_id": None,
                    "version": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "state": state.value,
                    "hold": None,
                    "attempts": 1 if code else 0,
                    "next_attempt_at": NOW + timedelta(minutes=minutes) if minutes is not None else None,
                    "claimed_until": None,
                    "error_code": code,
                    "error_message": None,
                    "regarding_table": None,
                    "regarding_id": None,
                    "crm_table": "sbr_message",
                    "crm_id": str(activity_id),
                    "delivered_version": None,
                    "delivered_at": None,
                    "participants": "[]",
                }
            )
    return rows


def _explained(engine: Engine, statement: str, parameters: Any) -> str:
    """The plan of ``statement`` (as the driver got it) in words: SQLite's ``EXPLAIN QUERY PLAN`` rows, or
    PostgreSQL's JSON plan."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return " | ".join(str(row[-1]) for row in rows)
        plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    return json.dumps(json.loads(plan) if isinstance(plan, str) else plan)


def test_the_error_code_and_due_questions_read_indexes_for_a_large_organization(
    engine: Engine, session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    store = UnitOfWorkFactory(session_factory, cipher=cipher)
    acme, globex = uuid.uuid4(), uuid.uuid4()
    for organization_id, slug in ((acme, "acme"), (globex, "globex")):
        with store(organization_id) as uow:
            uow.organization.create(slug=slug, name=slug.title(), seats_purchased=1)
            uow.commit()
    with engine.begin() as connection:
        connection.execute(insert(ActivityRow), _rows(acme, SHAPE))
        connection.execute(
            insert(ActivityRow), _rows(globex, ((DeliveryState.FAILING, CRM_APP_MISSING_CODE, -1, 2_000),))
        )
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE activities" if engine.dialect.name == "postgresql" else "ANALYZE")

    captured: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "activities" in statement:
            captured.append((statement, parameters))

    def plan_of(ask: Callable[[Any], object]) -> tuple[object, str]:
        captured.clear()
        event.listen(engine, "before_cursor_execute", keep)
        try:
            with store(acme) as uow:
                answer = ask(uow.activities)
                uow.rollback()
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        return answer, " || ".join(_explained(engine, statement, parameters) for statement, parameters in captured)

    by_code = {
        "waiting": plan_of(lambda a: a.failing_with(CRM_APP_MISSING_CODE)),
        "check due": plan_of(lambda a: a.failing_with(CRM_APP_MISSING_CODE, due_by=NOW)),
        "checks made": plan_of(lambda a: a.most_attempts(CRM_APP_MISSING_CODE)),
        "tables gone": plan_of(lambda a: a.failing_items(CRM_APP_MISSING_CODE)),
        "put off": plan_of(
            lambda a: a.reschedule_failing(CRM_APP_MISSING_CODE, next_attempt_at=NOW + timedelta(minutes=5), attempts=2)
        ),
    }
    due, due_plan = plan_of(lambda a: a.any_due(now=NOW))
    nothing_due, nothing_due_plan = plan_of(lambda a: a.any_due(now=NOW - timedelta(minutes=10)))

    answers = {name: answer for name, (answer, _) in by_code.items()}
    assert answers == {
        "waiting": True,
        "check due": False,  # acme's are due in 3 minutes; globex's, due, are not acme's
        "checks made": 1,
        "tables gone": frozenset({DataItem.MESSAGE}),
        "put off": 300,
    }
    assert due is True, "the transiently failing ones are due"
    assert nothing_due is False, "nothing queued; the transiently failing ones are due 5 minutes later"
    full_scan = "SCAN activities" if engine.dialect.name == "sqlite" else '"Seq Scan"'
    for name, (_, plan) in by_code.items():
        assert ERROR_CODE_INDEX in plan, (name, plan)
        assert full_scan not in plan, (name, plan)
    for plan in (due_plan, nothing_due_plan):
        assert plan.count(STATE_INDEX) == 2, plan  # queued?, then failing and due?
        assert full_scan not in plan, plan
