"""Use-case values in the reader's language: the JSON of lists, CRM settings and the sync status that the API
returns and the CLI prints (``--json``), and the sentences the console, the API and the CLI share. The services
give message ids and values (a system list's name, why auto-save saved a record, the stage source's name, the
offered stages' labels, since when and why imports fail); they are translated here, at the edge. No web framework
is imported, so the CLI may use it."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from salesbridge.domain.csv_rows import LINE_PROBLEM, LineProblem
from salesbridge.i18n import N_, count_text, decimal_text, ngettext, translate
from salesbridge.message_ids import Label
from salesbridge.services.crm_settings import CrmSettingsView, LabelReader, SettingsChoices
from salesbridge.services.crm_status import CrmStatus
from salesbridge.services.disconnect import DisconnectOutcome, DisconnectPreview
from salesbridge.services.lists import ListTargetView, ListView
from salesbridge.services.preflight import OUTCOME_MESSAGES, ConnectOutcome, read_last_error
from salesbridge.services.seats import SeatOverview, SeatView
from salesbridge.services.sync import SyncStatus, table_json
from salesbridge.web.job_descriptions import REASONS as JOB_REASONS

if TYPE_CHECKING:
    from salesbridge.domain.crm_app import MissingItem
    from salesbridge.domain.sync_runs import TableCheckpoint
    from salesbridge.services.crm_app import CrmAppStatus
    from salesbridge.services.writeback import WritebackStatus

_KEPT_CONNECTION: Final = N_("The working connection stays in use; nothing was changed.")
_DISCONNECTED: Final = N_("CRM sync is disconnected. Previously imported CRM data has been kept.")
_PURGED: Final = N_("CRM sync is disconnected and all previously imported CRM data has been cleaned up.")
_WILL_DELETE_CONNECTION: Final = N_("The connection to {org_url} and its stored credentials will be deleted.")
_NO_CONNECTION: Final = N_("No CRM connection is stored.")
_WILL_CANCEL: Final = N_("Queued or running imports to cancel: {count}.")
_WILL_PURGE: Final = N_(
    "All previously imported CRM data will be deleted: {crm_records}, {crm_users}, {table_sync_states}, "
    "{import_requests}, and {system_lists} with {system_list_items}. Every seat loses its CRM match."
)
_PURGE_KEEPS: Final = N_(
    "Kept: users, seats, manual lists and their items, CRM settings, API tokens and the audit log."
)
_KEEPS_DATA: Final = N_(
    "Previously imported CRM data is kept; purge it later by disconnecting again with the clean-up."
)
SYNC_FAILING: Final = N_("CRM sync has been failing since {since}: {reason} salesbridge keeps retrying automatically.")


def list_json(view: ListView, locale: str) -> dict[str, Any]:
    """``view`` as JSON: a system list's name, and why auto-save saved each record, in ``locale``."""
    return {
        "id": str(view.id),
        "name": translate(view.name, locale) if view.is_system else view.name,
        "kind": view.kind.value,
        "items": [
            {
                "table": item.table,
                "crm_id": item.crm_id,
                "name": item.name,
                "reason": item.reason,
                "reason_label": translate(item.reason_label, locale) if item.reason_label else None,
                "added_at": item.added_at.isoformat(),
            }
            for item in view.items
        ],
        "people": [_target_json(target) for target in view.people],
        "companies": [_target_json(target) for target in view.companies],
        "unmatched": view.unmatched,
        "unmatched_label": unmatched_label(view.unmatched, locale) if view.unmatched else None,
        "size": len(view.items) if view.size is None else view.size,
    }


def _target_json(target: ListTargetView) -> dict[str, Any]:
    return {
        "id": str(target.id),
        "name": target.name,
        "detail": target.detail,
        "crm_records": [{"table": table, "crm_id": crm_id} for table, crm_id in target.crm_records],
    }


def unmatched_label(count: int, locale: str) -> str:
    """How many of a list's CRM records are tied to no person or company of the workspace yet, in ``locale`` and its
    plural rules ("12 CRM records not matched yet")."""
    return ngettext("{count} CRM record not matched yet", "{count} CRM records not matched yet", count, locale).format(
        count=count
    )


