"""Bound functions on records (privilege and access queries) and the N:N security associations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salesbridge.sandbox.catalogue.definitions import EntityDef
from salesbridge.sandbox.errors import bad_request, method_not_allowed, resource_not_found
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.odata.paths import Segment, parse_key, parse_named_args
from salesbridge.sandbox.webapi.context import function_parameter
from salesbridge.sandbox.webapi.records import Caller, find_record_id, record_owner, resolve_reference

if TYPE_CHECKING:
    from salesbridge.sandbox.webapi.context import RequestContext

_PREFIX = "Microsoft.Dynamics.CRM."


def handle_bound_function(
    engine: RequestContext, request: ApiRequest, caller: Caller, entity: EntityDef, record_id: str, segment: Segment
) -> ApiResponse:
    """``systemusers(<id>)/Microsoft.Dynamics.CRM.<Function>(...)``.

    Raises:
        DataverseError: 404 for an unknown function; 400 for missing parameters.
    """
    name = segment.name[len(_PREFIX) :]
    api_url = engine.api_url(request)
    security = engine.state.security
    if entity.logical_name != "systemuser" or request.method != "GET":
        raise resource_not_found(segment.name)
    security.require(caller.user_id, "Read", entity)
    context = f"{api_url}$metadata#Microsoft.Dynamics.CRM.{name}Response"
    if name == "RetrieveUserPrivileges":
        return ApiResponse.json(200, {"@odata.context": context, "RolePrivileges": security.role_privileges(record_id)})
    args = parse_named_args(segment.args or "")
    if name == "RetrieveUserPrivilegeByPrivilegeName":
        privilege = function_parameter(request, args.get("PrivilegeName", ""))
        if not privilege:
            raise bad_request("The PrivilegeName parameter is required.")
        entries = security.role_privileges(record_id, only=privilege)
        return ApiResponse.json(200, {"@odata.context": context, "RolePrivileges": entries})
    if name == "RetrievePrincipalAccess":
        target_text = function_parameter(request, args.get("Target", ""))
        reference = _odata_id(target_text)
        target, target_id = resolve_reference(engine.state, entity.entity_set_name, reference, api_url)
        owner = record_owner(engine.state, target, target_id)
        rights = security.access_rights(record_id, target, owner)
        return ApiResponse.json(200, {"@odata.context": context, "AccessRights": rights})
    raise resource_not_found(segment.name)


def _odata_id(text: str) -> str:
    import orjson

    cleaned = text.strip()
    try:
        value = orjson.loads(cleaned.replace("'", '"'))
    except orjson.JSONDecodeError:
        raise bad_request(f"The Target parameter '{text}' is not valid.") from None
    if not isinstance(value, dict) or "@odata.id" not in value:
        raise bad_request(f"The Target parameter '{text}' is not valid.")
    return str(value["@odata.id"])


def handle_n_to_n(
    engine: RequestContext,
    request: ApiRequest,
    caller: Caller,
    entity: EntityDef,
    record_id: str,
    segment: Segment,
    other: str,
    rest: list[Segment],
) -> ApiResponse:
    """GET, associate (POST ``$ref``) and disassociate (DELETE ``$ref``) of role and team memberships."""
    state = engine.state
    security = state.security
    other_entity = state.catalogue.entity(other)
    pairs = {
        ("systemuser", "role"): ("_user_roles", "systemuserid", "roleid"),
        ("role", "systemuser"): ("_user_roles", "roleid", "systemuserid"),
        ("team", "role"): ("_team_roles", "teamid", "roleid"),
        ("role", "team"): ("_team_roles", "roleid", "teamid"),
        ("team", "systemuser"): ("_team_members", "teamid", "systemuserid"),
        ("systemuser", "team"): ("_team_members", "systemuserid", "teamid"),
    }
    table, mine, theirs = pairs[(entity.logical_name, other)]
    if request.method == "GET" and not rest:
        security.require(caller.user_id, "Read", other_entity)
        ids = [r[0] for r in state.storage.conn.execute(f"SELECT {theirs} FROM {table} WHERE {mine} = ?", (record_id,))]
        values = []
        for other_id in ids:
            row = state.storage.get(other, other_entity.primary_id, other_id)
            if row is not None:
                values.append(
                    {
                        other_entity.primary_id: other_id,
                        other_entity.primary_name: row.get(other_entity.primary_name),
                    }
                )
        payload = {
            "@odata.context": f"{engine.api_url(request)}$metadata#{other_entity.entity_set_name}",
            "value": values,
        }
        return ApiResponse.json(200, payload)
    if not rest or rest[-1].name != "$ref":
        raise method_not_allowed(f"The HTTP method '{request.method}' is not allowed on '{segment.name}'.")
    security.require(caller.user_id, "Write", entity)
    if request.method == "POST":
        body = request.json() or {}
        target, target_id = resolve_reference(
            state, entity.entity_set_name, str(body.get("@odata.id", "")), engine.api_url(request)
        )
        if target.logical_name != other:
            raise bad_request(f"'{body.get('@odata.id')}' cannot be associated through '{segment.name}'.")
        state.storage.conn.execute(
            f"INSERT OR IGNORE INTO {table} ({mine}, {theirs}) VALUES (?, ?)", (record_id, target_id)
        )
        security.invalidate()
        return ApiResponse.empty(204)
    if request.method == "DELETE":
        disassociate_id: str | None = None
        if len(rest) == 2 and rest[0].args:
            disassociate_id = find_record_id(state, other_entity, parse_key(rest[0].args))
        if disassociate_id is None:
            raise bad_request("The record to disassociate is missing.")
        state.storage.conn.execute(
            f"DELETE FROM {table} WHERE {mine} = ? AND {theirs} = ?", (record_id, disassociate_id)
        )
        security.invalidate()
        return ApiResponse.empty(204)
    raise method_not_allowed(f"The HTTP method '{request.method}' is not allowed on '{segment.name}'.")
