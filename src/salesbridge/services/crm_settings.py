"""The organization's CRM settings: where an opportunity enters the pipeline, where a won opportunity's value lives,
auto-save, the import interval, and the column of each of contact, lead and account that holds a LinkedIn profile
URL (custom field mapping: matching compares profile URLs first).

Choices are validated against the CRM: the stage threshold must be an option of the chosen choice column (or a
step name found in the imported opportunities), the won-value column a money column of opportunity, a profile-URL
column a text (``String``) column of its table. When the organization is not connected (or the CRM cannot be
reached, or does not answer within the caller's wait) the standard Dynamics 365 choices are offered and checked
instead, and the choices say why; a profile-URL column can then only be cleared (Dynamics 365 has no standard one,
and a custom column cannot be checked without the CRM). Mapping a different profile-URL column makes the next
import read that table whole again, so records imported before carry the column too.

Nothing here is in a language: each choice's label is a :class:`~salesbridge.message_ids.Label`, either a message
id (the standard Dynamics 365 labels, which the CRM's own labels are when they are the same words) or the CRM's own
label as it came, and the edges (console, API, CLI) translate. An administrator may type a stage by its label as
they read it: the edge passes how its user reads a label (``reads``), so the use case matches the typed text
against exactly what that user was shown, and its refusal (:class:`StageNotOfferedError`) carries the offered
labels for the edge to translate. Every change is audited; a change of the pipeline (or turning auto-save on)
recomputes the lists. The settings themselves come back as values and message ids (the stage source's name, the
threshold's label).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from salesbridge.crm.ports import ColumnInfo, CrmMetadata
from salesbridge.domain.pipeline import (
    PROCESS_STEP,
    PROFILE_URL_TABLES,
    STAGE_SOURCES,
    CrmSettings,
    StageSource,
    won_value_columns,
)
from salesbridge.domain.workspace import ConnectionState, CrmCredentials
from salesbridge.errors import CrmError, InvalidRequestError, StageNotOfferedError
from salesbridge.message_ids import N_, Label
from salesbridge.services.connecting import stored_credentials
from salesbridge.services.lists import ListRecompute, recompute_in
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import CrmSessionFactory, StoreAccess, UnitOfWork

MIN_SYNC_INTERVAL: Final = 5
MAX_SYNC_INTERVAL: Final = 1440

STAGE_SOURCE_LABELS: Final = {
    StageSource.SALES_STAGE: N_("Sales stage"),
    StageSource.PROCESS_CODE: N_("Process code"),
    StageSource.PROCESS_STEP: N_("Business process step"),
}

# The standard Dynamics 365 choices and money columns, their labels message ids (shown in the reader's language).
_STANDARD_STAGES: Final = {
    StageSource.SALES_STAGE: ((0, N_("Qualify")), (1, N_("Develop")), (2, N_("Propose")), (3, N_("Close"))),
    StageSource.PROCESS_CODE: ((1, N_("Default Value")),),
}
_STANDARD_MONEY_COLUMNS: Final = (
    ("actualvalue", N_("Actual Revenue")),
    ("estimatedvalue", N_("Est. Revenue")),
    ("budgetamount", N_("Budget Amount")),
)
_STANDARD_LABELS: Final = frozenset(
    [label for options in _STANDARD_STAGES.values() for _, label in options]
    + [label for _, label in _STANDARD_MONEY_COLUMNS]
)

LabelReader = Callable[[Label], str]
"""How the caller's user reads a label (the edge's translation of message ids into the user's language)."""


def as_written(label: Label) -> str:
    """A label as written: the English message id, or the CRM's own text (the default :data:`LabelReader`)."""
    return label.text


@dataclass(frozen=True)
class Choice:
    """One offered value: ``value`` is what is stored, ``label`` what is shown (a message id or the CRM's own
    label, see :class:`~salesbridge.message_ids.Label`)."""

    value: str
    label: Label


class CrmReadProblem(StrEnum):
    """Why a connected organization is offered the standard choices instead of its CRM's own."""

    SLOW = "slow"
    """Dynamics did not answer within the caller's wait."""
    FAILED = "failed"
    """Dynamics answered with an error, or could not be reached."""


