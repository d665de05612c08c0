"""The Web API over records: request dispatch, reads (collections, ``$expand``, change tracking), writes with
Dataverse's semantics, bulk actions and functions."""
