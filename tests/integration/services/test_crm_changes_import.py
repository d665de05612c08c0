"""The import notices, with the page that brings them, the changes a seller's home tells of (a new owner, a stage
moved, a job change), against a demo sandbox over TLS on SQLite and PostgreSQL; a full read notices nothing and a
sync that changes nothing adds nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tests.integration.services.test_import_engine import (  # noqa: F401  (fixtures)
    _owner,
    crm,
    engine,
    fresh_demo,
    org,
)

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.domain.crm_changes import ChangeKind
from salesbridge.store.uow import UnitOfWorkFactory

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


async def test_the_import_notices_job_owner_and_stage_changes_of_a_sellers_records(
    store: UnitOfWorkFactory,
    org: uuid.UUID,  # noqa: F811
    crm: DynamicsConnector,  # noqa: F811
) -> None:
    await engine(store, org, crm).run()
    with store(org) as uow:
        contact = next(record for record in uow.crm_records.records("contact") if record.parent_id)
        opportunity = next(record for record in uow.crm_records.records("opportunity") if record.state_code == 0)
        owners = sorted(record.crm_id for record in uow.crm_records.records("systemuser"))
        seller = uow.users.add(email="sofia@acme.test", display_name="Sofía")
        targets = uow.lists.create_manual(seller.id, "Targets")
        uow.lists.add_item(targets.id, "contact", contact.crm_id)
        uow.commit()
        assert uow.crm_record_changes.for_seller(seller.id, None, since=EPOCH) == [], "a full read notices nothing"
    new_owner = next(owner for owner in owners if owner != opportunity.owner_id)
    await crm.writer.update("contact", contact.crm_id, {"jobtitle": "Chief Explorer"})
    await crm.writer.update("opportunity", opportunity.crm_id, {"ownerid": _owner(new_owner), "stepname": "3-Propose"})

    await engine(store, org, crm).run()
    await engine(store, org, crm).run()  # changes nothing: notices nothing more

    with store(org, read_only=True) as uow:
        by_list = uow.crm_record_changes.for_seller(seller.id, None, since=EPOCH)
        by_owner = uow.crm_record_changes.for_seller(seller.id, new_owner.lower(), since=EPOCH)
    assert [(change.table, change.crm_id, change.kind, change.after) for change, _ in by_list] == [
        ("contact", contact.crm_id, ChangeKind.JOB, "Chief Explorer")
    ]
    noticed = {(change.table, change.kind): change for change, _ in by_owner}
    assert set(noticed) == {
        ("contact", ChangeKind.JOB),
        ("opportunity", ChangeKind.OWNER),
        ("opportunity", ChangeKind.STAGE),
    }
    moved = noticed[("opportunity", ChangeKind.OWNER)]
    assert (moved.before, moved.after) == (opportunity.owner_id, new_owner.lower())
    assert noticed[("opportunity", ChangeKind.STAGE)].after == "3-Propose"