@dataclass(frozen=True)
class SettingsChoices:
    """What the settings may be set to.

    Attributes:
        stages: The thresholds offered for each stage source.
        money_columns: The opportunity money columns (base-currency twins left out: the switch picks those).
        from_crm: The choices were read from the connected CRM (else they are the standard ones).
        problem: Why the connected CRM's own choices could not be read (None when they were, or when the
            organization is not connected).
        text_columns: The text columns of contact, lead and account, one of which may be mapped as holding a
            profile URL (empty unless read from the CRM).
    """

    stages: dict[StageSource, tuple[Choice, ...]]
    money_columns: tuple[Choice, ...]
    from_crm: bool
    problem: CrmReadProblem | None = None
    text_columns: dict[str, tuple[Choice, ...]] = field(default_factory=dict)

    def stage_label(self, source: StageSource, threshold: str | None) -> Label | None:
        """The label of ``threshold`` among the choices of ``source``, else the threshold itself (as it is)."""
        if threshold is None:
            return None
        return next((choice.label for choice in self.stages[source] if choice.value == threshold), Label(threshold))


@dataclass(frozen=True)
class CrmSettingsView:
    """The organization's CRM settings.

    Attributes:
        stage_threshold: The first stage inside the pipeline (an option value as text, or a step name); None means
            every open opportunity.
        stage_label: The threshold's label, when choices were given (a message id or the CRM's own label: the
            edges translate it).
        is_saved: False while the defaults are in force.
        profile_url_columns: The column each of contact, lead and account keeps a LinkedIn profile URL in (tables
            with one mapped).
    """

    stage_source: StageSource
    stage_threshold: str | None
    won_value_column: str
    won_value_base_currency: bool
    auto_save_enabled: bool
    sync_interval_minutes: int
    is_saved: bool
    updated_at: datetime | None
    stage_label: Label | None = None
    profile_url_columns: dict[str, str] = field(default_factory=dict)

    @property
    def stage_source_label(self) -> str:
        """The stage source's name (an English message id, to translate where shown)."""
        return STAGE_SOURCE_LABELS[self.stage_source]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (``stage_source_label`` a message id, ``stage_label`` a message id or the CRM's
        own label: the caller translates them, see ``salesbridge.web.localized.settings_json``)."""
        return {
            "stage_source": self.stage_source.value,
            "stage_source_label": self.stage_source_label,
            "stage_threshold": self.stage_threshold,
            "stage_label": self.stage_label.text if self.stage_label else None,
            "won_value_column": self.won_value_column,
            "won_value_base_currency": self.won_value_base_currency,
            "auto_save_enabled": self.auto_save_enabled,
            "sync_interval_minutes": self.sync_interval_minutes,
            "profile_url_columns": {table: self.profile_url_columns.get(table) for table in PROFILE_URL_TABLES},
            "is_saved": self.is_saved,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass(frozen=True)
class SettingsChange:
    """What to change; None leaves a setting as it is. ``clear_stage`` removes the threshold (every open
    opportunity is in the pipeline). ``profile_url_columns`` maps a table (contact, lead, account) to the column
    holding its profile URL, an empty text clearing it; tables left out stay as they are."""

    stage_source: str | None = None
    stage_threshold: str | None = None
    clear_stage: bool = False
    won_value_column: str | None = None
    won_value_base_currency: bool | None = None
    auto_save_enabled: bool | None = None
    sync_interval_minutes: int | None = None
    profile_url_columns: Mapping[str, str] | None = None


@dataclass(frozen=True)
class SettingsSaved:
    """The settings after a save, and what the lists recompute changed (None when the lists were not touched)."""

    settings: CrmSettingsView
    lists: ListRecompute | None


def _view(settings: CrmSettings, *, choices: SettingsChoices | None = None) -> CrmSettingsView:
    return CrmSettingsView(
        stage_source=settings.stage_source,
        stage_threshold=settings.stage_threshold,
        won_value_column=settings.won_value_column,
        won_value_base_currency=settings.won_value_base_currency,
        auto_save_enabled=settings.auto_save_enabled,
        sync_interval_minutes=settings.sync_interval_minutes,
        is_saved=settings.is_saved,
        updated_at=settings.updated_at,
        stage_label=choices.stage_label(settings.stage_source, settings.stage_threshold) if choices else None,
        profile_url_columns=settings.profile_url_columns,
    )


def won_value_columns_to_import(settings: CrmSettingsView | CrmSettings) -> tuple[str, ...]:
    """The opportunity columns the import must read for the won value (``<column>``, plus ``<column>_base`` with
    the base currency). Pass them to ``import_specs(extra_columns={"opportunity": …})``."""
    base = settings.won_value_base_currency
    return won_value_columns(settings.won_value_column, base)


def _crm_label(label: str | None, fallback: str) -> Label:
    """The CRM's own label (``fallback`` when it has none): a message id when it is one of the standard labels, so
    that it is shown in the reader's language like the standard choices; else as it came."""
    text = label or fallback
    return Label(text, is_message_id=text in _STANDARD_LABELS)