def certainty_percent(probability: float, locale: str) -> str:
    """How sure matching is of a pair, as a percentage in ``locale`` ("96", "99.6", Spanish "99,6"): whole percents,
    except that a probability below 1 never reads as "100" (a pair in review shown "100 % sure" makes an
    administrator wonder why it waits) nor one above 0 as "0": those get one decimal, rounded towards 50 %."""
    percent = probability * 100
    whole = round(percent)
    if whole == 100 and probability < 1:
        return decimal_text(math.floor(percent * 10) / 10, 1, locale)
    if whole == 0 and probability > 0:
        return decimal_text(math.ceil(percent * 10) / 10, 1, locale)
    return str(whole)


def label_text(label: Label, locale: str) -> str:
    """``label`` as a reader of ``locale`` sees it: a message id translated, a CRM's own label as it came."""
    return label.read(lambda message: translate(message, locale))


def label_reader(locale: str) -> LabelReader:
    """How a reader of ``locale`` reads a label (:func:`label_text`): what CRM settings match a typed stage with."""
    return lambda label: label_text(label, locale)


def settings_json(settings: CrmSettingsView, locale: str) -> dict[str, Any]:
    """``settings`` as JSON, the stage source's name and the threshold's label in ``locale``."""
    return {
        **settings.to_json(),
        "stage_source_label": translate(settings.stage_source_label, locale),
        "stage_label": label_text(settings.stage_label, locale) if settings.stage_label else None,
    }


def choices_json(choices: SettingsChoices, locale: str) -> dict[str, Any]:
    """What CRM settings may be set to, as JSON, each choice's label in ``locale``."""
    return {
        "stages": {
            source.value: [{"value": choice.value, "label": label_text(choice.label, locale)} for choice in offered]
            for source, offered in choices.stages.items()
        },
        "money_columns": [
            {"value": choice.value, "label": label_text(choice.label, locale)} for choice in choices.money_columns
        ],
        "from_crm": choices.from_crm,
        "crm_problem": choices.problem.value if choices.problem else None,
        "text_columns": {
            table: [{"value": choice.value, "label": label_text(choice.label, locale)} for choice in offered]
            for table, offered in choices.text_columns.items()
        },
    }


def connect_message(outcome: ConnectOutcome, locale: str) -> str:
    """A connection attempt's headline in ``locale``, worded as in the admin guide."""
    fields = {name: label_text(label, locale) for name, label in outcome.message_fields.items()}
    return translate(outcome.message_id, locale).format(**fields)


def connection_outcome_json(outcome: ConnectOutcome, status: CrmStatus, locale: str) -> dict[str, Any]:
    """An outcome of ``connect_crm`` and the connection's ``status`` after it, as JSON (``POST …/crm/connection``,
    ``salesbridge crm connect --json``): its stable code (``outcome``), one sentence in ``locale``, the missing
    privileges or objects, and whether a working connection was kept. No secret, and no underlying error text (it
    would tell the server's network apart; it is in the audit log)."""
    return {
        "outcome": outcome.kind.value,
        "connected": outcome.is_connected,
        "message": connect_message(outcome, locale),
        "missing_privileges": [str(privilege) for privilege in outcome.missing_privileges],
        "missing_objects": list(outcome.missing_objects),
        "kept_connection": outcome.kept_connection,
        "status": crm_status_json(status, locale),
    }


def kept_connection_notice(locale: str) -> str:
    """The sentence added to a failed attempt's message when the working connection was kept, in ``locale``."""
    return translate(_KEPT_CONNECTION, locale)


def localized_last_error(text: str, locale: str) -> str:
    """A stored ``last error`` (``salesbridge.services.preflight.last_error_text``) in ``locale``: its sentence
    translated when it is one of the outcomes' (their message ids are English), its details as they are."""
    stored = read_last_error(text)
    if stored is None:
        return text
    fields = {
        name: translate(value, locale) if name == "credential" else value for name, value in stored.fields.items()
    }
    sentence = translate(OUTCOME_MESSAGES[stored.kind], locale).format(**fields)
    return sentence if stored.details is None else sentence + "\n" + stored.details


def crm_state(status: CrmStatus, locale: str) -> str:
    """The connection's state in words (``Connected to Microsoft Dynamics``) in ``locale``."""
    return translate(status.state_label, locale)


