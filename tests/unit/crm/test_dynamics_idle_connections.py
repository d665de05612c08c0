"""The Web API client drops an idle pooled connection before the server closes it: a write is never sent on a
connection the server has already closed (seen under load as ``Can not write request body`` on a create)."""

from __future__ import annotations

from salesbridge.crm.dynamics.client import IDLE_CONNECTION_S
from salesbridge.sandbox.server.serving import KEEP_ALIVE_S


def test_the_client_forgets_an_idle_connection_before_the_sandbox_closes_it() -> None:
    # A second of margin: the server's timer starts when it has sent its answer, the client's when it has read it.
    assert IDLE_CONNECTION_S <= KEEP_ALIVE_S - 1
