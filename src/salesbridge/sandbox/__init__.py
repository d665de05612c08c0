"""The sandbox: a local server that behaves like the Dataverse Web API v9.2 of Dynamics 365.

Product code never imports this package; only the composition root (for the demo) and tests do, and the sandbox
imports no product module. Its parts, each importing only those listed after it (import-linter keeps this):

- ``assembly`` — builds a ready sandbox: organization, seed, identity and app, and the ``sandbox.json`` facts;
- ``server`` — the ASGI app (authentication, service protection, faults, admin endpoints), serving it with
  uvicorn, TLS; ``seeds`` — the demo organization and the scale seed;
- ``webapi`` — the Web API over records: dispatch, reads, change tracking, writes, bulk actions, functions;
- ``metadata`` — ``EntityDefinitions``, ``RelationshipDefinitions``, ``GlobalOptionSetDefinitions``;
- ``organization`` — the database, shared state, foundation records, security roles, kept definitions;
- ``identity`` — the Entra-compatible token service;
- ``odata`` — the protocol: messages, URL paths, values, query options, ``$filter`` (one parser), ``$batch``;
- ``catalogue`` — definitions of tables, columns and relationships, and the standard tables as data;
- ``errors`` — Dataverse's errors.
"""
