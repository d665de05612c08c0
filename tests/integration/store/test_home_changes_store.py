"""The seller's changes (``crm_record_changes.for_seller``) read part by part through their indexes (the list's
records in chunks, the accounts in the lists, the CRM user's records now and before a change of owner) come back
as one query would give them, on SQLite and PostgreSQL: newest first, each once, at most ``limit``, nothing of
another seller or from before the visit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.crm_changes import ChangeKind, NoticedChange
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
ME, OTHER = "00000000-0000-0000-0000-0000000000aa", "00000000-0000-0000-0000-0000000000bb"


def _change(crm_id: str, *, table: str = "contact", owner: str = OTHER, parent: str | None = None) -> NoticedChange:
    return NoticedChange(table, crm_id, ChangeKind.JOB, "Buyer", "Head of buying", owner, parent)


def test_a_sellers_changes_come_newest_first_once_each_and_only_theirs(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    store = UnitOfWorkFactory(session_factory, cipher=cipher)
    acme = uuid.uuid4()
    listed = [f"c-{index:04d}" for index in range(1_200)]  # more than one chunk of ids
    with store(acme) as uow:
        uow.organization.create(slug="acme", name="Acme", seats_purchased=1)
        seller = uow.users.add(email="sofia@acme.test", display_name="Sofía")
        targets = uow.lists.create_manual(seller.id, "Targets")
        uow.lists.replace_items(targets.id, [("contact", crm_id, None) for crm_id in listed])
        uow.lists.add_item(targets.id, "account", "a-1")
        uow.crm_record_changes.add_many([_change("c-0000")], at=T0 - timedelta(days=1))  # before the visit
        uow.crm_record_changes.add_many([_change("c-0001"), _change("not-listed")], at=T0 + timedelta(minutes=1))
        uow.crm_record_changes.add_many([_change("c-1199", owner=ME)], at=T0 + timedelta(minutes=2))  # two parts
        uow.crm_record_changes.add_many([_change("x-1", parent="a-1")], at=T0 + timedelta(minutes=3))
        uow.crm_record_changes.add_many([_change("x-2", owner=ME)], at=T0 + timedelta(minutes=4))
        previous_owner = NoticedChange("lead", "x-3", ChangeKind.OWNER, ME, OTHER, OTHER, None)
        uow.crm_record_changes.add_many([previous_owner], at=T0 + timedelta(minutes=5))
        uow.commit()

    with store(acme, read_only=True) as uow:
        mine = uow.crm_record_changes.for_seller(seller.id, ME, since=T0)
        assert [(change.crm_id, at) for change, at in mine] == [
            ("x-3", T0 + timedelta(minutes=5)),
            ("x-2", T0 + timedelta(minutes=4)),
            ("x-1", T0 + timedelta(minutes=3)),
            ("c-1199", T0 + timedelta(minutes=2)),
            ("c-0001", T0 + timedelta(minutes=1)),
        ]
        assert [change.crm_id for change, _ in uow.crm_record_changes.for_seller(seller.id, ME, since=T0, limit=2)] == [
            "x-3",
            "x-2",
        ]
        by_lists = uow.crm_record_changes.for_seller(seller.id, None, since=T0)
        assert [change.crm_id for change, _ in by_lists] == ["x-1", "c-1199", "c-0001"]
