"""The Web API engine: routes an :class:`ApiRequest` to reads, writes, actions, functions and metadata.

Synchronous by design: one SQLite connection, each request in its own transaction. The ASGI adapter
(:mod:`salesbridge.sandbox.server.app`) adds authentication, service protection and fault injection around it.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from salesbridge.sandbox.catalogue.definitions import EntityDef
from salesbridge.sandbox.errors import (
    DataverseError,
    bad_request,
    method_not_allowed,
    payload_error,
    record_not_found,
    resource_not_found,
)
from salesbridge.sandbox.metadata.api import handle_metadata
from salesbridge.sandbox.metadata.model import METADATA_ROOTS
from salesbridge.sandbox.odata.batch import execute_batch, parse_batch
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.odata.paths import Segment, parse_key, parse_named_args, split_path
from salesbridge.sandbox.odata.query_options import QueryOptions, parse_prefer, parse_query_options
from salesbridge.sandbox.organization.security import ACT_ON_BEHALF
from salesbridge.sandbox.organization.state import SandboxState
from salesbridge.sandbox.webapi.aggregation import FetchQuery, orders_by_an_aggregate, run_apply
from salesbridge.sandbox.webapi.associations import handle_many_to_many
from salesbridge.sandbox.webapi.bulk_actions import handle_bulk_action
from salesbridge.sandbox.webapi.context import function_parameter
from salesbridge.sandbox.webapi.functions import handle_bound_function, handle_n_to_n
from salesbridge.sandbox.webapi.reading import Reader, projection_for
from salesbridge.sandbox.webapi.records import (
    Caller,
    RecordWriter,
    alternate_key_columns,
    find_record_id,
    key_values_for_create,
    record_owner,
    resolve_reference,
)

API_ROOT = "/api/data/v9.2/"
ACTION_PREFIX = "Microsoft.Dynamics.CRM."
CHANGE_TRACKING_ANNOTATION = (
    '<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
    '<PropertyValue Property="Supported" Bool="true" /></Record></Annotation>'
)
_N_TO_N = {
    "systemuser": {"systemuserroles_association": "role", "teammembership_association": "team"},
    "team": {"teamroles_association": "role", "teammembership_association": "systemuser"},
    "role": {"systemuserroles_association": "systemuser", "teamroles_association": "team"},
}


class Engine:
    """Handles Web API requests against one sandbox organization."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def api_url(self, request: ApiRequest) -> str:
        """The absolute API root URL as the client sees it."""
        return f"{request.base_url.rstrip('/')}{API_ROOT}"

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request. Never raises: errors become Dataverse error responses."""
        try:
            with self.state.storage.lock:
                if request.path.strip("/") == "$batch":
                    return self._batch(request)
                with self.state.storage.transaction():
                    return self._dispatch(request)
        except DataverseError as error:
            return error_response(error)

    def _batch(self, request: ApiRequest) -> ApiResponse:
        if request.method != "POST":
            raise method_not_allowed("The $batch endpoint only accepts POST.")
        items = parse_batch(request.headers.get("Content-Type") or "", request.body, api_root=API_ROOT)
        prefer = parse_prefer(request.headers.get("Prefer"))
        return execute_batch(
            items,
            handle=self._handle_inner,
            transaction=self.state.storage.transaction,
            continue_on_error=prefer.continue_on_error,
            outer=request,
        )

    def _handle_inner(self, request: ApiRequest) -> ApiResponse:
        with self.state.storage.transaction():
            return self._dispatch(request)

    def effective_caller(self, request: ApiRequest) -> Caller:
        """The user a request runs as, honouring ``CallerObjectId`` / ``MSCRMCallerID`` impersonation.

        Raises:
            DataverseError: 401 without an authenticated caller; 403 when impersonating without
                prvActOnBehalfOfAnotherUser; 404 for an unknown impersonated user.
        """
        if request.caller_id is None:
            raise DataverseError(401, "0x80044302", "Request is not authenticated.")
        object_id = request.headers.get("CallerObjectId")
        user_id = request.headers.get("MSCRMCallerID")
        if not object_id and not user_id:
            return Caller(request.caller_id)
        self.state.security.require_named(request.caller_id, ACT_ON_BEHALF)
        if object_id:
            found = self.state.storage.scalar(
                'SELECT systemuserid FROM "systemuser" WHERE azureactivedirectoryobjectid = ?',
                (object_id.lower(),),
            )
        else:
            found = self.state.storage.scalar(
                'SELECT systemuserid FROM "systemuser" WHERE systemuserid = ?',
                ((user_id or "").strip("{}").lower(),),
            )
        if found is None:
            raise record_not_found("systemuser", object_id or user_id or "")
        disabled = self.state.storage.scalar('SELECT isdisabled FROM "systemuser" WHERE systemuserid = ?', (found,))
        if disabled:
            raise DataverseError(400, "0x80040225", f"The specified user(Id = {found}) is disabled.")
        return Caller(str(found), impersonator_id=request.caller_id)

    def _dispatch(self, request: ApiRequest) -> ApiResponse:
        segments = split_path(request.path)
        caller = self.effective_caller(request)
        if not segments:
            return self._service_document(request)
        head = segments[0]
        if head.name == "$metadata":
            return self._csdl(annotations=("annotations", "true") in request.query)
        if head.name in ("WhoAmI", f"{ACTION_PREFIX}WhoAmI"):
            return self._who_am_i(request, caller)
        if head.name in METADATA_ROOTS:
            return handle_metadata(
                self.state, request, segments, caller_id=caller.user_id, api_url=self.api_url(request)
            )
        entity = self.state.catalogue.entity_by_set(head.name)
        if entity is None:
            if head.name == "RetrieveSharedPrincipalsAndAccess":
                return self._shared_principals(request, caller)
            if head.name in ("RetrieveTotalRecordCount", f"{ACTION_PREFIX}RetrieveTotalRecordCount"):
                return self._total_record_count(request, caller, head)
            raise resource_not_found(head.name)
        if head.args is None:
            return self._collection(request, caller, entity, segments)
        return self._record(request, caller, entity, segments)

    def _service_document(self, request: ApiRequest) -> ApiResponse:
        sets = sorted(self.state.catalogue.entities.values(), key=lambda e: e.entity_set_name)
        payload = {
            "@odata.context": f"{self.api_url(request)}$metadata",
            "value": [{"name": e.entity_set_name, "kind": "EntitySet", "url": e.entity_set_name} for e in sets],
        }
        return ApiResponse.json(200, payload)

    def _csdl(self, *, annotations: bool) -> ApiResponse:
        """The CSDL document. With ``?annotations=true`` the entity sets of tables with change tracking carry
        ``Org.OData.Capabilities.V1.ChangeTracking`` (use-change-tracking-synchronize-data-external-systems.md)."""
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
            '<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
            'xmlns="http://docs.oasis-open.org/odata/ns/edm">',
        ]
        for entity in self.state.catalogue.entities.values():
            parts.append(
                f'<EntityType Name="{entity.logical_name}"><Key><PropertyRef Name="{entity.primary_id}" /></Key>'
            )
            for attribute in entity.stored_attributes:
                from salesbridge.sandbox.odata.values import edm_type

                parts.append(f'<Property Name="{attribute.json_name}" Type="{edm_type(attribute)}" />')
            parts.append("</EntityType>")
        parts.append('<EntityContainer Name="System">')
        for entity in self.state.catalogue.entities.values():
            entity_set = (
                f'<EntitySet Name="{entity.entity_set_name}" EntityType="Microsoft.Dynamics.CRM.{entity.logical_name}"'
            )
            if annotations and entity.change_tracking_enabled:
                parts.append(f"{entity_set}>{CHANGE_TRACKING_ANNOTATION}</EntitySet>")
            else:
                parts.append(f"{entity_set} />")
        parts.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
        response = ApiResponse(200, body="".join(parts).encode())
        response.headers.set("Content-Type", "application/xml")
        return response

    def _who_am_i(self, request: ApiRequest, caller: Caller) -> ApiResponse:
        unit = self.state.security.business_unit_of(caller.user_id)
        payload = {
            "@odata.context": f"{self.api_url(request)}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": unit,
            "UserId": caller.user_id,
            "OrganizationId": self.state.config.organization_id,
        }
        return ApiResponse.json(200, payload)

    def _collection(
        self, request: ApiRequest, caller: Caller, entity: EntityDef, segments: list[Segment]
    ) -> ApiResponse:
        prefer = parse_prefer(request.headers.get("Prefer"))
        if len(segments) == 1:
            if request.method == "GET":
                reader = Reader(self.state, caller.user_id, self.api_url(request), prefer)
                aggregated = self._aggregation(request, reader, entity)
                if aggregated is not None:
                    return aggregated
                options = parse_query_options(request.query)
                return reader.collection(entity, options, request.query, entity.entity_set_name)
            if request.method == "POST":
                return self._create(request, caller, entity, prefer)
            raise method_not_allowed(
                f"The HTTP method '{request.method}' is not allowed on '{entity.entity_set_name}'."
            )
        second = segments[1]
        if second.name == "$count" and request.method == "GET":
            options = parse_query_options(request.query)
            return Reader(self.state, caller.user_id, self.api_url(request), prefer).count_only(entity, options)
        if second.name.startswith(ACTION_PREFIX) and request.method == "POST":
            return handle_bulk_action(self, request, caller, entity, second.name[len(ACTION_PREFIX) :])
        raise resource_not_found(second.name)

    def _aggregation(self, request: ApiRequest, reader: Reader, entity: EntityDef) -> ApiResponse | None:
        """``?fetchXml=`` or ``?$apply=`` on an entity set (None for any other read). Each stands alone: other system
        query options beside them are refused rather than ignored."""
        names = [name for name, _ in request.query]
        for option in ("fetchXml", "$apply"):
            if option not in names:
                continue
            others = [n for n in names if n != option and n.startswith("$") and n != "$count"]
            if option == "$apply" and others == ["$orderby"] and orders_by_an_aggregate(dict(request.query)):
                # query/aggregate-data.md: "$orderby with aggregate values is not supported", with this error.
                raise bad_request("The query node SingleValueOpenPropertyAccess is not supported", "0x80060888")
            if others or names.count(option) > 1:
                raise bad_request(
                    f"The sandbox answers {option} alone; it doesn't combine it with {', '.join(others) or option}.",
                    "0x80060888",
                )
            text = next(value for name, value in request.query if name == option)
            if option == "fetchXml":
                return FetchQuery(reader, entity, text).run()
            return run_apply(reader, entity, text)
        return None

    def _body(self, request: ApiRequest, entity: EntityDef) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise payload_error(entity.entity_set_name, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise payload_error(entity.entity_set_name, "The request body must be a JSON object.")
        return body

    def _create(self, request: ApiRequest, caller: Caller, entity: EntityDef, prefer: Any) -> ApiResponse:
        body = self._body(request, entity)
        writer = RecordWriter(self.state, caller, self.api_url(request))
        record_id = writer.create(entity, body)
        return self._written(request, caller, entity, record_id, prefer, created=True)

    def entity_url(self, request: ApiRequest, entity: EntityDef, record_id: str) -> str:
        """The absolute URL of a record."""
        return f"{self.api_url(request)}{entity.entity_set_name}({record_id})"

    def _written(
        self,
        request: ApiRequest,
        caller: Caller,
        entity: EntityDef,
        record_id: str,
        prefer: Any,
        *,
        created: bool,
        entity_url: str | None = None,
    ) -> ApiResponse:
        if prefer.return_representation:
            options = parse_query_options([(k, v) for k, v in request.query if k in ("$select", "$expand")])
            response = Reader(self.state, caller.user_id, self.api_url(request), prefer).retrieve(
                entity,
                record_id,
                QueryOptions(select=options.select, expand=options.expand),
                status=201 if created else 200,
            )
            response.headers.set("Preference-Applied", "return=representation")
            return response
        url = entity_url or self.entity_url(request, entity, record_id)
        headers = {"OData-EntityId": url, "OData-Version": "4.0"}
        if request.method == "PATCH" and entity.attribute("versionnumber"):
            # An upsert tells the record's new version (OData 4.0 part 1, 8.3.1 ETag).
            version = self.state.storage.scalar(
                f'SELECT versionnumber FROM "{entity.logical_name}" WHERE "{entity.primary_id}" = ?', (record_id,)
            )
            headers["ETag"] = f'W/"{version}"'
        return ApiResponse.empty(204, headers)

    def _record(self, request: ApiRequest, caller: Caller, entity: EntityDef, segments: list[Segment]) -> ApiResponse:
        head = segments[0]
        key = parse_key(head.args or "")
        prefer = parse_prefer(request.headers.get("Prefer"))
        reader = Reader(self.state, caller.user_id, self.api_url(request), prefer)
        record_id = find_record_id(self.state, entity, key)
        if len(segments) == 1:
            if request.method == "GET":
                if record_id is None:
                    raise record_not_found(entity.logical_name, key.guid or head.args or "")
                options = parse_query_options(request.query)
                if self._not_modified(request, caller, entity, record_id, options, prefer):
                    return ApiResponse.empty(304, {"OData-Version": "4.0"})
                return reader.retrieve(entity, record_id, options)
            if request.method == "PATCH":
                return self._patch(request, caller, entity, key, record_id, prefer, key_text=head.args or "")
            if request.method == "DELETE":
                if record_id is None:
                    raise record_not_found(entity.logical_name, key.guid or head.args or "")
                self._check_etag(request, entity, record_id)
                RecordWriter(self.state, caller, self.api_url(request)).delete(entity, record_id)
                return ApiResponse.empty(204)
            raise method_not_allowed(f"The HTTP method '{request.method}' is not allowed on this resource.")
        if record_id is None:
            raise record_not_found(entity.logical_name, key.guid or head.args or "")
        second = segments[1]
        if second.name.startswith(ACTION_PREFIX):
            return handle_bound_function(self, request, caller, entity, record_id, second)
        n_to_n = _N_TO_N.get(entity.logical_name, {}).get(second.name)
        if n_to_n is not None:
            return handle_n_to_n(self, request, caller, entity, record_id, second, n_to_n, segments[2:])
        many_to_many = self.state.catalogue.many_to_many_nav(entity.logical_name, second.name)
        if many_to_many is not None:
            return handle_many_to_many(self, request, caller, entity, record_id, second, segments[2:], many_to_many)
        return self._navigation(request, caller, entity, record_id, segments, reader)

    def _not_modified(
        self,
        request: ApiRequest,
        caller: Caller,
        entity: EntityDef,
        record_id: str,
        options: QueryOptions,
        prefer: Any,
    ) -> bool:
        """A conditional retrieval whose ETag is current (perform-conditional-operations-using-web-api.md,
        "Conditional retrievals"): never with ``$expand`` nor with annotations asked for; ``If-None-Match: null``
        (which clients send to defeat caches) matches nothing."""
        if_none_match = (request.headers.get("If-None-Match") or "").strip()
        if not if_none_match.startswith('W/"') or options.expand or prefer.include_annotations:
            return False
        if not entity.attribute("versionnumber"):
            return False
        version = self.state.storage.scalar(
            f'SELECT versionnumber FROM "{entity.logical_name}" WHERE "{entity.primary_id}" = ?', (record_id,)
        )
        owner = record_owner(self.state, entity, record_id)
        self.state.security.require_record(caller.user_id, "Read", entity, record_id, owner)
        return if_none_match == f'W/"{version}"'

    def _check_etag(self, request: ApiRequest, entity: EntityDef, record_id: str) -> None:
        if_match = request.headers.get("If-Match")
        if if_match and if_match.strip() != "*":
            version = self.state.storage.scalar(
                f'SELECT versionnumber FROM "{entity.logical_name}" WHERE "{entity.primary_id}" = ?',
                (record_id,),
            )
            if f'W/"{version}"' != if_match.strip():
                from salesbridge.sandbox.errors import version_mismatch

                raise version_mismatch()

    def _patch(
        self,
        request: ApiRequest,
        caller: Caller,
        entity: EntityDef,
        key: Any,
        record_id: str | None,
        prefer: Any,
        *,
        key_text: str,
    ) -> ApiResponse:
        """PATCH of a record: an update, or an upsert without ``If-Match`` (use-upsert-insert-update-record.md).

        Addressed by an alternate key, an upsert that finds the record ignores the body's values of the key's
        columns (the key can't change the values it identifies the record by), and the ``OData-EntityId`` of
        the answer names the record by the key, as the request did.
        """
        body = self._body(request, entity)
        if_match = (request.headers.get("If-Match") or "").strip()
        if_none_match = (request.headers.get("If-None-Match") or "").strip()
        writer = RecordWriter(self.state, caller, self.api_url(request))
        key_columns = alternate_key_columns(entity, key)
        entity_url = f"{self.api_url(request)}{entity.entity_set_name}({key_text})" if key_columns else None
        if record_id is None:
            if if_match:
                if key.guid:
                    raise record_not_found(entity.logical_name, key.guid)
                raise DataverseError(
                    404,
                    "0x80060891",
                    f"A record with the specified key values does not exist in {entity.logical_name} entity",
                )
            values = key_values_for_create(entity, key)
            new_id = writer.create(entity, body, record_id=key.guid, key_values=values)
            return self._written(request, caller, entity, new_id, prefer, created=True, entity_url=entity_url)
        if if_none_match == "*":
            from salesbridge.sandbox.errors import duplicate_record

            raise duplicate_record()
        self._check_etag(request, entity, record_id)
        if not if_match:
            body = {name: value for name, value in body.items() if name not in key_columns}
        writer.update(entity, record_id, body)
        return self._written(request, caller, entity, record_id, prefer, created=False, entity_url=entity_url)

    def _navigation(
        self,
        request: ApiRequest,
        caller: Caller,
        entity: EntityDef,
        record_id: str,
        segments: list[Segment],
        reader: Reader,
    ) -> ApiResponse:
        second = segments[1]
        rest = segments[2:]
        catalogue = self.state.catalogue
        writer = RecordWriter(self.state, caller, self.api_url(request))
        single = catalogue.single_valued_nav(entity.logical_name, second.name)
        if single is not None:
            if rest and rest[0].name == "$ref":
                if request.method == "PUT":
                    body = self._body(request, entity)
                    target, target_id = resolve_reference(
                        self.state,
                        entity.entity_set_name,
                        str(body.get("@odata.id", "")),
                        self.api_url(request),
                    )
                    writer.set_lookup(entity, record_id, single.referencing_attribute, target, target_id)
                    return ApiResponse.empty(204)
                if request.method == "DELETE":
                    writer.set_lookup(entity, record_id, single.referencing_attribute, None, None)
                    return ApiResponse.empty(204)
                if request.method == "GET":
                    return self._single_ref(request, caller, entity, record_id, single)
                raise method_not_allowed("Only GET, PUT and DELETE are allowed on a single-valued $ref.")
            row = self.state.storage.get(entity.logical_name, entity.primary_id, record_id) or {}
            related_id = row.get(single.referencing_attribute)
            related_type = row.get(f"{single.referencing_attribute}__type") or single.referenced_entity
            if not related_id:
                return ApiResponse.empty(204)
            related = catalogue.entity(str(related_type))
            return reader.retrieve(related, str(related_id), parse_query_options(request.query))
        collection = catalogue.collection_nav(entity.logical_name, second.name)
        if collection is not None:
            child = catalogue.entity(collection.referencing_entity)
            if (rest and rest[-1].name == "$ref") or (len(rest) == 2 and rest[1].name == "$ref"):
                return self._collection_ref(request, caller, entity, record_id, collection, child, second, rest)
            if request.method == "GET":
                options = parse_query_options(request.query)
                clause = (f't."{collection.referencing_attribute}" = ?', [record_id])
                if rest and rest[0].name == "$count":
                    return reader.count_only(child, options, parent_clause=clause)
                if rest:
                    raise resource_not_found(rest[0].name)
                path = f"{entity.entity_set_name}({record_id})/{second.name}"
                return reader.collection(child, options, request.query, path, parent_clause=clause)
            if request.method == "POST":
                body = self._body(request, child)
                link = {
                    collection.referencing_attribute: record_id,
                    f"{collection.referencing_attribute}__type": entity.logical_name,
                }
                new_id = writer.create(child, body, key_values=link)
                return self._written(
                    request, caller, child, new_id, parse_prefer(request.headers.get("Prefer")), created=True
                )
            if request.method == "PUT" and second.name.endswith("_activity_parties"):
                body = request.json() or {}
                for party_id in [
                    r[0]
                    for r in self.state.storage.conn.execute(
                        'SELECT activitypartyid FROM "activityparty" WHERE activityid = ?', (record_id,)
                    )
                ]:
                    writer.delete(child, party_id)
                link = {
                    collection.referencing_attribute: record_id,
                    f"{collection.referencing_attribute}__type": entity.logical_name,
                }
                for item in body.get("value", []):
                    writer.create(child, item, key_values=link)
                return ApiResponse.empty(204)
            raise method_not_allowed(f"The HTTP method '{request.method}' is not allowed on '{second.name}'.")
        attribute = entity.attribute(second.name)
        if attribute is not None and attribute.is_stored and not attribute.is_lookup:
            if request.method == "GET":
                projection = projection_for(entity, [second.name])
                row = self.state.storage.get(entity.logical_name, entity.primary_id, record_id) or {}
                owner = record_owner(self.state, entity, record_id)
                self.state.security.require_record(caller.user_id, "Read", entity, record_id, owner)
                values = reader.serialize(
                    entity,
                    projection,
                    [[row.get(a.logical_name) for a in projection.attributes if not a.is_lookup]],
                    has_version=False,
                )
                if rest and rest[0].name == "$value":
                    # retrieve-entity-using-web-api.md, "Retrieve the raw value of a property": text/plain.
                    raw = values[0].get(second.name)
                    text = "" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
                    response = ApiResponse(200, body=text.encode())
                    response.headers.set("Content-Type", "text/plain")
                    response.headers.set("OData-Version", "4.0")
                    return response
                if rest:
                    raise resource_not_found(rest[0].name)
                payload = {
                    "@odata.context": (
                        f"{self.api_url(request)}$metadata#{entity.entity_set_name}({record_id})/{second.name}"
                    ),
                    "value": values[0].get(second.name),
                }
                return ApiResponse.json(200, payload)
            if request.method == "PUT":
                body = request.json() or {}
                writer.update(entity, record_id, {second.name: body.get("value")})
                return ApiResponse.empty(204)
            if request.method == "DELETE":
                writer.update(entity, record_id, {second.name: None})
                return ApiResponse.empty(204)
        raise resource_not_found(second.name)

    def _collection_ref(
        self,
        request: ApiRequest,
        caller: Caller,
        entity: EntityDef,
        record_id: str,
        collection: Any,
        child: EntityDef,
        second: Segment,
        rest: list[Segment],
    ) -> ApiResponse:
        writer = RecordWriter(self.state, caller, self.api_url(request))
        if request.method == "GET" and len(rest) == 1:
            return self._collection_refs(request, caller, entity, record_id, collection, child)
        if request.method == "POST":
            body = request.json() or {}
            target, target_id = resolve_reference(
                self.state, entity.entity_set_name, str(body.get("@odata.id", "")), self.api_url(request)
            )
            if target.logical_name != child.logical_name:
                raise bad_request(f"'{body.get('@odata.id')}' cannot be associated through '{second.name}'.")
            writer.set_lookup(child, target_id, collection.referencing_attribute, entity, record_id)
            return ApiResponse.empty(204)
        if request.method == "DELETE":
            child_id = None
            if second.args:
                # associate-disassociate-entities-using-web-api.md, "Remove a reference to a table row": "Or,
                # use this": DELETE …/opportunity_customer_accounts(<id>)/$ref.
                child_id = parse_key(second.args).guid
            elif len(rest) == 2 and rest[0].args:
                child_id = parse_key(rest[0].args).guid
            else:
                match = re.search(r"\$id=([^&]+)", request.raw_query)
                if match:
                    from urllib.parse import unquote

                    _, child_id = resolve_reference(
                        self.state, entity.entity_set_name, unquote(match.group(1)), self.api_url(request)
                    )
            if child_id is None:
                raise bad_request("The $id of the record to disassociate is missing.")
            writer.set_lookup(child, child_id, collection.referencing_attribute, None, None)
            return ApiResponse.empty(204)
        raise method_not_allowed("Only POST and DELETE are allowed on a collection $ref.")

    def _single_ref(
        self, request: ApiRequest, caller: Caller, entity: EntityDef, record_id: str, single: Any
    ) -> ApiResponse:
        """GET ``<record>/<lookup nav>/$ref``: the related record's ``@odata.id`` (OData JSON 4.0, "Entity
        Reference"); 204 when the lookup is empty."""
        owner = record_owner(self.state, entity, record_id)
        self.state.security.require_record(caller.user_id, "Read", entity, record_id, owner)
        row = self.state.storage.get(entity.logical_name, entity.primary_id, record_id) or {}
        related_id = row.get(single.referencing_attribute)
        if not related_id:
            return ApiResponse.empty(204)
        related = self.state.catalogue.entity(
            str(row.get(f"{single.referencing_attribute}__type") or single.referenced_entity)
        )
        payload = {
            "@odata.context": f"{self.api_url(request)}$metadata#$ref",
            "@odata.id": self.entity_url(request, related, str(related_id)),
        }
        return ApiResponse.json(200, payload)

    def _collection_refs(
        self, request: ApiRequest, caller: Caller, entity: EntityDef, record_id: str, collection: Any, child: EntityDef
    ) -> ApiResponse:
        """GET ``<record>/<collection nav>/$ref``: the related records' ``@odata.id`` (``Collection($ref)``)."""
        reader = Reader(self.state, caller.user_id, self.api_url(request), parse_prefer(request.headers.get("Prefer")))
        clause = (f't."{collection.referencing_attribute}" = ?', [record_id])
        options = QueryOptions(select=(child.primary_id,))
        path = f"{entity.entity_set_name}({record_id})"
        listed = orjson.loads(reader.collection(child, options, [], path, parent_clause=clause).body)
        payload = {
            "@odata.context": f"{self.api_url(request)}$metadata#Collection($ref)",
            "value": [
                {"@odata.id": self.entity_url(request, child, item[child.primary_id])} for item in listed["value"]
            ],
        }
        return ApiResponse.json(200, payload)

    def _total_record_count(self, request: ApiRequest, caller: Caller, head: Segment) -> ApiResponse:
        """The unbound function ``RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["account","contact"]``
        (webapi/samples/webapiservice-functions-and-actions.md, "Unbound Function RetrieveTotalRecordCount"). Dataverse
        answers from a snapshot up to a day old; the sandbox counts now.

        Raises:
            DataverseError: 400 without a list of table names; 404 for an unknown table; 403 without read on it.
        """
        if request.method != "GET":
            raise method_not_allowed("RetrieveTotalRecordCount is a function: use GET.")
        raw = parse_named_args(head.args or "").get("EntityNames", "")
        text = function_parameter(request, raw) if raw.startswith("@") else raw
        try:
            names = orjson.loads(text.replace("'", '"'))
        except orjson.JSONDecodeError:
            names = None
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise bad_request('EntityNames must be a list of table logical names, such as ["account"].', "0x80060888")
        values = []
        for name in names:
            entity = self.state.catalogue.entity(name)
            self.state.security.require(caller.user_id, "Read", entity)
            values.append(int(self.state.storage.scalar(f'SELECT COUNT(*) FROM "{entity.logical_name}"') or 0))
        payload = {
            "@odata.context": f"{self.api_url(request)}$metadata#{ACTION_PREFIX}RetrieveTotalRecordCountResponse",
            "EntityRecordCountCollection": {"Count": len(names), "IsReadOnly": False, "Keys": names, "Values": values},
        }
        return ApiResponse.json(200, payload)

    def _shared_principals(self, request: ApiRequest, caller: Caller) -> ApiResponse:
        del caller
        payload = {
            "@odata.context": (
                f"{self.api_url(request)}$metadata#Microsoft.Dynamics.CRM.RetrieveSharedPrincipalsAndAccessResponse"
            ),
            "PrincipalAccesses": [],
        }
        return ApiResponse.json(200, payload)


def error_response(error: DataverseError) -> ApiResponse:
    """A Dataverse error as a response."""
    response = ApiResponse.raw_json(error.status, orjson.dumps(error.body()))
    for name, value in error.headers.items():
        response.headers.set(name, value)
    return response


__all__ = ["API_ROOT", "Engine", "error_response"]
