"""Matching's store (``uow.matches``) keeps the same contract on the fake and on the real store (SQLite and
PostgreSQL): links one per CRM record, rejections, keys, the state, streamed reads of what changed, badge filters,
isolation between organizations, and the purge."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from tests.fakes.store import FakeClock
from tests.integration.store.test_fake_store_contract import clock, organization, store

from salesbridge.domain.match_links import (
    Badge,
    KeySide,
    LinkBand,
    LinkCounts,
    LinkOrigin,
    MatchLink,
    MatchRejection,
    MatchState,
    TargetKind,
)
from salesbridge.domain.people import Company, Person
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.services.ports import StoreAccess
from salesbridge.sync.purge import purge_imported_crm_data

__all__ = ["clock", "store"]  # the fixtures, shared with the store's own contract


def contact(crm_id: str, name: str, account: str | None = None) -> RecordRow:
    data: dict[str, Any] = {"fullname": name, "statecode": 0}
    if account is not None:
        data["parentcustomerid"] = {"id": account, "table": "account"}
    return RecordRow(crm_id, name, None, account, 0, data)


def link(
    crm_id: str,
    target: uuid.UUID | None,
    *,
    clock: FakeClock,
    band: LinkBand = LinkBand.MATCH,
    table: str = "contact",
    probability: float | None = 0.9,
    origin: LinkOrigin = LinkOrigin.SCORER,
    stale: tuple[str, ...] = (),
) -> MatchLink:
    kind = TargetKind.COMPANY if table == "account" else TargetKind.PERSON
    return MatchLink(
        crm_table=table,
        crm_id=crm_id,
        target_kind=kind,
        target_id=target,
        band=band,
        probability=probability,
        decision={"left_id": crm_id, "reasons": [{"field": "email", "level": "exact"}]},
        origin=origin,
        decided_by=None,
        decided_at=clock(),
        stale_fields=stale,
    )


def seeded(store: StoreAccess) -> tuple[uuid.UUID, list[Person]]:
    acme = organization(store)
    with store(acme) as uow:
        uow.people.upsert_many(
            [
                Person("p1", "Ana López", headline="Sales", city="Madrid"),
                Person("p2", "Bob Smith", headline="CTO"),
                Person("p3", "Carla Díaz"),
            ]
        )
        uow.crm_records.upsert_many("contact", [contact(f"c{i}", f"Contact {i}") for i in range(1, 5)], generation=1)
        uow.commit()
    with store(acme, read_only=True) as uow:
        people = uow.people.search()
    return acme, people


def test_a_crm_record_holds_one_link_found_by_record_target_band_and_origin(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme, (ana, bob, carla) = seeded(store)
    assert ana.id
    assert bob.id
    assert carla.id
    with store(acme) as uow:
        uow.matches.put(
            [
                link("c1", ana.id, clock=clock),
                link("c2", ana.id, clock=clock, stale=("title",)),
                link("c3", bob.id, clock=clock, band=LinkBand.REVIEW, probability=0.6),
                link("c4", carla.id, clock=clock, band=LinkBand.REVIEW, probability=0.7),
            ]
        )
        uow.matches.put([link("c1", bob.id, clock=clock, origin=LinkOrigin.CORRECTION, probability=None)])
        uow.commit()
    with store(acme, read_only=True) as uow:
        matches = uow.matches
        first = matches.get("contact", "c1")
        assert first is not None
        assert (first.target_id, first.origin, first.probability) == (bob.id, LinkOrigin.CORRECTION, None)
        assert first.decision == {"left_id": "c1", "reasons": [{"field": "email", "level": "exact"}]}
        assert matches.get("lead", "c1") is None
        assert sorted(matches.links("contact", ["c1", "c2", "c9"])) == ["c1", "c2"]
        assert [item.crm_id for item in matches.links_to([ana.id])] == ["c2"]
        assert matches.links_to([ana.id])[0].stale_fields == ("title",)
        assert [item.crm_id for item in matches.corrections()] == ["c1"]
        assert [item.crm_id for item in matches.review(["contact", "lead"])] == ["c4", "c3"]
        assert [item.crm_id for item in matches.review(["contact"], limit=1, offset=1)] == ["c3"]
        assert matches.count_review(["contact"]) == 2
        assert matches.count_review(["account"]) == 0
        assert matches.counts("contact") == LinkCounts(total=4, matched=2, review=2)
        assert matches.counts("contact").unmatched == 0
    other = organization(store, "globex")
    with store(other, read_only=True) as uow:
        assert uow.matches.get("contact", "c1") is None
        assert uow.matches.links_to([ana.id]) == []
        assert uow.matches.counts("contact") == LinkCounts(total=0, matched=0, review=0)
    with store(acme) as uow:
        assert uow.matches.delete_scorer_links(["contact"]) == 3
        assert uow.matches.delete("contact", ["c1", "c9"]) == 1
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert uow.matches.links("contact", ["c1", "c2", "c3", "c4"]) == {}


def test_keys_rejections_and_state_are_kept_per_organization(store: StoreAccess, clock: FakeClock) -> None:
    acme, (ana, bob, _) = seeded(store)
    assert ana.id
    assert bob.id
    with store(acme) as uow:
        uow.matches.replace_keys(KeySide.CONTACT, {"c1": {"e:ana@x.com", "#f1"}, "c2": {"n:smith"}})
        uow.matches.replace_keys(KeySide.PERSON, {str(ana.id): {"e:ana@x.com"}, str(bob.id): {"n:smith"}})
        uow.matches.replace_keys(KeySide.CONTACT, {"c1": {"e:ana@x.com", "#f2"}})
        rejected = MatchRejection(
            crm_table="contact", crm_id="c1", target_id=bob.id, decided_by=None, decided_at=clock()
        )
        uow.matches.reject(rejected)
        uow.matches.reject(rejected)
        state = uow.matches.lock_state()
        assert state == MatchState()
        uow.matches.save_state(
            MatchState(people_model={"m": [1.5, None]}, crm_watermark=clock(), last_summary={"full": True})
        )
        uow.commit()
    with store(acme, read_only=True) as uow:
        matches = uow.matches
        assert matches.keys_of(KeySide.CONTACT, ["c1", "c3"]) == {"c1": {"e:ana@x.com", "#f2"}}
        assert matches.fingerprints(KeySide.CONTACT, ["c1", "c2", "c3"], prefix="#") == {"c1": "#f2"}
        assert matches.refs_by_key([KeySide.PERSON], ["e:ana@x.com", "n:smith", "n:none"]) == {
            "e:ana@x.com": {(KeySide.PERSON, str(ana.id))},
            "n:smith": {(KeySide.PERSON, str(bob.id))},
        }
        assert matches.refs_by_key([KeySide.CONTACT, KeySide.LEAD, KeySide.PERSON], ["e:ana@x.com"]) == {
            "e:ana@x.com": {(KeySide.CONTACT, "c1"), (KeySide.PERSON, str(ana.id))}
        }
        assert matches.rejections("contact", ["c1", "c2"]) == {"c1": {bob.id}}
        assert matches.all_rejections() == [rejected]
        stored = matches.state()
        assert (stored.people_model, stored.crm_watermark, stored.last_summary) == (
            {"m": [1.5, None]},
            clock(),
            {"full": True},
        )
    with store(organization(store, "globex"), read_only=True) as uow:
        assert uow.matches.keys_of(KeySide.CONTACT, ["c1"]) == {}
        assert uow.matches.rejections("contact", ["c1"]) == {}
        assert uow.matches.state() == MatchState()
    with store(acme) as uow:
        uow.matches.clear_keys([KeySide.CONTACT])
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert uow.matches.keys_of(KeySide.CONTACT, ["c1", "c2"]) == {}
        assert uow.matches.keys_of(KeySide.PERSON, [str(ana.id)]) == {str(ana.id): {"e:ana@x.com"}}


def test_runs_read_what_changed_since_a_watermark_and_find_what_vanished(store: StoreAccess, clock: FakeClock) -> None:
    acme, (ana, _, _) = seeded(store)
    assert ana.id
    watermark = clock()
    clock.advance(timedelta(minutes=5))
    with store(acme) as uow:
        uow.crm_records.upsert_many("contact", [contact("c2", "Contact 2 again", "a1")], generation=1)
        uow.crm_records.upsert_many(
            "account", [RecordRow("a1", "Contoso", None, None, 0, {"name": "Contoso"})], generation=1
        )
        uow.people.upsert_many([Person("p1", "Ana López", headline="VP Sales", city="Madrid")])
        uow.matches.put([link("c1", ana.id, clock=clock), link("c3", ana.id, clock=clock, band=LinkBand.REVIEW)])
        uow.matches.replace_keys(KeySide.CONTACT, {"c4": {"#f"}})
        uow.matches.reject(
            MatchRejection(crm_table="contact", crm_id="c1", target_id=ana.id, decided_by=None, decided_at=clock())
        )
        uow.commit()
    with store(acme, read_only=True) as uow:
        matches = uow.matches
        assert [record.crm_id for record in matches.crm_records("contact")] == ["c1", "c2", "c3", "c4"]
        changed = list(matches.crm_records("contact", since=watermark))
        assert [(record.crm_id, record.name) for record in changed] == [("c2", "Contact 2 again")]
        assert [record.crm_id for record in matches.crm_records_by_ids("contact", ["c3", "c1", "zz"])] == ["c1", "c3"]
        assert [record.crm_id for record in matches.crm_records_by_parents("contact", ["A1"])] == ["c2"]
        assert [record.crm_id for record in matches.unmatched_crm_records("contact")] == ["c2", "c3", "c4"]
        assert [person.headline for person in matches.people(since=watermark)] == ["VP Sales"]
        assert len(list(matches.people())) == 3
        assert [person.full_name for person in matches.people_by_ids([ana.id, uuid.uuid4()])] == ["Ana López"]
        assert matches.vanished_crm_ids("contact") == []
    with store(acme) as uow:
        uow.crm_records.delete_ids("contact", ["c1", "c4"])
        uow.commit()
    with store(acme) as uow:
        assert uow.matches.vanished_crm_ids("contact") == ["c1", "c4"]
        assert uow.matches.forget_crm_records("contact", ["c1", "c4"]) == 1
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert uow.matches.vanished_crm_ids("contact") == []
        assert uow.matches.rejections("contact", ["c1"]) == {}
        assert uow.matches.keys_of(KeySide.CONTACT, ["c4"]) == {}
        assert list(uow.matches.links("contact", ["c1", "c3"])) == ["c3"]


def test_a_link_to_a_target_no_longer_there_is_found_and_forgotten(store: StoreAccess, clock: FakeClock) -> None:
    acme, (ana, _, _) = seeded(store)
    ghost = uuid.uuid4()
    with store(acme) as uow:
        uow.matches.put([link("c1", ghost, clock=clock), link("c2", ana.id, clock=clock)])
        uow.commit()
    with store(acme) as uow:
        assert uow.matches.vanished_targets(TargetKind.PERSON) == [ghost]
        assert uow.matches.vanished_targets(TargetKind.COMPANY) == []
        assert uow.matches.forget_targets(TargetKind.PERSON, [ghost]) == 1
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert list(uow.matches.links("contact", ["c1", "c2"])) == ["c2"]


def test_people_and_companies_are_filtered_by_badge_and_search_words(store: StoreAccess, clock: FakeClock) -> None:
    acme, (ana, bob, carla) = seeded(store)
    with store(acme) as uow:
        uow.companies.upsert_many([Company("k1", "Contoso"), Company("k2", "Fabrikam")])
        uow.commit()
    with store(acme, read_only=True) as uow:
        contoso, fabrikam = uow.companies.search()
    with store(acme) as uow:
        uow.matches.put(
            [
                link("c1", ana.id, clock=clock),
                link("c2", bob.id, clock=clock, stale=("company",)),
                link("c3", carla.id, clock=clock, band=LinkBand.REVIEW),
                link("a1", fabrikam.id, clock=clock, table="account"),
            ]
        )
        uow.commit()

    def names(people: list[Person]) -> list[str]:
        return [person.full_name for person in people]

    with store(acme, read_only=True) as uow:
        matches = uow.matches
        assert names(matches.people_with_badge(Badge.IN_CRM)) == ["Ana López", "Bob Smith"]
        assert names(matches.people_with_badge(Badge.IN_CRM, limit=1, offset=1)) == ["Bob Smith"]
        assert names(matches.people_with_badge(Badge.IN_CRM, "madrid")) == ["Ana López"]
        assert names(matches.people_with_badge(Badge.NOT_IN_CRM)) == ["Carla Díaz"]
        assert names(matches.people_with_badge(Badge.OUT_OF_DATE)) == ["Bob Smith"]
        assert matches.count_people_with_badge(Badge.IN_CRM) == 2
        assert matches.count_people_with_badge(Badge.OUT_OF_DATE, "ana") == 0
        assert [c.name for c in matches.companies_with_badge(Badge.IN_CRM)] == ["Fabrikam"]
        assert [c.name for c in matches.companies_with_badge(Badge.NOT_IN_CRM)] == [contoso.name]
        assert matches.count_companies_with_badge(Badge.NOT_IN_CRM) == 1
    with store(organization(store, "globex"), read_only=True) as uow:
        assert uow.matches.people_with_badge(Badge.NOT_IN_CRM) == []


def test_the_purge_deletes_every_match_row_and_keeps_people(store: StoreAccess, clock: FakeClock) -> None:
    acme, (ana, _, _) = seeded(store)
    assert ana.id
    with store(acme) as uow:
        uow.matches.put([link("c1", ana.id, clock=clock, origin=LinkOrigin.CORRECTION)])
        uow.matches.replace_keys(KeySide.PERSON, {str(ana.id): {"e:ana@x.com"}})
        uow.matches.reject(
            MatchRejection(crm_table="contact", crm_id="c2", target_id=ana.id, decided_by=None, decided_at=clock())
        )
        uow.matches.save_state(MatchState(last_summary={"full": True}))
        uow.commit()
    with store(acme) as uow:
        purge_imported_crm_data(uow)
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert uow.matches.get("contact", "c1") is None
        assert uow.matches.keys_of(KeySide.PERSON, [str(ana.id)]) == {}
        assert uow.matches.all_rejections() == []
        assert uow.matches.state() == MatchState()
        assert uow.people.count() == 3


def test_unmatched_records_stream_past_one_fetch_with_no_cap(store: StoreAccess, clock: FakeClock) -> None:
    acme, (ana, _, _) = seeded(store)
    rows = [contact(f"x{index:05d}", f"Contact {index}") for index in range(2_500)]
    with store(acme) as uow:
        uow.crm_records.upsert_many("contact", rows, generation=1)
        uow.matches.put(
            [link("x00007", ana.id, clock=clock), link("x00008", ana.id, clock=clock, band=LinkBand.REVIEW)]
        )
        uow.commit()
    with store(acme, read_only=True) as uow:
        streamed = [record.crm_id for record in uow.matches.unmatched_crm_records("contact")]
    expected = sorted({f"x{index:05d}" for index in range(2_500)} - {"x00007"} | {"c1", "c2", "c3", "c4"})
    assert streamed == expected, "every record but the tied one, in id order (the one in review included)"
