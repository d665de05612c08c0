"""Seed generators: the demo organization and the scale seed are deterministic, consistent and complete."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from salesbridge.sandbox.catalogue.definitions import AttributeType
from salesbridge.sandbox.odata.values import format_timestamp, parse_timestamp
from salesbridge.sandbox.organization.foundation import (
    SALESPERSON_ROLE_ID,
    SYSTEM_ADMINISTRATOR_ROLE_ID,
    SYSTEM_USER_ID,
    create_state,
)
from salesbridge.sandbox.organization.state import SandboxState
from salesbridge.sandbox.seeds.demo import seed_demo
from salesbridge.sandbox.seeds.ledger import SEED_META_KEY
from salesbridge.sandbox.seeds.scale import seed_scale
from salesbridge.sandbox.seeds.seeding import SeedSpec, apply_seed, parse_seed

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BUSINESS_TABLES = (
    "businessunit",
    "team",
    "connectionrole",
    "account",
    "contact",
    "lead",
    "opportunity",
    "connection",
    "task",
    "phonecall",
    "email",
    "annotation",
    "activitypointer",
    "activityparty",
)
ACTIVITIES = ("task", "phonecall", "email")
STAGES = {0: "1-Qualify", 1: "2-Develop", 2: "3-Propose", 3: "4-Close"}
OPEN_PROBABILITIES = {0: range(10, 21), 1: range(30, 41), 2: range(50, 71), 3: range(80, 91)}


def fresh_state() -> SandboxState:
    return create_state(None, clock=lambda: NOW)


def rows(state: SandboxState, table: str, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    names, values = state.storage.query(f'SELECT * FROM "{table}" {where}', params)
    return [dict(zip(names, row, strict=True)) for row in values]


def count(state: SandboxState, table: str) -> int:
    return int(state.storage.scalar(f'SELECT COUNT(*) FROM "{table}"'))


def dangling_lookups(state: SandboxState) -> list[str]:
    """Every stored lookup value whose target type is not allowed or whose target row does not exist."""
    problems = []
    for entity in state.catalogue.entities.values():
        columns = set(state.storage.columns(entity.logical_name))
        for attribute in entity.attributes.values():
            name = attribute.logical_name
            if not attribute.is_lookup or name not in columns:
                continue
            allowed = set(attribute.targets)
            if attribute.type == AttributeType.OWNER:
                allowed |= {"systemuser", "team"}
            pairs = state.storage.query(
                f'SELECT DISTINCT "{name}", "{name}__type" FROM "{entity.logical_name}" WHERE "{name}" IS NOT NULL'
            )[1]
            for value, target in pairs:
                if target not in allowed:
                    problems.append(f"{entity.logical_name}.{name} -> {target} (not a target)")
                    continue
                target_entity = state.catalogue.entity(target)
                found = state.storage.get(target, target_entity.primary_id, value)
                if found is None:
                    problems.append(f"{entity.logical_name}.{name} -> {target}({value}) missing")
    return problems


@pytest.fixture(scope="module")
def demo() -> SandboxState:
    state = fresh_state()
    seed_demo(state)
    return state


# --- parse_seed / apply_seed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demo", SeedSpec("demo")),
        (" DEMO ", SeedSpec("demo")),
        ("none", SeedSpec("none")),
        ("scale:1", SeedSpec("scale", 1)),
        ("scale:20000", SeedSpec("scale", 20_000)),
        ("scale:1000000", SeedSpec("scale", 1_000_000)),
        ("scale:1e6", SeedSpec("scale", 1_000_000)),
        ("Scale:2.5E3", SeedSpec("scale", 2_500)),
        ("scale:1_000", SeedSpec("scale", 1_000)),
    ],
)
def test_parse_seed_accepts(text: str, expected: SeedSpec) -> None:
    assert parse_seed(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "demo:3", "scale", "scale:", "scale:0", "scale:-5", "scale:1.5", "scale:abc", "scale:inf", "scale:nan",
     "scale:1e12", "large", "scale=100"],
)  # fmt: skip
def test_parse_seed_rejects_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"seed|scale"):
        parse_seed(text)


def test_parse_seed_message_names_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"'demo', 'none' or 'scale:N'"):
        parse_seed("big")


def test_seed_spec_prints_as_the_flag() -> None:
    assert str(parse_seed("scale:1e3")) == "scale:1000"
    assert str(parse_seed("demo")) == "demo"


def test_apply_seed_none_writes_nothing() -> None:
    state = fresh_state()
    assert apply_seed(state, parse_seed("none")) is None
    assert count(state, "account") == 0
    assert state.storage.get_meta(SEED_META_KEY) is None


def test_apply_seed_dispatches_and_reports_progress() -> None:
    state = fresh_state()
    seen: list[int] = []
    summary = apply_seed(state, parse_seed("scale:50"), progress=seen.append)
    assert summary is not None
    assert summary.counts["contact"] == 50
    assert seen
    assert seen[-1] == summary.total_rows
    demo_seen: list[int] = []
    demo_summary = apply_seed(state, parse_seed("demo"), progress=demo_seen.append)
    assert demo_summary is not None
    assert demo_summary.counts["account"] == 60
    assert demo_seen == [demo_summary.total_rows]


# --- demo --------------------------------------------------------------------------------------------


def test_demo_counts(demo: SandboxState) -> None:
    assert count(demo, "businessunit") == 3
    assert count(demo, "team") == 2
    assert count(demo, "account") == 60
    assert count(demo, "contact") == 200
    assert count(demo, "lead") == 50
    assert count(demo, "opportunity") == 80
    past = sum(count(demo, t) for t in (*ACTIVITIES, "annotation"))
    assert past == 150
    assert count(demo, "connection") > 0


def test_demo_is_deterministic() -> None:
    first, second = fresh_state(), fresh_state()
    one, two = seed_demo(first), seed_demo(second)
    assert one.counts == two.counts
    for table in BUSINESS_TABLES:
        order = f"ORDER BY {first.catalogue.entity(table).primary_id}"
        assert rows(first, table, order) == rows(second, table, order), table
    users = "SELECT systemuserid, fullname FROM systemuser WHERE applicationid IS NULL ORDER BY 1"
    assert first.storage.query(users) == second.storage.query(users)


def test_demo_seed_changes_with_the_seed() -> None:
    first, second = fresh_state(), fresh_state()
    seed_demo(first, seed=1)
    seed_demo(second, seed=2)
    ids = "SELECT accountid FROM account ORDER BY 1"
    assert first.storage.query(ids) != second.storage.query(ids)


def test_demo_is_idempotent() -> None:
    state = fresh_state()
    seed_demo(state)
    version = state.storage.current_version
    again = seed_demo(state)
    assert again.already_seeded
    assert again.counts == {}
    assert count(state, "account") == 60
    assert state.storage.current_version == version


def test_demo_lookups_point_at_existing_rows(demo: SandboxState) -> None:
    assert dangling_lookups(demo) == []


def test_demo_every_activity_has_its_pointer(demo: SandboxState) -> None:
    shared = (
        "subject", "description", "regardingobjectid", "regardingobjectid__type", "ownerid", "ownerid__type",
        "statecode", "statuscode", "createdon", "modifiedon", "scheduledend", "actualend",
    )  # fmt: skip
    total = 0
    for table in ACTIVITIES:
        for activity in rows(demo, table):
            pointer = demo.storage.get("activitypointer", "activityid", activity["activityid"])
            assert pointer is not None
            assert pointer["activitytypecode"] == table
            assert {c: pointer[c] for c in shared} == {c: activity[c] for c in shared}
            total += 1
    assert count(demo, "activitypointer") == total


def test_demo_calls_and_emails_have_parties(demo: SandboxState) -> None:
    for table in ("phonecall", "email"):
        for activity in rows(demo, table):
            parties = rows(demo, "activityparty", "WHERE activityid = ?", (activity["activityid"],))
            masks = Counter(p["participationtypemask"] for p in parties)
            assert masks[1] == 1, activity["subject"]
            assert masks[2] >= 1
            assert all(p["activityid__type"] == table for p in parties)
            sender = next(p for p in parties if p["participationtypemask"] == 1)
            if activity["directioncode"] == 1:
                assert sender["partyid__type"] == "systemuser"
            if table == "email":
                assert activity["sender"] == sender["addressused"]


def test_demo_opportunities_are_consistent(demo: SandboxState) -> None:
    status = demo.catalogue.entity("opportunity").attribute("statuscode")
    assert status is not None
    seen = set()
    for opp in rows(demo, "opportunity"):
        state, stage = opp["statecode"], opp["salesstage"]
        option = status.option(opp["statuscode"])
        assert option is not None
        assert option.state == state
        assert opp["stepname"] == STAGES[stage]
        assert opp["salesstagecode"] == 1
        assert opp["customerid__type"] == "account"
        assert opp["customerid"] == opp["parentaccountid"]
        assert opp["estimatedvalue_base"] == opp["estimatedvalue"] > 0
        assert opp["actualvalue_base"] == opp["actualvalue"]
        assert opp["estimatedclosedate"] is not None
        contact = demo.storage.get("contact", "contactid", opp["parentcontactid"])
        assert contact is not None
        assert contact["parentcustomerid"] == opp["parentaccountid"]
        if state == 0:
            assert opp["closeprobability"] in OPEN_PROBABILITIES[stage]
            assert opp["actualclosedate"] is None
            assert opp["actualvalue"] is None
        else:
            assert opp["actualclosedate"] == opp["modifiedon"][:10]
            assert opp["closeprobability"] == (100 if state == 1 else 0)
            assert opp["actualvalue"] == (opp["estimatedvalue"] if state == 1 else 0)
        if state == 1:
            assert stage == 3
        seen.add((state, opp["statuscode"], stage if state == 0 else None))
    for stage in range(4):
        assert (0, 1, stage) in seen
        assert (0, 2, stage) in seen
    assert {(s, c) for s, c, _ in seen} >= {(1, 3), (2, 4), (2, 5)}


def test_demo_leads_cover_every_state_and_link_their_opportunities(demo: SandboxState) -> None:
    status = demo.catalogue.entity("lead").attribute("statuscode")
    assert status is not None
    states: Counter[int] = Counter()
    for lead in rows(demo, "lead"):
        option = status.option(lead["statuscode"])
        assert option is not None
        assert option.state == lead["statecode"]
        states[lead["statecode"]] += 1
        if lead["statecode"] == 1:
            opp = demo.storage.get("opportunity", "opportunityid", lead["qualifyingopportunityid"])
            assert opp is not None
            assert opp["originatingleadid"] == lead["leadid"]
            assert lead["parentaccountid"] == opp["parentaccountid"]
        else:
            assert lead["qualifyingopportunityid"] is None
    assert set(states) == {0, 1, 2}
    assert any(lead["parentaccountid"] for lead in rows(demo, "lead", "WHERE statecode = 0"))


def test_demo_users_hold_roles(demo: SandboxState) -> None:
    humans = rows(demo, "systemuser", "WHERE applicationid IS NULL AND systemuserid != ?", (SYSTEM_USER_ID,))
    assert len(humans) >= 12
    admins = 0
    for user in humans:
        roles = demo.security.user_roles(user["systemuserid"])
        assert SALESPERSON_ROLE_ID in roles, user["fullname"]
        admins += SYSTEM_ADMINISTRATOR_ROLE_ID in roles
        assert user["accessmode"] == 0
        assert user["internalemailaddress"].endswith("@contoso-sandbox.com")
        assert user["internalemailaddress"] == user["domainname"]
        assert user["internalemailaddress"].isascii()
        assert user["fullname"] == f"{user['firstname']} {user['lastname']}"
        assert user["azureactivedirectoryobjectid"]
    assert admins == 1
    assert sum(u["isdisabled"] for u in humans) == 1
    apps = rows(demo, "systemuser", "WHERE applicationid IS NOT NULL")
    assert len(apps) == 2  # the foundation's application user and the demo's integration user


def test_demo_owner_team_has_members_and_owns_records(demo: SandboxState) -> None:
    owner_teams = rows(demo, "team", "WHERE teamtype = 0")
    assert len(owner_teams) == 1
    team_id = owner_teams[0]["teamid"]
    members = demo.storage.query("SELECT systemuserid FROM _team_members WHERE teamid = ?", (team_id,))[1]
    assert len(members) >= 2
    assert demo.storage.scalar("SELECT COUNT(*) FROM account WHERE ownerid = ?", (team_id,)) > 0


def test_demo_business_units_are_children_of_the_root(demo: SandboxState) -> None:
    units = rows(demo, "businessunit", "WHERE parentbusinessunitid IS NOT NULL")
    assert sorted(u["name"] for u in units) == ["Sales Americas", "Sales EMEA"]


def test_demo_records_are_owned_in_their_owners_business_unit(demo: SandboxState) -> None:
    for table in ("account", "contact", "opportunity", *ACTIVITIES):
        for row in rows(demo, table):
            assert row["owningbusinessunit"] == demo.security.business_unit_of(row["ownerid"]), table


def test_demo_contacts_use_their_account_domain(demo: SandboxState) -> None:
    for contact in rows(demo, "contact"):
        assert contact["parentcustomerid__type"] == "account"
        assert contact["accountid"] == contact["parentcustomerid"]
        account = demo.storage.get("account", "accountid", contact["parentcustomerid"])
        assert account is not None
        domain = account["websiteurl"].removeprefix("https://www.")
        if contact["emailaddress1"] is None:
            continue  # a contact entered twice, the second time without an email
        local, _, host = contact["emailaddress1"].partition("@")
        assert host == domain
        assert local.isascii()
        assert "." in local
    by_email: dict[str, set[tuple[str, str]]] = {}
    for contact in rows(demo, "contact"):
        if contact["emailaddress1"] is not None:
            by_email.setdefault(contact["emailaddress1"], set()).add((contact["lastname"], contact["accountid"]))
    assert all(len(people) == 1 for people in by_email.values()), "an email is shared only by one person entered twice"


def test_demo_records_carry_what_matching_compares(demo: SandboxState) -> None:
    contacts, leads, accounts = rows(demo, "contact"), rows(demo, "lead"), rows(demo, "account")
    for table, records in (("contact", contacts), ("lead", leads), ("account", accounts)):
        with_url = [row for row in records if row["new_linkedinurl"]]
        assert 0.3 < len(with_url) / len(records) < 0.7, table
        assert all("linkedin.com/" in row["new_linkedinurl"] for row in with_url)
        addressed = [row for row in records if row["address1_line1"] and row["address1_postalcode"]]
        assert len(addressed) / len(records) > 0.7, table
        assert all(row["address1_city"] and row["address1_country"] for row in records), table
    switchboards = Counter(
        (contact["accountid"], contact["telephone1"]) for contact in contacts if contact["telephone1"]
    )
    account_phones = {(account["accountid"], account["telephone1"]) for account in accounts}
    assert sum(count for key, count in switchboards.items() if key in account_phones and count > 1) > 20
    assert all(
        account["websiteurl"] and account["industrycode"] and account["numberofemployees"] for account in accounts
    )
    assert any(contact["emailaddress2"] for contact in contacts)
    assert any(lead["mobilephone"] for lead in leads)
    names = Counter((contact["accountid"], contact["lastname"]) for contact in contacts)
    assert any(count > 1 for count in names.values()), "some contacts are entered twice"


def test_the_demo_organizations_profile_url_column_is_custom_text_and_survives_a_restart(tmp_path: Path) -> None:
    from salesbridge.sandbox.assembly import build_sandbox
    from salesbridge.sandbox.seeds.seeding import parse_seed

    path = str(tmp_path / "demo.db")
    build_sandbox(db_path=path, seed=parse_seed("demo")).services.state.storage.close()
    reopened = build_sandbox(db_path=path, seed=parse_seed("demo")).services.state
    for table in ("contact", "lead", "account"):
        column = reopened.catalogue.entity(table).attribute("new_linkedinurl")
        assert column is not None, table
        assert column.is_custom
        assert column.type.value == "String"
    assert reopened.storage.scalar('SELECT count(*) FROM "contact" WHERE new_linkedinurl IS NOT NULL') > 50


def test_demo_has_subsidiaries(demo: SandboxState) -> None:
    children = rows(demo, "account", "WHERE parentaccountid IS NOT NULL")
    assert len(children) >= 3
    for child in children:
        assert child["parentaccountid"] != child["accountid"]


def test_demo_connections_link_opportunities_to_contacts(demo: SandboxState) -> None:
    masters = rows(demo, "connection", "WHERE ismaster = 1")
    assert masters
    for connection in masters:
        assert connection["record1id__type"] == "opportunity"
        assert connection["record2id__type"] == "contact"
        twin = demo.storage.get("connection", "connectionid", connection["relatedconnectionid"])
        assert twin is not None
        assert (twin["record1id"], twin["record2id"]) == (connection["record2id"], connection["record1id"])


def test_demo_timestamps_are_relative_to_now(demo: SandboxState) -> None:
    oldest = NOW - timedelta(days=800)
    for table in ("account", "contact", "lead", "opportunity", *ACTIVITIES, "annotation", "connection"):
        for row in rows(demo, table):
            created, modified = parse_timestamp(row["createdon"]), parse_timestamp(row["modifiedon"])
            assert oldest <= created <= modified <= NOW, (table, row["createdon"], row["modifiedon"])
    spread = demo.storage.query("SELECT MIN(createdon), MAX(createdon) FROM account")[1][0]
    assert spread[0] < format_timestamp(NOW - timedelta(days=365)) < spread[1]
    completed = rows(demo, "task", "WHERE statecode = 1")
    assert all(t["actualend"] <= format_timestamp(NOW) for t in completed)


# --- scale -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scale() -> tuple[SandboxState, list[int], dict[str, int]]:
    state = fresh_state()
    progress: list[int] = []
    summary = seed_scale(state, 20_000, progress=progress.append)
    return state, progress, summary.counts


def test_scale_proportions(scale: tuple[SandboxState, list[int], dict[str, int]]) -> None:
    state, _, counts = scale
    assert counts["contact"] == count(state, "contact") == 20_000
    assert counts["account"] == count(state, "account") == 2_000
    assert counts["lead"] == count(state, "lead") == 1_000
    assert counts["opportunity"] == count(state, "opportunity") == 1_000
    assert 3 <= counts["systemuser"] <= 20


def test_scale_ids_and_versions_are_unique(scale: tuple[SandboxState, list[int], dict[str, int]]) -> None:
    state, _, _ = scale
    versions: list[int] = []
    for table in ("account", "contact", "lead", "opportunity"):
        key = state.catalogue.entity(table).primary_id
        distinct = state.storage.scalar(f'SELECT COUNT(DISTINCT "{key}") FROM "{table}"')
        assert distinct == count(state, table)
        versions += [r[0] for r in state.storage.query(f'SELECT versionnumber FROM "{table}"')[1]]
    assert len(set(versions)) == len(versions)
    assert max(versions) == state.storage.current_version


def test_scale_reports_progress(scale: tuple[SandboxState, list[int], dict[str, int]]) -> None:
    _, progress, counts = scale
    assert progress == sorted(progress)
    assert progress[-1] == sum(counts.values())
    assert len(progress) >= 4


def test_scale_lookups_point_at_existing_rows(scale: tuple[SandboxState, list[int], dict[str, int]]) -> None:
    state, _, _ = scale
    assert dangling_lookups(state) == []


def test_scale_rows_are_consistent(scale: tuple[SandboxState, list[int], dict[str, int]]) -> None:
    state, _, _ = scale
    assert state.storage.scalar("SELECT COUNT(*) FROM contact WHERE fullname IS NULL OR emailaddress1 IS NULL") == 0
    assert state.storage.scalar("SELECT COUNT(*) FROM contact WHERE modifiedon < createdon") == 0
    assert state.storage.scalar("SELECT MAX(modifiedon) FROM contact") <= format_timestamp(NOW)
    status = state.catalogue.entity("opportunity").attribute("statuscode")
    assert status is not None
    for state_code, status_code, stage, step, probability in state.storage.query(
        "SELECT DISTINCT statecode, statuscode, salesstage, stepname, closeprobability FROM opportunity"
    )[1]:
        option = status.option(status_code)
        assert option is not None
        assert option.state == state_code
        assert step == STAGES[stage]
        if state_code == 0:
            assert probability in OPEN_PROBABILITIES[stage]
        else:
            assert probability == (100 if state_code == 1 else 0)
    qualified = state.storage.scalar("SELECT COUNT(*) FROM lead WHERE statecode = 1")
    linked = state.storage.scalar("SELECT COUNT(*) FROM opportunity WHERE originatingleadid IS NOT NULL")
    assert qualified == linked > 0


def test_scale_is_deterministic_and_idempotent() -> None:
    first, second = fresh_state(), fresh_state()
    seed_scale(first, 300)
    seed_scale(second, 300)
    for table in ("account", "contact", "lead", "opportunity"):
        key = first.catalogue.entity(table).primary_id
        assert rows(first, table, f"ORDER BY {key}") == rows(second, table, f"ORDER BY {key}")
    again = seed_scale(first, 300)
    assert again.already_seeded
    assert count(first, "contact") == 300


def test_scale_and_demo_coexist() -> None:
    state = fresh_state()
    seed_demo(state)
    seed_scale(state, 100)
    assert count(state, "contact") == 300
    assert state.storage.get_meta(SEED_META_KEY) == "demo:7,scale:100:7"


def test_scale_of_one_contact() -> None:
    state = fresh_state()
    summary = seed_scale(state, 1)
    assert summary.counts["contact"] == summary.counts["account"] == 1
    assert dangling_lookups(state) == []


def test_scale_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least one"):
        seed_scale(fresh_state(), 0)