def _step_choices(step_names: tuple[str, ...]) -> tuple[Choice, ...]:
    return tuple(Choice(name, Label(name)) for name in step_names)


def standard_choices(step_names: tuple[str, ...]) -> SettingsChoices:
    """The standard Dynamics 365 choices (offered when the CRM cannot be asked), their labels message ids."""
    stages = {
        source: tuple(Choice(str(value), Label(label, is_message_id=True)) for value, label in options)
        for source, options in _STANDARD_STAGES.items()
    }
    stages[StageSource.PROCESS_STEP] = _step_choices(step_names)
    money = tuple(Choice(name, Label(label, is_message_id=True)) for name, label in _STANDARD_MONEY_COLUMNS)
    return SettingsChoices(stages=stages, money_columns=money, from_crm=False)


async def crm_choices(metadata: CrmMetadata, step_names: tuple[str, ...]) -> SettingsChoices:
    """The choices read from the CRM: the options of ``salesstage`` and ``salesstagecode``, the money columns
    of opportunity and the text columns of contact, lead and account, labelled with the CRM's own labels (message
    ids when they are the standard ones).

    Raises:
        CrmError: the CRM could not be read.
    """
    stages: dict[StageSource, tuple[Choice, ...]] = {}
    columns = await metadata.columns("opportunity")
    names = {column.logical_name for column in columns}
    for source in (StageSource.SALES_STAGE, StageSource.PROCESS_CODE):
        if source.value not in names:
            stages[source] = ()
            continue
        options = await metadata.options("opportunity", source.value)
        stages[source] = tuple(
            Choice(str(option.value), _crm_label(option.label, str(option.value))) for option in options
        )
    stages[StageSource.PROCESS_STEP] = _step_choices(step_names)
    money = tuple(
        Choice(column.logical_name, _crm_label(column.display_name, column.logical_name))
        for column in sorted(columns, key=lambda column: column.logical_name)
        if column.type.lower() == "money" and not column.logical_name.endswith("_base")
    )
    # The three tables' columns are asked at once: the page waits for the slowest, not their sum.
    tables_columns = await asyncio.gather(*(metadata.columns(table) for table in PROFILE_URL_TABLES))
    text_columns = {
        table: _text_columns(table_columns)
        for table, table_columns in zip(PROFILE_URL_TABLES, tables_columns, strict=True)
    }
    return SettingsChoices(stages=stages, money_columns=money, from_crm=True, text_columns=text_columns)


def _text_columns(columns: list[ColumnInfo]) -> tuple[Choice, ...]:
    """The single-line text columns, by logical name (a profile URL fits in one; lookups and memos do not)."""
    return tuple(
        Choice(column.logical_name, _crm_label(column.display_name, column.logical_name))
        for column in sorted(columns, key=lambda column: column.logical_name)
        if column.type.lower() == "string" and not column.is_lookup
    )


def _checked(
    current: CrmSettings, change: SettingsChange, choices: SettingsChoices, reads: LabelReader
) -> dict[str, Any]:
    """The settings after ``change``, validated against ``choices`` (a stage typed by its label as ``reads``).

    Raises:
        InvalidRequestError: a value is not allowed; the message says which values are.
    """
    source = current.stage_source
    if change.stage_source is not None:
        if change.stage_source not in STAGE_SOURCES:
            raise InvalidRequestError(
                N_("The stage source must be one of: {allowed}."), allowed=", ".join(STAGE_SOURCES)
            )
        source = StageSource(change.stage_source)
    threshold = current.stage_threshold
    if change.clear_stage:
        threshold = None
    elif change.stage_threshold is not None:
        threshold = _checked_stage(source, change.stage_threshold, choices, reads)
    elif source is not current.stage_source:
        threshold = None  # a threshold of another source means nothing here
    column = current.won_value_column
    if change.won_value_column is not None:
        allowed = {choice.value for choice in choices.money_columns}
        column = change.won_value_column.strip().lower()
        if column not in allowed:
            raise InvalidRequestError(
                N_("{column} is not a money column of opportunity. Choose one of: {allowed}."),
                column=change.won_value_column,
                allowed=", ".join(sorted(allowed)),
            )
    interval = current.sync_interval_minutes
    if change.sync_interval_minutes is not None:
        if not MIN_SYNC_INTERVAL <= change.sync_interval_minutes <= MAX_SYNC_INTERVAL:
            raise InvalidRequestError(
                N_("The sync interval must be between {low} and {high} minutes."),
                low=MIN_SYNC_INTERVAL,
                high=MAX_SYNC_INTERVAL,
            )
        interval = change.sync_interval_minutes
    return {
        "stage_source": source,
        "stage_threshold": threshold,
        "won_value_column": column,
        "won_value_base_currency": (
            current.won_value_base_currency
            if change.won_value_base_currency is None
            else change.won_value_base_currency
        ),
        "auto_save_enabled": current.auto_save_enabled
        if change.auto_save_enabled is None
        else change.auto_save_enabled,
        "sync_interval_minutes": interval,
        "profile_url_columns": _checked_profile_url_columns(current, change, choices),
    }


