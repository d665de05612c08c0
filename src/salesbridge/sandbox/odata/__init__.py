"""The OData protocol of the Web API: messages, URL paths, values, query options, $filter, $batch."""
