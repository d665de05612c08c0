"""The store's side of sign-in security on SQLite and PostgreSQL: tokens created before expiry existed get one when
the store is upgraded, and the log of sign-in failures stays bounded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine, func, select

from salesbridge.domain.sign_in_throttle import SignInThrottlePolicy, account_subject, address_subject
from salesbridge.store.database import create_engine_for, create_session_factory, migrate
from salesbridge.store.tables import SignInFailure, UtcDateTime
from salesbridge.store.workspace import SignInFailureLog

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_tokens_created_before_expiry_existed_expire_90_days_after_the_upgrade(database_url: str) -> None:
    migrate(database_url, revision="0005")
    organization_id, user_id = uuid.uuid4(), uuid.uuid4()
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(
                    sa.table(
                        "organizations",
                        sa.column("id", sa.Uuid()),
                        sa.column("slug", sa.String()),
                        sa.column("name", sa.String()),
                        sa.column("seats_purchased", sa.Integer()),
                        sa.column("created_at", UtcDateTime()),
                    )
                ).values(id=organization_id, slug="acme", name="Acme", seats_purchased=1, created_at=NOW)
            )
            connection.execute(
                sa.insert(
                    sa.table(
                        "users",
                        sa.column("id", sa.Uuid()),
                        sa.column("organization_id", sa.Uuid()),
                        sa.column("email", sa.String()),
                        sa.column("display_name", sa.String()),
                        sa.column("is_admin", sa.Boolean()),
                        sa.column("created_at", UtcDateTime()),
                    )
                ).values(
                    id=user_id,
                    organization_id=organization_id,
                    email="a@acme.test",
                    display_name="A",
                    is_admin=True,
                    created_at=NOW,
                )
            )
            connection.execute(
                sa.insert(
                    sa.table(
                        "api_tokens",
                        sa.column("id", sa.Uuid()),
                        sa.column("organization_id", sa.Uuid()),
                        sa.column("user_id", sa.Uuid()),
                        sa.column("name", sa.String()),
                        sa.column("prefix", sa.String()),
                        sa.column("token_hash", sa.String()),
                        sa.column("created_at", UtcDateTime()),
                    )
                ).values(
                    id=uuid.uuid4(),
                    organization_id=organization_id,
                    user_id=user_id,
                    name="old",
                    prefix="sb_old",
                    token_hash="0" * 64,
                    created_at=NOW,
                )
            )
        before = datetime.now(UTC)

        migrate(database_url)

        expires = sa.table("api_tokens", sa.column("expires_at", UtcDateTime()))
        with engine.connect() as connection:
            expires_at = connection.scalar(select(expires.c.expires_at))
    finally:
        engine.dispose()
    assert expires_at is not None
    assert before + timedelta(days=90) - timedelta(seconds=1) <= expires_at <= datetime.now(UTC) + timedelta(days=90)


def test_expired_failures_are_deleted_as_attempts_come_in(engine: Engine) -> None:
    policy = SignInThrottlePolicy()
    sessions = create_session_factory(engine)
    log = SignInFailureLog(sessions)
    old = NOW - policy.longest_window - timedelta(seconds=1)
    with sessions.begin() as session:
        session.add_all(
            SignInFailure(id=uuid.uuid4(), subject=address_subject(f"192.0.2.{n % 250}"), failed_at=old)
            for n in range(SignInFailureLog.PURGE_BATCH + 20)
        )
        session.add(SignInFailure(id=uuid.uuid4(), subject=address_subject("192.0.2.1"), failed_at=NOW))

    first = log.admit(account=account_subject("acme", "a@acme.test"), address=None, policy=policy, now=NOW)
    with sessions() as session:
        after_one = session.scalar(select(func.count()).select_from(SignInFailure))
    log.admit(account=account_subject("acme", "b@acme.test"), address=None, policy=policy, now=NOW)
    with sessions() as session:
        after_two = session.scalar(select(func.count()).select_from(SignInFailure))

    assert first.admitted
    # 121 rows + 1 attempt, 100 expired deleted; then + 1 attempt, the last 20 expired deleted.
    assert (after_one, after_two) == (22, 3)