def _checked_profile_url_columns(
    current: CrmSettings, change: SettingsChange, choices: SettingsChoices
) -> dict[str, str]:
    """The mapped profile-URL columns after ``change``, each a text column of its table among ``choices``.

    Raises:
        InvalidRequestError: a table is not one of contact, lead and account, or a column is not a text column of
            its table (or the CRM's columns could not be read, so none can be checked).
    """
    mapped = dict(current.profile_url_columns)
    for table, wanted in (change.profile_url_columns or {}).items():
        if table not in PROFILE_URL_TABLES:
            raise InvalidRequestError(
                N_("A profile URL column is mapped for contact, lead or account, not {table}."), table=table
            )
        column = wanted.strip().lower()
        if not column:
            mapped.pop(table, None)
            continue
        if column == mapped.get(table):
            continue  # kept as it is: nothing to check, even when the CRM cannot be asked
        offered = {choice.value for choice in choices.text_columns.get(table, ())}
        if not offered:
            raise InvalidRequestError(
                N_(
                    "The columns of {table} could not be read from your CRM, so {column} cannot be checked. "
                    "Connect to the CRM (or try again when it answers) to choose the column holding a LinkedIn "
                    "profile URL."
                ),
                table=table,
                column=wanted,
            )
        if column not in offered:
            raise InvalidRequestError(
                N_("{column} is not a text column of {table} in your CRM. Choose one of: {allowed}."),
                column=wanted,
                table=table,
                allowed=", ".join(sorted(offered)),
            )
        mapped[table] = column
    return {table: mapped[table] for table in PROFILE_URL_TABLES if table in mapped}


def _checked_stage(source: StageSource, wanted: str, choices: SettingsChoices, reads: LabelReader) -> str:
    offered = choices.stages[source]
    text = wanted.strip()
    if not text:
        raise InvalidRequestError(N_("Choose the stage at which an opportunity enters your pipeline."))
    for choice in offered:
        if text == choice.value or text.casefold() == reads(choice.label).casefold():
            return choice.value
    if source.value == PROCESS_STEP and not offered:
        return text  # no opportunity imported yet: any step name may be chosen
    raise StageNotOfferedError(wanted, source.value, tuple((choice.label, choice.value) for choice in offered))


_AUDITED: Final = (
    "stage_source",
    "stage_threshold",
    "won_value_column",
    "won_value_base_currency",
    "auto_save_enabled",
    "sync_interval_minutes",
    "profile_url_columns",
)


