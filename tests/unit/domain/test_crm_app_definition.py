"""The CRM-side app's definition and its diff against what a CRM's metadata has (pure)."""

from __future__ import annotations

import dataclasses

from salesbridge.domain.crm_app import (
    CRM_APP,
    CUSTOMIZATION_PRIVILEGES,
    AppState,
    MissingItem,
    MissingKind,
    ObservedCrm,
    ObservedTable,
    app_state,
    installed_version,
    marked_version,
    missing_items,
    missing_privileges,
    observed_tables,
    version_marker,
    writeback_privileges,
)


def _complete(*, description: str | None = None) -> dict[str, ObservedTable]:
    tables = {
        table.logical_name: ObservedTable(
            table.logical_name,
            is_activity=True,
            columns=frozenset({"activityid", "subject", *(c.logical_name for c in table.columns)}),
            keys=frozenset(k.logical_name for k in table.keys),
            description=description if description is not None else f"Written back. {version_marker()}",
        )
        for table in CRM_APP.tables
    }
    tables["annotation"] = ObservedTable("annotation")
    tables["phonecall"] = ObservedTable("phonecall", is_activity=True)
    for regarded in ("contact", "lead", "account"):
        tables[regarded] = ObservedTable(regarded, has_activities=True, has_notes=True)
    return tables


def test_the_app_is_two_activity_tables_each_with_its_columns_and_an_external_id_key() -> None:
    assert [t.logical_name for t in CRM_APP.tables] == ["sbr_inmail", "sbr_message"]
    for table in CRM_APP.tables:
        names = [c.logical_name for c in table.columns]
        assert names == [
            "sbr_body",
            "sbr_direction",
            "sbr_senton",
            "sbr_conversationid",
            "sbr_sellerid",
            "sbr_externalid",
        ]
        assert [k.columns for k in table.keys] == [("sbr_externalid",)]
    assert [(t.logical_name, t.data_item) for t in CRM_APP.standard_tables] == [
        ("annotation", "note"),
        ("phonecall", "call"),
    ]
    assert CRM_APP.regarded_tables == ("contact", "lead", "account")
    assert observed_tables() == ("sbr_inmail", "sbr_message", "annotation", "phonecall", "contact", "lead", "account")


def test_a_fresh_crm_misses_every_table_column_and_key_in_creation_order() -> None:
    observed = ObservedCrm({k: v for k, v in _complete().items() if not k.startswith("sbr_")})

    missing = missing_items(observed)

    assert app_state(observed) is AppState.MISSING
    inmail = [str(m) for m in missing if m.table == "sbr_inmail"]
    assert inmail[0] == "sbr_inmail"
    assert inmail[-1] == "sbr_inmail: key sbr_inmail_externalidkey"
    assert "sbr_inmail.sbr_externalid" in inmail[1:-1]
    assert all(m.installable for m in missing)
    assert len(missing) == 2 * (1 + 6 + 1)


def test_a_complete_crm_misses_nothing() -> None:
    observed = ObservedCrm(_complete())
    assert missing_items(observed) == ()
    assert app_state(observed) is AppState.INSTALLED
    assert installed_version(observed) == CRM_APP.version


def test_a_missing_column_or_key_makes_it_outdated_and_is_all_that_is_missing() -> None:
    tables = _complete()
    inmail = tables["sbr_inmail"]
    tables["sbr_inmail"] = dataclasses.replace(inmail, columns=inmail.columns - {"sbr_senton"})
    tables["sbr_message"] = dataclasses.replace(tables["sbr_message"], keys=frozenset())

    missing = missing_items(ObservedCrm(tables))

    assert missing == (
        MissingItem(MissingKind.COLUMN, "sbr_inmail", "sbr_senton"),
        MissingItem(MissingKind.KEY, "sbr_message", "sbr_message_externalidkey"),
    )
    assert app_state(ObservedCrm(tables)) is AppState.OUTDATED


def test_what_only_an_administrator_can_fix_comes_last_and_is_not_installable() -> None:
    tables = _complete()
    tables["lead"] = dataclasses.replace(tables["lead"], has_activities=False)
    tables["account"] = dataclasses.replace(tables["account"], has_notes=False)
    del tables["phonecall"]
    tables["sbr_message"] = ObservedTable("sbr_message", is_activity=False)

    missing = missing_items(ObservedCrm(tables))

    assert [str(m) for m in missing] == [
        "sbr_message: exists but is not an activity table",
        "phonecall",
        "lead: activities not enabled",
        "account: notes not enabled",
    ]
    assert not any(m.installable for m in missing)


def test_version_markers() -> None:
    assert marked_version(f"InMail written back by salesbridge. {version_marker(3)}") == 3
    assert marked_version("Made by hand") is None
    assert marked_version(None) is None
    assert installed_version(ObservedCrm(_complete(description="no marker"))) is None


def test_privileges_follow_dataverse_names_for_activities_and_notes() -> None:
    needed = writeback_privileges()
    assert needed == (
        "prvCreateActivity",
        "prvAppendActivity",
        "prvCreateNote",
        "prvAppendNote",
        "prvAppendToContact",
        "prvAppendToLead",
        "prvAppendToAccount",
        "prvActOnBehalfOfAnotherUser",
    )
    held = frozenset({"prvcreateactivity", "prvCreateEntity", *needed[1:-1]})
    assert missing_privileges(held, (*CUSTOMIZATION_PRIVILEGES, *needed)) == (
        "prvWriteEntity",
        "prvCreateAttribute",
        "prvActOnBehalfOfAnotherUser",
    )


def test_a_key_whose_index_is_not_active_is_reported_not_recreated() -> None:
    tables = _complete()
    tables["sbr_inmail"] = dataclasses.replace(tables["sbr_inmail"], key_states={"sbr_inmail_externalidkey": "Pending"})

    missing = missing_items(ObservedCrm(tables))

    assert missing == (MissingItem(MissingKind.KEY_NOT_ACTIVE, "sbr_inmail", "sbr_inmail_externalidkey", "Pending"),)
    assert str(missing[0]) == "sbr_inmail: key sbr_inmail_externalidkey is Pending, not Active"
    assert not missing[0].installable
    assert app_state(ObservedCrm(tables)) is AppState.OUTDATED
