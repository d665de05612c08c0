"""Records related through custom many-to-many relationships: read, associate and disassociate.

Follows ``webapi/associate-disassociate-entities-using-web-api.md``: ``POST <record>/<nav>/$ref`` with an
``@odata.id`` associates, ``DELETE <record>/<nav>(<id>)/$ref`` (or ``…/<nav>/$ref?$id=<url>``) disassociates;
``GET <record>/<nav>`` lists the related records with the usual query options. Each association is one row of
the relationship's intersect table.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

import orjson

from salesbridge.sandbox.catalogue.definitions import EntityDef, ManyToManyDef, quote_ident
from salesbridge.sandbox.errors import bad_request, method_not_allowed
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.odata.paths import Segment, parse_key
from salesbridge.sandbox.odata.query_options import QueryOptions, parse_prefer, parse_query_options
from salesbridge.sandbox.webapi.context import RequestContext
from salesbridge.sandbox.webapi.reading import Reader
from salesbridge.sandbox.webapi.records import Caller, find_record_id, resolve_reference


def handle_many_to_many(
    engine: RequestContext,
    request: ApiRequest,
    caller: Caller,
    entity: EntityDef,
    record_id: str,
    segment: Segment,
    rest: list[Segment],
    found: tuple[ManyToManyDef, str, str, str],
) -> ApiResponse:
    """A request on ``<record>/<many-to-many nav>…``.

    Raises:
        DataverseError: 404 for a missing record, 403 without the privileges, 400 for a reference to a record of
            another table, 405 for other methods.
    """
    state = engine.state
    relationship, mine, theirs, other_name = found
    other = state.catalogue.entity(other_name)
    api_url = engine.api_url(request)
    prefer = parse_prefer(request.headers.get("Prefer"))
    reader = Reader(state, caller.user_id, api_url, prefer)
    clause = (
        f"t.{quote_ident(other.primary_id)} IN (SELECT {quote_ident(theirs)} FROM "
        f"{quote_ident(relationship.intersect)} WHERE {quote_ident(mine)} = ?)",
        [record_id],
    )
    path = f"{entity.entity_set_name}({record_id})/{segment.name}"
    if request.method == "GET" and segment.args is None and rest and rest[0].name == "$count":
        return reader.count_only(other, parse_query_options(request.query), parent_clause=clause)
    if request.method == "GET" and not rest and segment.args is None:
        return reader.collection(other, parse_query_options(request.query), request.query, path, parent_clause=clause)
    if not rest or rest[-1].name != "$ref":
        raise method_not_allowed(f"The HTTP method '{request.method}' is not allowed on '{segment.name}'.")
    if request.method == "GET":
        listed = reader.collection(other, QueryOptions(select=(other.primary_id,)), [], path, parent_clause=clause)
        values = orjson.loads(listed.body)["value"]
        return ApiResponse.json(
            200,
            {
                "@odata.context": f"{api_url}$metadata#Collection($ref)",
                "value": [{"@odata.id": f"{api_url}{other.entity_set_name}({v[other.primary_id]})"} for v in values],
            },
        )
    state.security.require(caller.user_id, "Append", entity)
    state.security.require(caller.user_id, "AppendTo", other)
    table = quote_ident(relationship.intersect)
    if request.method == "POST":
        body = request.json() or {}
        target, target_id = resolve_reference(state, entity.entity_set_name, str(body.get("@odata.id", "")), api_url)
        if target.logical_name != other.logical_name:
            raise bad_request(f"'{body.get('@odata.id')}' cannot be associated through '{segment.name}'.")
        exists = state.storage.scalar(
            f"SELECT 1 FROM {table} WHERE {quote_ident(mine)} = ? AND {quote_ident(theirs)} = ?",
            (record_id, target_id),
        )
        if not exists:
            state.storage.insert(
                relationship.intersect,
                {
                    f"{relationship.intersect}id": str(uuid.uuid4()),
                    mine: record_id,
                    theirs: target_id,
                    "versionnumber": state.storage.next_version(),
                },
            )
        return ApiResponse.empty(204)
    if request.method == "DELETE":
        other_id: str | None = None
        if segment.args:
            other_id = find_record_id(state, other, parse_key(segment.args))
        else:
            match = re.search(r"\$id=([^&]+)", request.raw_query)
            if match:
                _, other_id = resolve_reference(state, entity.entity_set_name, unquote(match.group(1)), api_url)
        if other_id is None:
            raise bad_request("The $id of the record to disassociate is missing.")
        state.storage.conn.execute(
            f"DELETE FROM {table} WHERE {quote_ident(mine)} = ? AND {quote_ident(theirs)} = ?", (record_id, other_id)
        )
        return ApiResponse.empty(204)
    raise method_not_allowed(f"The HTTP method '{request.method}' is not allowed on a $ref.")
