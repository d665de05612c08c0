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
    org,
)

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.domain.crm_changes import ChangeKind
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.sync.engine import ImportEngine

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


async def test_a_run_past_the_change_limit_still_notices_every_change_it_follows_no_more(
    store: UnitOfWorkFactory,
    org: uuid.UUID,  # noqa: F811
    crm: DynamicsConnector,  # noqa: F811
) -> None:
    # A mass reassignment of owners: more changes than a run lists (here 2; the 4th page is past it), each one
    # still told to the seller.
    await engine(store, org, crm).run()
    with store(org) as uow:
        opportunities = [record for record in uow.crm_records.records("opportunity") if record.state_code == 0][:4]
        owners = sorted(record.crm_id for record in uow.crm_records.records("systemuser"))
        seller = uow.users.add(email="sofia@acme.test", display_name="Sofía")
        uow.commit()
    new_owner = next(owner for owner in owners if all(owner != record.owner_id for record in opportunities))
    for opportunity in opportunities:
        await crm.writer.update("opportunity", opportunity.crm_id, {"ownerid": _owner(new_owner)})

    # One change a page: the first pages fill the list, the next ones go past it.
    one_a_page = ImportEngine(store, org, crm.reader, crm.metadata, clock=utc_now, page_size=1, change_limit=2)
    report = await one_a_page.run()

    with store(org, read_only=True) as uow:
        noticed = uow.crm_record_changes.for_seller(seller.id, new_owner.lower(), since=EPOCH)
    moved = {change.crm_id for change, _ in noticed if change.kind is ChangeKind.OWNER}
    assert moved == {opportunity.crm_id for opportunity in opportunities}
    assert report.changes.everything, "past the limit the run's derivations start from every row"