def crm_last_error(status: CrmStatus, locale: str) -> str | None:
    """The last failed attempt's sentence in ``locale`` (details on a second line), or None."""
    return localized_last_error(status.last_error, locale) if status.last_error else None


def crm_status_json(status: CrmStatus, locale: str) -> dict[str, Any]:
    """``status`` as JSON, its state and last error in ``locale``."""
    return {**status.to_json(), "state_label": crm_state(status, locale), "last_error": crm_last_error(status, locale)}


def disconnect_message(outcome: DisconnectOutcome, locale: str) -> str:
    """What a disconnect did, in words, in ``locale``."""
    return translate(_PURGED if outcome.purged else _DISCONNECTED, locale)


def disconnect_json(outcome: DisconnectOutcome, locale: str) -> dict[str, Any]:
    """``outcome`` as JSON, with what it did in words (``message``) in ``locale``."""
    return {**outcome.to_json(), "message": disconnect_message(outcome, locale)}


def disconnect_lines(preview: DisconnectPreview, *, purge: bool, locale: str) -> list[str]:
    """What a disconnect (with or without ``purge``) would delete and keep, one sentence per line, in ``locale``."""
    lines = [
        translate(_WILL_DELETE_CONNECTION, locale).format(org_url=preview.org_url)
        if preview.connected
        else translate(_NO_CONNECTION, locale)
    ]
    if preview.active_imports:
        lines.append(translate(_WILL_CANCEL, locale).format(count=preview.active_imports))
    if purge:
        lines.append(translate(_WILL_PURGE, locale).format(**_purge_counts(preview.purge.counts(), locale)))
        lines.append(translate(_PURGE_KEEPS, locale))
    else:
        lines.append(translate(_KEEPS_DATA, locale))
    return lines


def _purge_counts(counts: dict[str, int], locale: str) -> dict[str, str]:
    """Each count of ``PurgeReport.counts()`` with its noun, in the form the number takes in ``locale``."""
    forms = {
        "crm_records": ngettext("{count} CRM record", "{count} CRM records", counts["crm_records"], locale),
        "crm_users": ngettext("{count} CRM user", "{count} CRM users", counts["crm_users"], locale),
        "table_sync_states": ngettext(
            "{count} table checkpoint", "{count} table checkpoints", counts["table_sync_states"], locale
        ),
        "import_requests": ngettext("{count} import run", "{count} import runs", counts["import_requests"], locale),
        "system_lists": ngettext("{count} auto-saved list", "{count} auto-saved lists", counts["system_lists"], locale),
        "system_list_items": ngettext("{count} item", "{count} items", counts["system_list_items"], locale),
    }
    return {name: form.format(count=counts[name]) for name, form in forms.items()}


def seat_match(seat: SeatView, locale: str) -> tuple[str, str | None, str | None]:
    """How the seat's holder matched a CRM user (``Matched by email``, ``Not matched``), why not and how to fix it
    (None when matched), in ``locale``."""
    reason, fix = seat.match_reason, seat.match_fix
    return (
        translate(seat.match_label, locale),
        translate(reason, locale).format(email=seat.email) if reason else None,
        translate(fix, locale) if fix else None,
    )


def seat_json(seat: SeatView, locale: str) -> dict[str, Any]:
    """``seat`` as JSON, its match in words in ``locale``."""
    label, reason, fix = seat_match(seat, locale)
    return {**seat.to_json(), "match_label": label, "match_reason": reason, "match_fix": fix}


def seat_overview_json(overview: SeatOverview, locale: str) -> dict[str, Any]:
    """``overview`` as JSON, each seat's match in words in ``locale``."""
    return {**overview.to_json(), "seats": [seat_json(seat, locale) for seat in overview.seats]}


SYNC_THROTTLED: Final = N_(
    "Dynamics is throttling requests (too many in a short time): the import waits as Dynamics asks and tries again "
    "at {when}. Nothing to do: it goes on by itself."
)


