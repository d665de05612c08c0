"""The demo's workspace, prepared against the demo sandbox over TLS (SQLite and PostgreSQL): an administrator, a
seller who accepted, invited seats — with every piece of store work off the event loop."""

from __future__ import annotations

import pytest
from tests.integration.off_loop import OffLoopStore
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox

from salesbridge.bootstrap import prepare_demo_workspace
from salesbridge.errors import ConfigError
from salesbridge.store.uow import UnitOfWorkFactory


async def test_the_demo_workspace_is_prepared_with_its_store_work_off_the_event_loop(
    store: UnitOfWorkFactory, demo: RunningSandbox
) -> None:
    watched = OffLoopStore(store)

    workspace = await prepare_demo_workspace(
        watched,  # type: ignore[arg-type]
        demo.credentials(),
        targets=SANDBOX_TARGETS,
    )

    assert watched.on_loop == []
    assert workspace.organization == "demo"
    assert len(workspace.invited) == 4
    with pytest.raises(ConfigError, match="already has an organization 'demo'"):
        await prepare_demo_workspace(watched, demo.credentials(), targets=SANDBOX_TARGETS)  # type: ignore[arg-type]
    assert watched.on_loop == []
