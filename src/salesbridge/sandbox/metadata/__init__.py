"""The metadata API: ``EntityDefinitions``, ``RelationshipDefinitions``, ``GlobalOptionSetDefinitions``."""
