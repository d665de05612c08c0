"""The catalogue: table, column and relationship definitions, and the standard tables Dataverse ships."""
