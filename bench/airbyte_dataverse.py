"""Launch Airbyte's Microsoft Dataverse source against the sandbox, unmodified except for its token URL.

Runs in ``.venv-airbyte`` (``make .venv-airbyte``), never in the project venv: the source pins airbyte-cdk 0.80
and its old dependencies. It does not import salesbridge.

How it is pointed at the sandbox (the least invasive way found by reading
``source_microsoft_dataverse/dataverse.py`` 1.0.2):

* The organization URL comes from the connector's own config (``url``); ``/api/data/v9.2/`` is appended by the
  source, exactly as for ``https://<org>.crm.dynamics.com``.
* The token endpoint is the one thing hard-coded: ``get_auth()`` builds airbyte-cdk's ``Oauth2Authenticator``
  with ``https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token``. This launcher wraps ``get_auth``
  (in ``dataverse``, which ``do_request`` uses, and in ``source``, which imported the name) so that the
  authenticator it returns posts to ``$DATAVERSE_AUTHORITY/oauth2/v2.0/token`` instead. The request body
  (client credentials, scope ``{url}/.default``) and everything else are the source's own.
* TLS: the caller sets ``REQUESTS_CA_BUNDLE`` to the sandbox's throwaway CA. The token and metadata requests
  (``requests.get`` / ``requests.request``) honour it, but the CDK's streams call ``Session.send()`` directly,
  which skips requests' environment merge; so the launcher sets each stream session's ``verify`` to the same
  bundle. Certificates are verified everywhere; nothing uses ``verify=False``.

Run: ``DATAVERSE_AUTHORITY=… REQUESTS_CA_BUNDLE=… .venv-airbyte/bin/python bench/airbyte_dataverse.py read
--config config.json --catalog catalog.json`` (any Airbyte protocol command: spec, check, discover, read).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

TOKEN_PATH = "/oauth2/v2.0/token"


def point_token_requests_at(authority: str) -> None:
    """Make every authenticator the source builds fetch its tokens from ``authority`` (no trailing slash)."""
    import source_microsoft_dataverse.dataverse as dataverse  # type: ignore[import-not-found]  # .venv-airbyte only
    import source_microsoft_dataverse.source as source  # type: ignore[import-not-found]  # .venv-airbyte only

    original: Callable[[Mapping[str, Any]], Any] = dataverse.get_auth
    endpoint = authority.rstrip("/") + TOKEN_PATH

    def get_auth(config: Mapping[str, Any]) -> Any:
        authenticator = original(config)
        authenticator._token_refresh_endpoint = endpoint  # read back by get_token_refresh_endpoint()
        return authenticator

    dataverse.get_auth = get_auth
    source.get_auth = get_auth


def trust_ca_bundle_in_streams(ca_bundle: str) -> None:
    """Make the source's stream sessions verify the server against ``ca_bundle``."""
    from source_microsoft_dataverse import SourceMicrosoftDataverse  # .venv-airbyte only

    original: Callable[[Any, Mapping[str, Any]], list[Any]] = SourceMicrosoftDataverse.streams

    def streams(self: Any, config: Mapping[str, Any]) -> list[Any]:
        built = original(self, config)
        for stream in built:
            stream._session.verify = ca_bundle  # the session HttpStream sends every page through
        return built

    SourceMicrosoftDataverse.streams = streams


def main(argv: list[str]) -> None:
    from airbyte_cdk.entrypoint import launch  # type: ignore[import-not-found]  # .venv-airbyte only
    from source_microsoft_dataverse import SourceMicrosoftDataverse  # .venv-airbyte only

    authority = os.environ.get("DATAVERSE_AUTHORITY")
    if authority:
        point_token_requests_at(authority)
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE")
    if ca_bundle:
        trust_ca_bundle_in_streams(ca_bundle)
    launch(SourceMicrosoftDataverse(), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