class CrmSettingsService:
    """Reads and saves organizations' CRM settings.

    Args:
        store: Units of work and organization lookups.
        sessions: Opens CRM sessions (to read option labels and money columns).
    """

    def __init__(self, store: StoreAccess, sessions: CrmSessionFactory) -> None:
        self._store = store
        self._sessions = sessions

    def settings(self, slug: str, *, choices: SettingsChoices | None = None) -> CrmSettingsView:
        """The settings of ``slug`` (the defaults until saved); the threshold labelled from ``choices`` if given.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
        """
        with self._store(require_organization(self._store, slug), read_only=True) as uow:
            return _view(uow.crm_settings.get(), choices=choices)

    async def choices(self, slug: str, *, wait_s: float | None = None) -> SettingsChoices:
        """What the settings may be set to: read from the connected CRM, else the standard choices — when not
        connected, when the CRM cannot be reached (``problem`` FAILED), or when it has not answered within
        ``wait_s`` seconds (``problem`` SLOW; None waits as long as the connector does). Step names come from
        the imported opportunities. The store is read on a worker thread, never on the event loop.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
        """
        step_names, credentials = await asyncio.to_thread(self._choice_inputs, slug)
        if credentials is None:
            return standard_choices(step_names)
        try:
            async with asyncio.timeout(wait_s):
                return await self._crm_choices(credentials, step_names)
        except TimeoutError:
            return replace(standard_choices(step_names), problem=CrmReadProblem.SLOW)
        except CrmError:
            return replace(standard_choices(step_names), problem=CrmReadProblem.FAILED)

    def _choice_inputs(self, slug: str) -> tuple[tuple[str, ...], CrmCredentials | None]:
        """The imported step names, and the stored credentials while connected (else None)."""
        with self._store(require_organization(self._store, slug), read_only=True) as uow:
            step_names = tuple(uow.crm_record_queries.distinct_step_names())
            connection = uow.crm_connection.find()
            credentials = (
                stored_credentials(uow)
                if connection is not None and connection.state is ConnectionState.CONNECTED
                else None
            )
        return step_names, credentials

    async def _crm_choices(self, credentials: CrmCredentials, step_names: tuple[str, ...]) -> SettingsChoices:
        session = self._sessions(credentials)
        try:
            return await crm_choices(session.metadata, step_names)
        finally:
            await session.close()

    async def update(
        self,
        slug: str,
        change: SettingsChange,
        *,
        actor: str,
        reads: LabelReader = as_written,
        wait_s: float | None = None,
    ) -> SettingsSaved:
        """Validate and save ``change``; audited (``crm.settings_changed`` with each changed setting's old and new
        value). When the stage source, the threshold or auto-save changed, the lists are recomputed in the same
        transaction. Idempotent: saving the same values changes nothing and records nothing. The choices are
        read as :meth:`choices` does (waiting at most ``wait_s`` for the CRM); the save runs on a worker thread.
        The stage may be given by its value or by its label as the caller's user reads it (``reads``: the edge's
        translation; by default as written, in English).

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
            StageNotOfferedError: the stage is not offered for its source (nothing was saved).
            InvalidRequestError: another value is not allowed (nothing was saved).
        """
        choices = await self.choices(slug, wait_s=wait_s)
        return await asyncio.to_thread(self.apply, slug, change, choices, actor=actor, reads=reads)

    def apply(
        self,
        slug: str,
        change: SettingsChange,
        choices: SettingsChoices,
        *,
        actor: str,
        reads: LabelReader = as_written,
    ) -> SettingsSaved:
        """Validate ``change`` against ``choices`` (a stage typed by its label as ``reads``) and save it (see
        :meth:`update`).

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
            InvalidRequestError: a value is not allowed (nothing was saved).
        """
        with self._store(require_organization(self._store, slug)) as uow:
            current = uow.crm_settings.get()
            values = _checked(current, change, choices, reads)
            before = {name: getattr(current, name) for name in _AUDITED}
            changed = {
                name: {"from": _plain(before[name]), "to": _plain(values[name])}
                for name in _AUDITED
                if before[name] != values[name]
            }
            if not changed and current.is_saved:
                return SettingsSaved(settings=_view(current, choices=choices), lists=None)
            saved = uow.crm_settings.save(**values)
            uow.audit.record(actor=actor, action="crm.settings_changed", details=changed)
            remapped = current.profile_url_columns.items() ^ values["profile_url_columns"].items()
            _read_again(uow, {table for table, _column in remapped if values["profile_url_columns"].get(table)})
            pipeline_changed = {"stage_source", "stage_threshold", "auto_save_enabled"} & changed.keys()
            lists = recompute_in(uow) if pipeline_changed else None
            uow.commit()
            return SettingsSaved(settings=_view(saved, choices=choices), lists=lists)


def _read_again(uow: UnitOfWork, tables: set[str]) -> None:
    """Make the next import read ``tables`` whole (a newly mapped column reaches the records imported before): their
    checkpoints forget where change tracking or the modifiedon cursor stood. A read in progress starts over."""
    for checkpoint in uow.sync_states.all():
        if checkpoint.table_name in tables:
            uow.sync_states.save(
                replace(checkpoint, delta_token=None, resume_link=None, cursor_modified_on=None, cursor_ids=())
            )


def _plain(value: object) -> object:
    return value.value if isinstance(value, StageSource) else value


def with_stage_label(view: CrmSettingsView, choices: SettingsChoices) -> CrmSettingsView:
    """``view`` with its threshold labelled from ``choices``."""
    return replace(view, stage_label=choices.stage_label(view.stage_source, view.stage_threshold))
