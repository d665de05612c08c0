"""The stage names CRM Settings offers (``crm_record_queries.distinct_step_names``), read as a walk down migration
0027's index, are every distinct non-blank ``stepname`` of the organization's opportunities, sorted, on SQLite and
PostgreSQL: duplicates once, blanks and missing names left out, another organization's and other tables' never."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.sync_runs import RecordRow
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory


def _deal(index: int, step: Any) -> RecordRow:
    data = {"name": f"Deal {index}", "statecode": 0} | ({} if step is ... else {"stepname": step})
    return RecordRow(f"o{index}", f"Deal {index}", None, None, 0, data)


def test_the_stage_names_are_the_organizations_distinct_ones_sorted(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    store = UnitOfWorkFactory(session_factory, cipher=cipher)
    acme, globex = uuid.uuid4(), uuid.uuid4()
    steps = ["3-Propose", "1-Qualify", "3-Propose", " ", None, ..., "2-Develop", "1-Qualify", "Ñ-Cierre"]
    with store(acme) as uow:
        uow.organization.create(slug="acme", name="Acme", seats_purchased=1)
        uow.crm_records.upsert_many("opportunity", [_deal(i, step) for i, step in enumerate(steps)], generation=1)
        uow.crm_records.upsert_many("lead", [RecordRow("l1", "L", None, None, 0, {"stepname": "0-Lead"})], generation=1)
        uow.commit()
    with store(globex) as uow:
        uow.organization.create(slug="globex", name="Globex", seats_purchased=1)
        uow.crm_records.upsert_many("opportunity", [_deal(1, "9-Other")], generation=1)
        uow.commit()

    with store(acme, read_only=True) as uow:
        assert uow.crm_record_queries.distinct_step_names() == ["1-Qualify", "2-Develop", "3-Propose", "Ñ-Cierre"]
        assert uow.crm_record_queries.distinct_step_names(limit=2) == ["1-Qualify", "2-Develop"]
    with store(globex, read_only=True) as uow:
        assert uow.crm_record_queries.distinct_step_names() == ["9-Other"]
