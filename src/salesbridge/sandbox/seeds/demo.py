"""``--seed demo``: a small international sales organization (business units, sellers, teams, accounts, contacts,
leads, opportunities in every stage, stakeholder connections and two years of past activities with their
activity parties and ``activitypointer`` rows), written one row at a time."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta
from typing import Any

from salesbridge.sandbox.catalogue.builders import string
from salesbridge.sandbox.odata.values import format_timestamp
from salesbridge.sandbox.organization.foundation import (
    build_foundation,
)
from salesbridge.sandbox.organization.saved_definitions import save_definitions
from salesbridge.sandbox.organization.state import SandboxState
from salesbridge.sandbox.seeds.demo_sales import PROFILE_URL_COLUMN, DemoSales
from salesbridge.sandbox.seeds.demo_writer import DEMO_CALLS, DEMO_EMAILS, DEMO_NOTES, DEMO_TASKS, Principal
from salesbridge.sandbox.seeds.ledger import SeedSummary, already_applied, remember
from salesbridge.sandbox.seeds.vocabulary import (
    ACT_CANCELED,
    ACT_COMPLETED,
    ACT_OPEN,
    CALL_SUBJECTS,
    CC,
    EMAIL_SUBJECTS,
    NOTE_SUBJECTS,
    NOTE_TEXTS,
    SENDER,
    TASK_SUBJECTS,
    TO,
    USER_DOMAIN,
    defaults,
    in_language,
)


class DemoBuilder(DemoSales):
    """The whole demo organization: :class:`DemoSales` plus two years of activities and notes."""

    def build(self) -> None:
        self.business_units()
        self.staff()
        self.teams()
        self.connection_roles()
        self.plan_accounts()
        self.plan_contacts()
        self.plan_leads()
        self.plan_opportunities()
        for table, rows in (
            ("account", self.accounts),
            ("contact", self.contacts),
            ("lead", self.leads),
            ("opportunity", self.opportunities),
        ):
            for row in rows:
                self.put(table, {k: v for k, v in row.items() if not k.startswith("_")})
        self.connections()
        self.activities()
        self.notes()

    def regarding(self) -> tuple[str, dict[str, Any], dict[str, Any] | None, Principal, str]:
        """A record to file an activity under: (table, row, counterpart contact or lead, owner, language)."""
        roll = self.rng.random()
        if roll < 0.45:
            row = self.rng.choice(self.opportunities)
            return "opportunity", row, row["_contact"], row["_owner"], row["_lang"]
        if roll < 0.75:
            row = self.rng.choice(self.accounts)
            primary = next(c for c in self.contacts_of[row["accountid"]] if c["contactid"] == row["primarycontactid"])
            return "account", row, primary, row["_owner"], row["_lang"]
        if roll < 0.93:
            row = self.rng.choice(self.contacts)
            return "contact", row, row, row["_owner"], row["_account"]["_lang"]
        row = self.rng.choice(self.leads)
        return "lead", row, row, row["_owner"], row["_lang"]

    def activities(self) -> None:
        kinds = ["task"] * DEMO_TASKS + ["phonecall"] * DEMO_CALLS + ["email"] * DEMO_EMAILS
        self.rng.shuffle(kinds)
        for kind in kinds:
            if self.has(kind):
                self.activity(kind)

    def activity(self, kind: str) -> None:
        rng = self.rng
        table, record, counterpart, owner, lang = self.regarding()
        user = self.acting_user(owner)
        if user is self.disabled:
            user = self.owner_for(user.americas)
        roll = rng.random()
        state = ACT_COMPLETED if roll < 0.78 else ACT_CANCELED if roll < 0.84 else ACT_OPEN
        earliest: datetime = record["_created"]
        if state == ACT_OPEN:  # open work is recent
            earliest = max(earliest, self.now - timedelta(days=30))
        created = self.between(earliest, self.now - timedelta(hours=2))
        values: dict[str, Any] = {
            "activityid": self.new_id(),
            "regardingobjectid": record[f"{table}id"],
            "regardingobjectid__type": table,
            "prioritycode": rng.choice((0, 1, 1, 1, 2)),
            "statecode": state,
            **self.owned(user),
        }
        duration = rng.choice((5, 10, 15, 30, 45, 60))
        done = self.between(created, min(self.now, created + timedelta(days=14)))
        if state == ACT_OPEN:
            due = self.now + timedelta(days=rng.randint(-5, 20), hours=rng.randint(1, 8))
        else:
            due = min(done + timedelta(hours=rng.randint(0, 48)), self.now)
        values["scheduledstart"] = format_timestamp(due - timedelta(minutes=duration))
        values["scheduledend"] = format_timestamp(due)
        values["scheduleddurationminutes"] = duration
        if state != ACT_OPEN:
            values["actualstart"] = format_timestamp(done - timedelta(minutes=duration))
            values["actualend"] = format_timestamp(done)
            values["actualdurationminutes"] = duration
            modified = done
        else:
            modified = self.modified_after(created, until=self.now)
        values.update(self.stamps(created, modified))
        contact_name = counterpart["fullname"] if counterpart else ""
        if kind == "task":
            values["subject"] = in_language(lang, rng.choice(TASK_SUBJECTS))
            values["description"] = in_language(lang, rng.choice(NOTE_TEXTS))
            values["statuscode"] = {ACT_COMPLETED: 5, ACT_CANCELED: 6}.get(state) or rng.choice((2, 3, 4, 7))
            values["percentcomplete"] = 100 if state == ACT_COMPLETED else rng.choice((0, 25, 50))
            self.put_activity("task", values)
            return
        outgoing = rng.random() < 0.7
        values["directioncode"] = 1 if outgoing else 0
        parties: list[tuple[int, str, str, str, str | None]] = []  # mask, id, type, name, address
        if counterpart is not None:
            other_table = "lead" if "leadid" in counterpart else "contact"
            other = (
                counterpart[f"{other_table}id"],
                other_table,
                counterpart["fullname"],
                counterpart.get("emailaddress1"),
            )
        me = (user.id, "systemuser", user.name, user.email)
        sender, receiver = (me, other) if outgoing else (other, me)
        if kind == "phonecall":
            values["subject"] = f"{in_language(lang, rng.choice(CALL_SUBJECTS))} - {contact_name}"
            values["description"] = in_language(lang, rng.choice(NOTE_TEXTS))
            values["phonenumber"] = counterpart.get("telephone1") if counterpart else None
            values["statuscode"] = {ACT_COMPLETED: 2 if outgoing else 4, ACT_CANCELED: 3}.get(state, 1)
            values["leftvoicemail"] = 1 if state == ACT_COMPLETED and rng.random() < 0.15 else 0
            parties = [(SENDER, *sender[:3], None), (TO, *receiver[:3], None)]
        else:
            subject = in_language(lang, rng.choice(EMAIL_SUBJECTS))
            body = in_language(lang, rng.choice(NOTE_TEXTS))
            values["subject"] = subject
            values["description"] = f"<p>{body}</p>"
            values["statuscode"] = {ACT_COMPLETED: 3 if outgoing else 4, ACT_CANCELED: 5}.get(state, 1)
            values["sender"] = sender[3]
            values["torecipients"] = f"{receiver[3]};"
            values["messageid"] = f"<{self.new_id()}@{USER_DOMAIN if outgoing else 'mail.example'}>"
            if state == ACT_COMPLETED:
                values["senton"] = values["actualend"]
            parties = [(SENDER, *sender), (TO, *receiver)]
            if table == "opportunity" and rng.random() < 0.3:
                colleague = self.owner_for(user.americas)
                if colleague.id != user.id:
                    parties.append((CC, colleague.id, "systemuser", colleague.name, colleague.email))
        row = self.put_activity(kind, values)
        if not self.has("activityparty"):
            return
        for mask, party_id, party_type, party_name, address in parties:
            self.put(
                "activityparty",
                {
                    "activitypartyid": self.new_id(),
                    "activityid": row["activityid"],
                    "activityid__type": kind,
                    "partyid": party_id,
                    "partyid__type": party_type,
                    "partyidname": party_name,
                    "participationtypemask": mask,
                    "addressused": address,
                    "ispartydeleted": 0,
                    "scheduledstart": row.get("scheduledstart"),
                    "scheduledend": row.get("scheduledend"),
                },
            )

    def put_activity(self, kind: str, values: dict[str, Any]) -> dict[str, Any]:
        """Insert a concrete activity and its activitypointer twin (same id, the shared columns copied)."""
        row = self.put(kind, values)
        if self.has("activitypointer"):
            pointer_columns = self.columns("activitypointer")
            mirror = {k: v for k, v in row.items() if k in pointer_columns}
            mirror["activitytypecode"] = kind
            if "activitypointer" not in self._defaults:
                self._defaults["activitypointer"] = defaults(self.state, "activitypointer")
            for name, value in self._defaults["activitypointer"].items():
                mirror.setdefault(name, value)
            self.state.storage.insert("activitypointer", mirror)
            self.counts["activitypointer"] += 1
        return row

    def notes(self) -> None:
        if not self.has("annotation"):
            return
        rng = self.rng
        for index in range(DEMO_NOTES):
            table, record, _, owner, lang = self.regarding()
            user = self.acting_user(owner)
            if user is self.disabled:
                user = self.owner_for(user.americas)
            created = self.between(record["_created"], self.now - timedelta(hours=1))
            text = in_language(lang, rng.choice(NOTE_TEXTS))
            values: dict[str, Any] = {
                "annotationid": self.new_id(),
                "subject": in_language(lang, rng.choice(NOTE_SUBJECTS)),
                "notetext": text,
                "objectid": record[f"{table}id"],
                "objectid__type": table,
                "objecttypecode": table,
                "isdocument": 0,
                **self.owned(user),
                **self.stamps(created, self.modified_after(created)),
            }
            if index % 8 == 3:  # a few carry a small attachment
                content = f"{values['subject']}\n\n{text}\n".encode()
                values.update(
                    {
                        "isdocument": 1,
                        "filename": "acta-reunion.txt" if lang == "es" else "meeting-minutes.txt",
                        "mimetype": "text/plain",
                        "documentbody": base64.b64encode(content).decode("ascii"),
                        "filesize": len(content),
                    }
                )
            self.put("annotation", values)


def add_profile_url_columns(state: SandboxState) -> None:
    """Give contact, lead and account the demo organization's custom text column :data:`PROFILE_URL_COLUMN` (as an
    administrator would through the metadata API), kept with the definitions of a sandbox on a file so it survives
    a restart. Idempotent; a table missing from the catalogue is skipped."""
    changed = False
    for table in ("contact", "lead", "account"):
        entity = state.catalogue.find_entity(table)
        if entity is None or entity.attribute(PROFILE_URL_COLUMN) is not None:
            continue
        entity.add(string(PROFILE_URL_COLUMN, "LinkedIn profile", 200, schema_name="new_LinkedInUrl", is_custom=True))
        state.storage.ensure_table(entity)
        changed = True
    if changed and state.definition_baseline is not None and state.storage.path not in (None, "", ":memory:"):
        save_definitions(state.storage, state.catalogue, state.definition_baseline)


def seed_demo(state: SandboxState, *, seed: int = 7) -> SeedSummary:
    """Seed the demo sales organization (after the foundation, which is built if missing). Idempotent.

    Writes 2 child business units, 13 active sellers and managers, 1 disabled user and 1 application
    user, 2 teams, 60 accounts, 200 contacts, 50 leads, 80 opportunities, stakeholder connections and
    150 past activities and notes, in one transaction; contact, lead and account get the custom text column
    ``new_linkedinurl`` (a LinkedIn profile URL, filled for about half of them). Every human user holds
    Salesperson; the sales director also holds System Administrator.

    Returns:
        The rows written per table; ``already_seeded=True`` (and nothing written) when this seed was
        applied before.
    """
    started = time.perf_counter()
    build_foundation(state)
    token = f"demo:{seed}"
    if already_applied(state, token):
        return SeedSummary(kind="demo", already_seeded=True, elapsed_seconds=time.perf_counter() - started)
    storage = state.storage
    with storage.transaction():
        add_profile_url_columns(state)
        builder = DemoBuilder(state, seed)
        builder.build()
        remember(state, token)
    counts = dict(sorted(builder.counts.items()))
    return SeedSummary(kind="demo", counts=counts, elapsed_seconds=time.perf_counter() - started)
