"""The queryable copies of an imported row: name, owner, parent and state, as lists and matching read them."""

from __future__ import annotations

from salesbridge.domain.crm_import import StoredFields, import_specs, stored_fields

SPECS = import_specs()


def lookup(table: str, crm_id: str | None) -> dict[str, str | None]:
    return {"id": crm_id, "table": table}


def test_a_contact_keeps_its_name_owner_account_and_state() -> None:
    data = {
        "fullname": "Ana Ruiz",
        "ownerid": lookup("systemuser", "u1"),
        "parentcustomerid": lookup("account", "a1"),
        "statecode": 0,
    }
    assert stored_fields(SPECS["contact"], data) == StoredFields("Ana Ruiz", "u1", "a1", 0)


def test_an_opportunity_without_a_parent_account_falls_back_to_its_customer() -> None:
    data = {"name": "Deal", "parentaccountid": None, "customerid": lookup("account", "a2"), "statecode": 1}
    assert stored_fields(SPECS["opportunity"], data) == StoredFields("Deal", None, "a2", 1)
    empty_id = {"name": "Deal", "parentaccountid": lookup("account", ""), "customerid": lookup("account", "a3")}
    assert stored_fields(SPECS["opportunity"], empty_id).parent_id == "a3"


def test_names_are_cut_at_400_characters_and_other_types_become_text() -> None:
    assert stored_fields(SPECS["account"], {"name": "x" * 500}).name == "x" * 400
    assert stored_fields(SPECS["account"], {"name": 42}).name == "42"
    assert stored_fields(SPECS["account"], {}).name is None


def test_values_that_are_not_lookups_or_integers_are_not_copied() -> None:
    data = {"fullname": "B", "ownerid": "u1", "parentcustomerid": ["a1"], "statecode": "0"}
    assert stored_fields(SPECS["contact"], data) == StoredFields("B", None, None, None)
    assert stored_fields(SPECS["contact"], {"statecode": True}).state_code is None


def test_a_connection_has_no_name_and_its_first_record_as_parent() -> None:
    data = {"record1id": lookup("opportunity", "o1"), "record2id": lookup("contact", "c1"), "fullname": "ignored"}
    assert stored_fields(SPECS["connection"], data) == StoredFields(None, None, "o1", None)


def test_owner_and_parent_ids_are_kept_in_lower_case() -> None:
    data = {"ownerid": lookup("systemuser", "9E1B-U1"), "parentcustomerid": lookup("account", "A1B2-C3")}
    fields = stored_fields(SPECS["contact"], data)
    assert (fields.owner_id, fields.parent_id) == ("9e1b-u1", "a1b2-c3")
