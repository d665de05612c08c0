"""The sandbox: a local server that behaves like the Dataverse Web API v9.2 of Dynamics 365.

Product code never imports this package; only the composition root (for the demo) and tests do.
"""
