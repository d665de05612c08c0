"""One sandbox organization: its database, shared state, foundation records, security roles and kept definitions."""
