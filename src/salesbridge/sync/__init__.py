"""The import plane: reading the CRM into the store incrementally, and purging what was imported."""
