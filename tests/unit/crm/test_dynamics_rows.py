"""Rows to port records and port conditions to ``$filter`` text (salesbridge.crm.dynamics.rows), and metadata
labels in the requested language (salesbridge.crm.dynamics.metadata.label_text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from salesbridge.crm.dynamics.metadata import label_text
from salesbridge.crm.dynamics.rows import (
    filter_clause,
    is_tombstone,
    odata_literal,
    order_clause,
    record_from_row,
    select_clause,
    tombstone_from_row,
)
from salesbridge.crm.ports import Condition, LookupValue, SortKey, TableInfo
from salesbridge.errors import UnexpectedResponseError

ACCOUNTS = TableInfo(logical_name="account", entity_set_name="accounts", primary_id_column="accountid")
ACCOUNT_ID = "78914942-34cb-ed11-b596-0022481d68cd"
CONTACT_ID = "70BF4D48-34CB-ED11-B596-0022481D68CD"


def test_a_row_becomes_a_record_without_odata_annotations() -> None:
    row = {
        "@odata.etag": 'W/"81359849"',
        "name": "Litware, Inc. (sample)",
        "revenue@OData.Community.Display.V1.FormattedValue": "$20,000.00",
        "revenue": 20000.0,
        "_primarycontactid_value@OData.Community.Display.V1.FormattedValue": "Susanna Stubberod (sample)",
        "_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact",
        "_primarycontactid_value": CONTACT_ID,
        "_parentaccountid_value": None,
        "customertypecode@OData.Community.Display.V1.FormattedValue": "Competitor",
        "customertypecode": 1,
        "accountid": ACCOUNT_ID.upper(),
    }

    record = record_from_row(row, ACCOUNTS)

    assert record.id == ACCOUNT_ID
    assert record.version == 'W/"81359849"'
    assert record.values == {
        "name": "Litware, Inc. (sample)",
        "revenue": 20000.0,
        "primarycontactid": LookupValue(id=CONTACT_ID.lower(), table="contact"),
        "parentaccountid": None,
        "customertypecode": 1,
    }
    assert record.formatted == {
        "revenue": "$20,000.00",
        "primarycontactid": "Susanna Stubberod (sample)",
        "customertypecode": "Competitor",
    }
    assert not any("@" in key for key in record.values)


def test_a_row_without_its_primary_key_is_unexpected() -> None:
    with pytest.raises(UnexpectedResponseError, match="accountid"):
        record_from_row({"name": "x"}, ACCOUNTS)


def test_a_deleted_entity_becomes_a_tombstone() -> None:
    row = {
        "@odata.context": "https://org.crm.dynamics.com/api/data/v9.0/$metadata#accounts/$deletedEntity",
        "id": "2E451703-C686-E711-80E5-00155DB19E6D",
        "reason": "deleted",
    }

    assert is_tombstone(row)
    assert not is_tombstone({"@odata.etag": "x", "accountid": ACCOUNT_ID})
    tombstone = tombstone_from_row(row, ACCOUNTS)
    assert (tombstone.table, tombstone.id, tombstone.reason) == (
        "account",
        "2e451703-c686-e711-80e5-00155db19e6d",
        "deleted",
    )


def test_columns_sort_keys_and_conditions_use_lookup_properties() -> None:
    types = {"name": "String", "primarycontactid": "Lookup", "accountid": "Uniqueidentifier", "modifiedon": "DateTime"}
    lookups = frozenset({"primarycontactid"})
    since = datetime(2026, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))

    select = select_clause(["name", "primarycontactid"], lookups)
    order = order_clause([SortKey("modifiedon"), SortKey("primarycontactid", descending=True)], lookups)
    conditions = filter_clause(
        [
            Condition("name", "eq", "O'Brian"),
            Condition("primarycontactid", "eq", CONTACT_ID),
            Condition("accountid", "ne", ACCOUNT_ID),
            Condition("modifiedon", "ge", since),
            Condition("name", "ne", None),
        ],
        types,
    )

    assert select == "name,_primarycontactid_value"
    assert order == "modifiedon asc,_primarycontactid_value desc"
    assert conditions == (
        f"name eq 'O''Brian' and _primarycontactid_value eq {CONTACT_ID.lower()} and accountid ne {ACCOUNT_ID} "
        "and modifiedon ge 2026-05-01T08:00:00Z and name ne null"
    )


@pytest.mark.parametrize(
    ("value", "column_type", "expected"),
    [
        pytest.param(True, "", "true", id="bool"),
        pytest.param(42, "", "42", id="int"),
        pytest.param(1.5, "", "1.5", id="float"),
        pytest.param(LookupValue(ACCOUNT_ID, "account"), "Lookup", ACCOUNT_ID, id="lookup-value"),
        pytest.param(datetime(2026, 1, 1, tzinfo=UTC), "", "2026-01-01T00:00:00Z", id="aware-datetime"),
    ],
)
def test_literals(value: object, column_type: str, expected: str) -> None:
    assert odata_literal(value, column_type) == expected


@pytest.mark.parametrize(
    ("value", "column_type"),
    [
        pytest.param(datetime(2026, 1, 1), "", id="naive-datetime"),  # noqa: DTZ001 - the point of the test
        pytest.param("not-a-guid", "Lookup", id="bad-guid"),
        pytest.param(object(), "", id="unsupported-type"),
    ],
)
def test_bad_literals_are_refused(value: object, column_type: str) -> None:
    with pytest.raises(ValueError):
        odata_literal(value, column_type)


def test_names_that_could_inject_query_text_are_refused() -> None:
    with pytest.raises(ValueError, match="not a valid Dataverse name"):
        select_clause(["name,_x_value&$top=1"], frozenset())


@pytest.mark.parametrize(
    ("language_code", "expected"),
    [
        pytest.param(3082, "Cuenta", id="requested-language"),
        pytest.param(1036, "Account (user)", id="falls-back-to-user-label"),
    ],
)
def test_labels_in_the_requested_language(language_code: int, expected: str) -> None:
    label = {
        "LocalizedLabels": [{"Label": "Account", "LanguageCode": 1033}, {"Label": "Cuenta", "LanguageCode": 3082}],
        "UserLocalizedLabel": {"Label": "Account (user)", "LanguageCode": 1033},
    }

    assert label_text(label, language_code) == expected


def test_a_missing_label_is_none() -> None:
    assert label_text({"LocalizedLabels": [], "UserLocalizedLabel": None}, 1033) is None
    assert label_text(None, 1033) is None
