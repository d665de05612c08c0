"""Settings, read once from the environment (``SALESBRIDGE_*``) and passed down; no module-level instance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings.

    The credential key encrypts CRM client secrets at rest. When ``credential_key`` is unset, the key is read from
    ``credential_key_file``, which is created (mode 0600) on first use; a key file readable by group or others is
    refused.
    """

    model_config = SettingsConfigDict(env_prefix="SALESBRIDGE_", env_nested_delimiter="__")

    database_url: str = Field(
        default="sqlite:///salesbridge.db",
        description="SQLAlchemy URL of the store: sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    state_dir: Path = Field(default=Path(".sandbox"), description="Where the demo keeps sandbox.json.")
    credential_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (url-safe base64, 32 bytes) encrypting stored CRM secrets; overrides the key file.",
    )
    credential_key_file: Path = Field(
        default=Path("salesbridge-credential.key"),
        description="Where the generated Fernet key lives when credential_key is unset; must be mode 0600.",
    )
    import_lease_seconds: int = Field(
        default=120,
        ge=1,
        description="How long a running import may go without finishing a page before another worker takes over.",
    )
    writeback_lease_seconds: int = Field(
        default=300,
        ge=1,
        description="How long a drain reserves the batch of activities it claimed; after a drain died, another "
        "delivers the batch once this has passed (writing the same CRM rows again, never twins).",
    )
    writeback_first_retry_seconds: int = Field(
        default=30,
        ge=1,
        description="How long an activity whose delivery failed transiently (throttled, Dynamics unavailable, a cut "
        "connection) waits before it is tried again; the wait doubles after each further failure, up to an hour.",
    )
    jobs: Literal["embedded", "procrastinate"] = Field(
        default="embedded",
        description="The background job engine: embedded (an import runner inside `salesbridge serve`; SQLite or "
        "PostgreSQL) or procrastinate (workers started with `salesbridge worker`, on any number of machines; "
        "PostgreSQL only).",
    )
    jobs_schedule_cron: str = Field(
        default="* * * * *",
        description="procrastinate: when the periodic tasks fire (queue the due imports, retry stalled jobs), as "
        "cron; an optional sixth column gives seconds. Once per period across all workers.",
    )
    worker_heartbeat_seconds: float = Field(
        default=10.0, gt=0, description="procrastinate: how often a worker tells the database it is alive."
    )
    worker_stalled_seconds: float = Field(
        default=30.0,
        gt=0,
        description="procrastinate: a worker silent this long is taken to be dead and its jobs are retried "
        "(an import resumes once its lease, SALESBRIDGE_IMPORT_LEASE_SECONDS, expires).",
    )
    import_process: Literal["child", "thread"] = Field(
        default="child",
        description="The embedded runner (SALESBRIDGE_JOBS=embedded): where each import, and the matching run after "
        "it, runs: child — a process of its own started for the run, which gives all its memory back to the "
        "system when it ends, so that the console's process keeps only what its pages use; thread — the console's "
        "own process (its memory then keeps what the imports' allocations left behind).",
    )
    sqlite_memory_mib: int = Field(
        default=64,
        ge=0,
        description="A process on a SQLite store keeps at most this much of the store in memory, the page caches of "
        "all its connections together (SQLite's soft heap limit); 0: no limit (each connection then caches up to "
        "64 MiB).",
    )
    console_sqlite_memory_mib: int = Field(
        default=8,
        ge=0,
        description="`salesbridge serve`'s own process on a SQLite store keeps at most this much of the store in "
        "memory (as SALESBRIDGE_SQLITE_MEMORY_MIB, which the import processes keep): its pages read a few thousand "
        "rows each, and a smaller cache has less to refill each time another connection writes. With "
        "SALESBRIDGE_IMPORT_PROCESS=thread the imports run in the console's process, which then keeps "
        "SALESBRIDGE_SQLITE_MEMORY_MIB; 0: no limit.",
    )
    sqlite_mmap_mib: int = Field(
        default=0,
        ge=0,
        description="A process on a SQLite store reads up to this much of the store file through memory-mapped I/O "
        "(SQLite's mmap_size) instead of copying its pages into its own memory; 0: off.",
    )
    free_memory_every_seconds: float = Field(
        default=60.0,
        ge=0,
        description="`salesbridge serve` and `salesbridge worker` give the memory their allocator holds free back "
        "to the system this often (glibc's malloc_trim), so that their resident size follows their live data; "
        "0: never.",
    )
    tracemalloc_file: Path | None = Field(
        default=None,
        description="Diagnosis only (slow): `salesbridge serve` traces allocations and appends their growth by "
        "traceback, and live objects by type, to this file every SALESBRIDGE_TRACEMALLOC_EVERY_SECONDS. Unset: off.",
    )
    tracemalloc_every_seconds: float = Field(
        default=60.0, gt=0, description="How often SALESBRIDGE_TRACEMALLOC_FILE is written to."
    )
    tracemalloc_frames: int = Field(
        default=8,
        ge=0,
        description="Frames kept per traced allocation for SALESBRIDGE_TRACEMALLOC_FILE; 0 traces no allocation and "
        "writes live objects by type only (cheap).",
    )
    reports_cache_mib: float = Field(
        default=4.0,
        ge=0,
        description="`salesbridge serve`: the Reports page's drawn charts are kept for reuse within this many MiB, "
        "least recently used out first, per organization and language (about a hundred of the largest charts "
        "in 4); 0: every chart is drawn on every load.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="The console's public address (scheme, host, port), e.g. https://console.example.com: every "
        "absolute link the console gives out (invitation links) starts with it, and its host is the one requests "
        "may name. Unset: where `salesbridge serve` listens (http://127.0.0.1:8000 by default).",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names requests may name besides the public base URL's, comma-separated "
        "(another name of the same console); any other Host header is refused with 400.",
    )
    crm_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts an administrator may connect to besides Dynamics 365's and Microsoft Entra ID's, "
        "comma-separated: host (any port) or host:port. Only for a local sandbox or a test server.",
    )
    crm_ca_bundle_dir: Path | None = Field(
        default=None,
        description="A directory of CA bundles (*.pem, *.crt) administrators may choose by name when connecting, "
        "for a Dynamics reached through a private CA; unset offers none.",
    )

    smtp_host: str | None = Field(
        default=None,
        description="The SMTP server sending email (invitations, alerts). Unset: nothing is sent; each message is "
        "printed to the console's log instead (the demo does this).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="The SMTP server's port (587, 465 with tls, 25).")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        description="How the connection to the SMTP server is protected: starttls (upgrade after connecting, port "
        "587), tls (TLS from the start, port 465) or none (plain text: only on a trusted network).",
    )
    smtp_username: str | None = Field(default=None, description="The SMTP sign-in user; unset: no sign-in.")
    smtp_password: SecretStr | None = Field(default=None, description="The SMTP sign-in password.")
    smtp_sender: str | None = Field(
        default=None,
        description="The From address of every message, e.g. salesbridge@example.com or "
        "'Salesbridge <salesbridge@example.com>'; required with SALESBRIDGE_SMTP_HOST.",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="A PEM CA bundle trusted for the SMTP server's certificate besides the system's (a private CA).",
    )
    smtp_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long to wait for the SMTP server at each step before giving up."
    )

    @model_validator(mode="after")
    def _smtp_sender_with_host(self) -> Settings:
        if self.smtp_host and not self.smtp_sender:
            raise ValueError("SALESBRIDGE_SMTP_SENDER is required when SALESBRIDGE_SMTP_HOST is set")
        if self.smtp_password is not None and not self.smtp_username:
            raise ValueError("SALESBRIDGE_SMTP_PASSWORD needs SALESBRIDGE_SMTP_USERNAME")
        return self

    @field_validator("public_base_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an http:// or https:// address such as https://console.example.com")
        return value.rstrip("/")

    @field_validator("crm_allowed_hosts", "allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value
