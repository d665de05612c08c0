"""OData ``$filter`` and ``$orderby``: one syntax tree, one parser, and the back ends that consume it."""