def sync_throttled_message(until: datetime | None, locale: str, *, message: str = SYNC_THROTTLED) -> str | None:
    """ "Dynamics is throttling requests …: the import … tries again at …" in ``locale`` while the running import
    is throttled (``until``: :attr:`~salesbridge.services.sync.SyncStatus.throttled_until`); None otherwise.
    ``message``: the message id with its ``{when}`` (:data:`WRITEBACK_THROTTLED` for writeback)."""
    if until is None:
        return None
    return translate(message, locale).format(when=until.strftime("%H:%M:%S UTC"))


WRITEBACK_THROTTLED: Final = N_(
    "Dynamics is throttling requests: writeback tries again at {when}. Nothing to do: it goes on by itself."
)


def writeback_throttled_message(until: datetime | None, locale: str) -> str | None:
    """ "Dynamics is throttling requests: writeback tries again at …" in ``locale`` while Dynamics throttles the
    drain (``until``: :attr:`~salesbridge.services.writeback.WritebackStatus.throttled_until`); None otherwise."""
    return sync_throttled_message(until, locale, message=WRITEBACK_THROTTLED)


_MISSING_TEXTS: Final[dict[str, str]] = {
    "table": N_("Table {table}"),
    "column": N_("Column {name} of {table}"),
    "key": N_("Alternate key {name} of {table}"),
    "standard_table": N_("Standard table {table} (your Dynamics administrator must add it)"),
    "activities": N_("Activities are not enabled on {table} (your Dynamics administrator must enable them)"),
    "notes": N_("Notes are not enabled on {table} (your Dynamics administrator must enable them)"),
    "key_not_active": N_("Alternate key {name} of {table} is {state}, not Active yet"),
    "not_an_activity": N_(
        "{table} exists but is not an activity table (your Dynamics administrator must rename or remove it)"
    ),
}
"""What the CRM lacks of the app, by :class:`~salesbridge.domain.crm_app.MissingKind` value (message ids): by
value, so that commands which never read the app do not load its definition."""


def missing_text(item: MissingItem, locale: str) -> str:
    """What the CRM lacks of the app, in words in ``locale``."""
    return translate(_MISSING_TEXTS[item.kind], locale).format(table=item.table, name=item.name, state=item.state)


def crm_app_status_json(status: CrmAppStatus, locale: str) -> dict[str, Any]:
    """``status`` as JSON (``salesbridge crm app status --json``, the API's ``GET …/crm/app``): its state, and each
    missing item (``label``), in words in ``locale``, as CRM Settings says them."""
    body = status.to_json()
    body["state_label"] = translate(status.state_label, locale)
    for item, shown in zip(status.missing, body["missing"], strict=True):
        shown["label"] = missing_text(item, locale)
    return body


def writeback_app_missing_message(missing: bool, locale: str) -> str | None:
    """ "Writeback of InMail and messages is paused: the CRM app is missing in Dynamics 365 … Reinstall it" in
    ``locale`` while activities wait for the CRM app's tables (``missing``:
    :attr:`~salesbridge.services.writeback.WritebackStatus.crm_app_missing`); None otherwise. What the Writeback
    page, Sync health, the API and ``salesbridge writeback status`` say."""
    # Imported here: services.writeback loads matching and the drain, which `sync status` and `crm status` never
    # need (the CLI starts without them).
    from salesbridge.services.writeback import CRM_APP_MISSING_STATUS

    return translate(CRM_APP_MISSING_STATUS, locale) if missing else None


def writeback_status_json(status: WritebackStatus, locale: str) -> dict[str, Any]:
    """``status`` as JSON (``salesbridge writeback status --json``; the API's ``GET …/writeback/status`` renames
    ``by_item`` to ``by_type``): each problem's reason, why activities wait (``waiting_labels``, by ``waiting``'s
    keys, as the Writeback page lists them), the throttling (``throttled_message``) and the CRM app's absence
    (``crm_app_missing_message``) in words in ``locale``, each beside the value it says."""
    from salesbridge.services.activities import waiting_reason  # here: as writeback_app_missing_message's import

    def read(message: str) -> str:
        return translate(message, locale)

    body: dict[str, Any] = {}
    for key, value in status.to_json(read).items():
        body[key] = value
        if key == "waiting":
            body["waiting_labels"] = {reason: waiting_reason(reason).read(read) for reason in status.waiting}
        if key == "crm_app_missing":
            body["crm_app_missing_message"] = writeback_app_missing_message(status.crm_app_missing, locale)
        if key == "throttled_until":
            body["throttled_message"] = writeback_throttled_message(status.throttled_until, locale)
    return body


def sync_failure_message(since: datetime | None, reason: str | None, locale: str) -> str | None:
    """ "CRM sync has been failing since …: reason salesbridge keeps retrying automatically." in ``locale``; None
    when imports are not failing (``since`` None)."""
    if since is None:
        return None
    return translate(SYNC_FAILING, locale).format(since=status_time(since), reason=reason or "")


def status_time(moment: datetime) -> str:
    """A time as the status sentences give it (since when sync fails, the CLI's last sync and import lines), in
    every language: ``2026-03-02 09:00 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


IMPORT_RUNNING: Final = N_("Import running since {since}")
IMPORT_QUEUED: Final = N_("Import queued")
QUEUED_SINCE: Final = N_("Queued since {since} ({reason})")


def import_running_line(since: datetime, locale: str) -> str:
    """ "Import running since 2026-03-02 09:00 UTC" in ``locale`` (``sync status``)."""
    return translate(IMPORT_RUNNING, locale).format(since=status_time(since))


def queued_import_line(requested_at: datetime, reason: str, locale: str) -> str:
    """ "Queued since 2026-03-02 09:00 UTC (Sync now was pressed)" in ``locale`` (``crm status``'s imports): why it
    was queued in words as the Background jobs page says it, or as recorded when salesbridge has no words for it."""
    words = JOB_REASONS.get(reason)
    return translate(QUEUED_SINCE, locale).format(
        since=status_time(requested_at), reason=translate(words, locale) if words else reason
    )


CRM_TABLE_NAMES: Final = {
    "account": N_("Accounts"),
    "contact": N_("Contacts"),
    "lead": N_("Leads"),
    "opportunity": N_("Opportunities"),
    "systemuser": N_("CRM users"),
    "team": N_("Teams"),
    "connection": N_("Connections"),
}
"""The CRM tables salesbridge imports, by the names people know them by (message ids), by logical name."""
CRM_RECORD_KINDS: Final = {
    "account": N_("Account"),
    "contact": N_("Contact"),
    "lead": N_("Lead"),
    "opportunity": N_("Opportunity"),
    "systemuser": N_("CRM user"),
    "team": N_("Team"),
    "connection": N_("Connection"),
}
"""One record of each table of ``CRM_TABLE_NAMES``: what a record is (message ids), by its table's logical name."""


def crm_table(table: str, locale: str, *, plural: bool = True) -> str:
    """The CRM table ``table`` (a logical name, such as "lead") in ``locale``: by its name ("Leads", "Clientes
    potenciales"), or with ``plural`` False by what one of its records is ("Lead", "Cliente potencial", a record's
    type); a table not named here, as it is. The one map of the console, the API and the CLI."""
    names = CRM_TABLE_NAMES if plural else CRM_RECORD_KINDS
    return translate(names[table], locale) if table in names else table


def table_import_json(table: TableCheckpoint, locale: str) -> dict[str, Any]:
    """One table's import as JSON (the sync status's and Sync health's), with the table by its name in ``locale``
    (``table_label``: "Contacts", "Clientes potenciales"), as CRM Settings and Sync health name it."""
    shown = table_json(table)
    return {"table": shown.pop("table"), "table_label": crm_table(table.table_name, locale), **shown}


def sync_status_json(status: SyncStatus, locale: str) -> dict[str, Any]:
    """``status`` as JSON, with the failure in words (``failure_message``) and each table's name
    (``table_label``) in ``locale``."""
    message = sync_failure_message(status.failing_since, status.failure_reason, locale)
    body: dict[str, Any] = {}
    for key, value in status.to_json().items():
        body[key] = value
        if key == "failure_reason":
            body["failure_message"] = message  # where the JSON has always had it
        if key == "throttled_until":
            body["throttled_message"] = sync_throttled_message(status.throttled_until, locale)
    body["tables"] = [table_import_json(table, locale) for table in status.tables]
    return body


def line_problem_text(problem: LineProblem, locale: str) -> str:
    """A CSV line's problem (or a warning on its header) in ``locale`` as the CLI and the console show it, such as
    "Line 4: The line has no id."."""
    reason = translate(problem.message, locale).format(**problem.fields)
    return translate(LINE_PROBLEM, locale).format(line=problem.line, reason=reason)


# Why matching tied a CRM record to a person or company: each FieldReason of the engine's decision as a short line
# for a seller ("Name: nickname (Bob / Robert)"). Fields, levels and details are the engine's codes (see
# salesbridge.matching.FieldReason); an unknown code reads as its level, an unknown field as its code.
_REASON_FIELDS: Final = {
    "profile_url": N_("Profile URL"),
    "email": N_("Email"),
    "name": N_("Name"),
    "company": N_("Company"),
    "domain": N_("Website domain"),
    "title": N_("Title"),
    "place": N_("Place"),
    "phone": N_("Phone"),
    "street": N_("Street"),
    "birth_date": N_("Date of birth"),
    "industry": N_("Industry"),
    "size": N_("Company size"),
    "people": N_("Shared people"),
}
_REASON_LEVELS: Final = {
    "exact": N_("same"),
    "equivalent": N_("equivalent"),
    "similar": N_("similar"),
    "different": N_("different"),
    "missing": N_("missing on one side"),
}
_REASON_DETAILS: Final = {
    "nickname": N_("nickname"),
    "initial": N_("initial"),
    "swapped": N_("first and last name swapped"),
    "accents": N_("accents differ"),
    "transliteration": N_("other alphabet"),
    "legal_form": N_("legal form differs"),
    "typo": N_("typing error"),
    "past_company": N_("a past company"),
    "same_account": N_("same CRM account"),
    "shared": N_("shared by several people"),
}
_REASON_LINE: Final = N_("{field}: {how}")


class ComparedValues(Protocol):
    """One field's part in a match decision: the engine's ``FieldReason``, or the service's ``ComparedField``."""

    @property
    def field(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def left(self) -> str | None: ...
    @property
    def right(self) -> str | None: ...


_REASON_LINE_WITH_VALUES: Final = N_("{field}: {how} ({left} / {right})")


def _shared_people_text(field_text: str, shared: str, known: str, locale: str) -> str:
    """ "Shared people: 3 of its contacts work here (4 with a known employer)": the engine's ``left`` is how many of
    the account's tied people work at the company, ``right`` how many of them have a known employer."""
    try:
        count, of = int(shared), int(known)
    except ValueError:
        return translate(_REASON_LINE, locale).format(field=field_text, how=f"{shared} / {known}")
    if count == 0:
        how = translate(_NONE_WORK_HERE, locale).format(known=count_text(of, locale))
    else:
        how = ngettext(
            "{count} of its contacts works here ({known} with a known employer)",
            "{count} of its contacts work here ({known} with a known employer)",
            count,
            locale,
        ).format(count=count_text(count, locale), known=count_text(of, locale))
    return translate(_REASON_LINE, locale).format(field=field_text, how=how)


_NONE_WORK_HERE: Final = N_("none of its contacts works here ({known} with a known employer)")


def match_reason_text(reason: ComparedValues, locale: str) -> str:
    """One field's part in a match decision as a seller reads it in ``locale``: ``Email: same``, ``Name: nickname
    (Bob / Robert)``, ``Company: legal form differs (Contoso Ltd. / CONTOSO)``. The compared values are shown when
    both sides have one and they are not the same."""
    field = _REASON_FIELDS.get(reason.field)
    field_text = translate(field, locale) if field else reason.field
    if reason.field == "people" and reason.left is not None and reason.right is not None:
        return _shared_people_text(field_text, reason.left, reason.right, locale)
    detail = _REASON_DETAILS.get(reason.detail or "")
    level = _REASON_LEVELS.get(reason.level)
    how = translate(detail, locale) if detail else translate(level, locale) if level else reason.level
    if reason.left and reason.right and reason.level != "exact" and reason.left != reason.right:
        return translate(_REASON_LINE_WITH_VALUES, locale).format(
            field=field_text, how=how, left=reason.left, right=reason.right
        )
    return translate(_REASON_LINE, locale).format(field=field_text, how=how)
