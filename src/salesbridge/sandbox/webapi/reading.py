"""Reads: collections with paging, single records, ``$expand``, annotations and change tracking.

Paging uses an opaque ``$skiptoken`` shaped like Dataverse's paging cookie; without ``$orderby`` it is a
keyset on the primary key, so every page costs the same however deep it is.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import orjson

from salesbridge.sandbox.catalogue.definitions import (
    AttributeDef,
    AttributeType,
    EntityDef,
    lookup_type_column,
    quote_ident,
)
from salesbridge.sandbox.errors import (
    DataverseError,
    bad_request,
    expired_version_stamp,
    property_not_found,
    query_syntax_error,
)
from salesbridge.sandbox.odata.filter.sql import CallerFacts, compile_filter, compile_orderby
from salesbridge.sandbox.odata.messages import ApiResponse
from salesbridge.sandbox.odata.query_options import ExpandOption, Prefer, QueryOptions
from salesbridge.sandbox.odata.values import formatted_value
from salesbridge.sandbox.organization.security import Depth
from salesbridge.sandbox.organization.state import SandboxState

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
ASSOCIATED_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty"
TOTAL_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount"
TOTAL_COUNT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
MAX_COUNT = 5000

_TRACKING_REFUSED = ("$filter", "$orderby", "$expand", "$top")
_EXPAND_LIMITS = (
    "Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested "
    "one-to-many relationship."
)
_EXPAND_REF_ON_COLLECTION = "Expand with $ref is only supported on lookup type navigation property."
#: Tables that inherit the principal entity type: they carry ``ownerid`` beside their own key.
_PRINCIPALS = frozenset({"systemuser", "team"})


@dataclass(frozen=True)
class Projection:
    """The columns a query returns: attributes in output order, and the storage columns to select."""

    attributes: tuple[AttributeDef, ...]
    explicit: bool

    def selected_columns(self, entity: EntityDef) -> list[str]:
        """Columns to SELECT for serialisation: ``versionnumber`` (the ETag) first when the table has it."""
        columns = self.storage_columns()
        return ["versionnumber", *columns] if entity.attribute("versionnumber") else columns

    def storage_columns(self) -> list[str]:
        """Storage columns to SELECT (after versionnumber), lookups followed by their type column."""
        columns: list[str] = []
        for attribute in self.attributes:
            columns.append(attribute.logical_name)
            if attribute.is_lookup:
                columns.append(lookup_type_column(attribute.logical_name))
        return columns


def projection_for(entity: EntityDef, select: Sequence[str] | None) -> Projection:
    """Resolve ``$select`` names (``_x_value`` for lookups) to attributes; the primary key is always included.

    Raises:
        DataverseError: 400 ``0x80060888`` for a name that is not a readable column.
    """
    if not select:
        attributes = [a for a in entity.stored_attributes if a.is_valid_for_read]
        return Projection(tuple(attributes), explicit=False)
    chosen: list[AttributeDef] = []
    seen: set[str] = set()
    for name in select:
        attribute = _attribute_for_property(entity, name)
        if attribute is None:
            raise property_not_found(name, entity.logical_name)
        if attribute.logical_name not in seen:
            seen.add(attribute.logical_name)
            chosen.append(attribute)
    currency = entity.attribute("transactioncurrencyid")
    if (
        currency is not None
        and currency.logical_name not in seen
        and any(a.type == AttributeType.MONEY for a in chosen)
    ):
        # A money column brings its currency (select-columns.md: "_transactioncurrencyid_value ... is included
        # because revenue is a currency property").
        seen.add(currency.logical_name)
        chosen.append(currency)
    if entity.primary_id not in seen:
        chosen.append(entity.attributes[entity.primary_id])
    return Projection(tuple(chosen), explicit=True)


def _attribute_for_property(entity: EntityDef, name: str) -> AttributeDef | None:
    if name.startswith("_") and name.endswith("_value"):
        attribute = entity.attribute(name[1:-6])
        return attribute if attribute is not None and attribute.is_lookup else None
    attribute = entity.attribute(name)
    if attribute is None or attribute.is_lookup or not attribute.is_stored:
        return None
    return attribute


def make_skiptoken(page_number: int, pk_name: str, last: str | None, first: str | None, *, extra: str = "") -> str:
    """A paging cookie in Dataverse's shape (the inner cookie URL-encoded twice)."""
    inner = f'<cookie page="{page_number - 1}"{extra}>'
    if last is not None:
        inner += f'<{pk_name} last="{{{last.upper()}}}" first="{{{(first or last).upper()}}}" />'
    inner += "</cookie>"
    tracking = "True" if extra else "False"
    return (
        f'<cookie pagenumber="{page_number}" pagingcookie="{quote(quote(inner, safe=""), safe="")}" '
        f'istracking="{tracking}" />'
    )


@dataclass(frozen=True)
class PageCursor:
    """Where the next page starts, decoded from a ``$skiptoken``."""

    page_number: int
    last_key: str | None
    attributes: dict[str, str]


def parse_skiptoken(token: str) -> PageCursor:
    """Decode a ``$skiptoken`` made by :func:`make_skiptoken`.

    Raises:
        DataverseError: 400 when the token is not one of ours.
    """
    page = re.search(r'pagenumber="(\d+)"', token)
    cookie = re.search(r'pagingcookie="([^"]*)"', token)
    if not page or not cookie:
        raise bad_request("The $skiptoken is not valid.", "0x80060888")
    inner = unquote(unquote(cookie.group(1)))
    last = re.search(r'last="\{([0-9A-Fa-f-]{36})\}"', inner)
    attributes = dict(re.findall(r'(\w+)="([^"]*)"', inner.split(">", 1)[0]))
    return PageCursor(int(page.group(1)), last.group(1).lower() if last else None, attributes)


_LINK_SAFE = ",()'=/@:$"


def encode_query(pairs: Sequence[tuple[str, str]]) -> str:
    """A query string in the readable form Dataverse's links use."""
    return "&".join(f"{name}={quote(value, safe=_LINK_SAFE)}" for name, value in pairs)


def expand_context(expand: Sequence[ExpandOption]) -> list[str]:
    """The ``@odata.context`` parts of ``$expand``: ``nav(selected,nested(...))``, ``nav,nav/$ref()``."""
    parts: list[str] = []
    for option in expand:
        if option.ref:
            parts += [option.nav, f"{option.nav}/$ref()"]
        else:
            inner = [*(option.select or ()), *expand_context(option.expand)]
            parts.append(f"{option.nav}({','.join(inner)})")
    return parts


def _nested(options: QueryOptions) -> bool:
    return any(option.nested for option in options.expand)


class Reader:
    """Answers GET requests for one caller."""

    def __init__(self, state: SandboxState, caller_id: str, api_url: str, prefer: Prefer) -> None:
        self.state = state
        self.caller_id = caller_id
        self.api_url = api_url
        self.prefer = prefer
        self.storage = state.storage
        self.catalogue = state.catalogue

    def context_url(
        self,
        entity: EntityDef,
        projection: Projection,
        suffix: str = "",
        *,
        options: QueryOptions | None = None,
    ) -> str:
        """The ``@odata.context`` of a result: the selected properties as requested (the primary key only when
        asked for, or alone) and each expansion with its own (join-tables.md)."""
        names: list[str] = []
        if options is not None and options.select is not None:
            names = list(options.select)
        elif projection.explicit:
            names = [
                a.json_name
                for a in projection.attributes
                if a.logical_name != entity.primary_id or len(projection.attributes) == 1
            ]
        if options is not None:
            names += expand_context(options.expand)
        if names:
            return f"{self.api_url}$metadata#{entity.entity_set_name}({','.join(names)}){suffix}"
        return f"{self.api_url}$metadata#{entity.entity_set_name}{suffix}"

    def _caller_facts(self) -> CallerFacts:
        """The caller's id, business unit and teams (EqualUserId, EqualBusinessId, EqualUserTeams …)."""
        security = self.state.security
        unit = security.business_unit_of(self.caller_id)
        return CallerFacts(self.caller_id, unit, tuple(security.user_teams(self.caller_id)))

    def _where(self, entity: EntityDef, options: QueryOptions, alias: str) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if options.filter is not None:
            sql, filter_params = compile_filter(
                options.filter, entity, self.catalogue, alias=alias, now=self.state.now(), caller=self._caller_facts
            )
            clauses.append(f"({sql})")
            params.extend(filter_params)
        scope = self.state.security.read_scope(self.caller_id, entity, alias)
        if scope is not None:
            clauses.append(scope[0])
            params.extend(scope[1])
        return clauses, params

    def collection(
        self,
        entity: EntityDef,
        options: QueryOptions,
        query_pairs: Sequence[tuple[str, str]],
        path: str,
        *,
        parent_clause: tuple[str, list[Any]] | None = None,
    ) -> ApiResponse:
        """GET of an entity set (or of a collection-valued navigation property via ``parent_clause``).

        Raises:
            DataverseError: 400 for invalid options, 403 without read privilege.
        """
        if self.prefer.track_changes or options.deltatoken is not None:
            return self._tracked(entity, options, query_pairs, path)
        projection = projection_for(entity, self.select_with_ref_lookups(entity, options))
        alias = "t"
        clauses, params = self._where(entity, options, alias)
        if parent_clause is not None:
            clauses.append(parent_clause[0])
            params.extend(parent_clause[1])
        page_size = self.prefer.maxpagesize or self.state.config.max_page_size
        limit = page_size
        top_only = options.top is not None and self.prefer.maxpagesize is None
        if top_only and options.top is not None:
            limit = min(options.top, self.state.config.max_page_size)
        cursor = parse_skiptoken(options.skiptoken) if options.skiptoken else None
        pk = f"{alias}.{quote_ident(entity.primary_id)}"
        offset = 0
        if options.orderby:
            order_sql = compile_orderby(options.orderby, entity, alias=alias, catalogue=self.catalogue) + f", {pk}"
            if cursor:
                offset = (cursor.page_number - 1) * page_size
        else:
            order_sql = pk
            if cursor and cursor.last_key:
                clauses.append(f"{pk} > ?")
                params.append(cursor.last_key)
        select_columns = projection.selected_columns(entity)
        expand_columns = self._expand_columns(entity, options.expand)
        sql = (
            f"SELECT {', '.join(f'{alias}.{quote_ident(c)}' for c in [*select_columns, *expand_columns])} "
            f"FROM {quote_ident(entity.logical_name)} AS {alias}"
        )
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {order_sql} LIMIT ? OFFSET ?"
        _, rows = self.storage.query(sql, [*params, limit + 1, offset])
        more = len(rows) > limit and not top_only
        rows = rows[:limit]
        values = self.serialize(entity, projection, rows, has_version="versionnumber" in select_columns)
        if options.expand:
            self._apply_expand(entity, options.expand, rows, values, len(select_columns), nested_mode=_nested(options))
        payload: dict[str, Any] = {"@odata.context": self.context_url(entity, projection, options=options)}
        total = self._count(entity, clauses, params) if options.count else -1
        if options.count:
            payload["@odata.count"] = min(total, MAX_COUNT)
        if self.prefer.wants_annotation(TOTAL_COUNT):
            payload[f"@{TOTAL_COUNT}"] = min(total, MAX_COUNT) if total >= 0 else -1
            payload[f"@{TOTAL_COUNT_EXCEEDED}"] = total > MAX_COUNT
        payload["value"] = values
        if more:
            page_number = cursor.page_number + 1 if cursor else 2
            last = rows[-1][select_columns.index(entity.primary_id)] if rows else None
            first = rows[0][select_columns.index(entity.primary_id)] if rows else None
            token = make_skiptoken(page_number, entity.primary_id, last, first)
            kept = [(k, v) for k, v in query_pairs if k != "$skiptoken"]
            payload["@odata.nextLink"] = f"{self.api_url}{path}?{encode_query([*kept, ('$skiptoken', token)])}"
        return ApiResponse.raw_json(200, orjson.dumps(payload), self._applied())

    def _count(self, entity: EntityDef, clauses: list[str], params: list[Any]) -> int:
        sql = f"SELECT COUNT(*) FROM {quote_ident(entity.logical_name)} AS t"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return int(self.storage.scalar(sql, params) or 0)

    def count_only(
        self, entity: EntityDef, options: QueryOptions, *, parent_clause: tuple[str, list[Any]] | None = None
    ) -> ApiResponse:
        """GET ``<set>/$count`` (or ``<record>/<collection nav>/$count`` with ``parent_clause``): a plain-text
        number (capped at 5,000)."""
        clauses, params = self._where(entity, options, "t")
        if parent_clause is not None:
            clauses.append(parent_clause[0])
            params.extend(parent_clause[1])
        total = self._count(entity, clauses, params)
        response = ApiResponse(200, body=str(min(total, MAX_COUNT)).encode())
        response.headers.set("Content-Type", "text/plain")
        return response

    def retrieve(self, entity: EntityDef, record_id: str, options: QueryOptions, *, status: int = 200) -> ApiResponse:
        """GET of one record.

        Raises:
            DataverseError: 404 when it does not exist; 403 without read access to it.
        """
        from salesbridge.sandbox.webapi.records import record_owner

        projection = projection_for(entity, self.select_with_ref_lookups(entity, options))
        select_columns = projection.selected_columns(entity)
        expand_columns = self._expand_columns(entity, options.expand)
        sql = (
            f"SELECT {', '.join(f't.{quote_ident(c)}' for c in [*select_columns, *expand_columns])} "
            f"FROM {quote_ident(entity.logical_name)} AS t WHERE t.{quote_ident(entity.primary_id)} = ?"
        )
        _, rows = self.storage.query(sql, [record_id])
        if not rows:
            from salesbridge.sandbox.errors import record_not_found

            raise record_not_found(entity.logical_name, record_id)
        owner = record_owner(self.state, entity, record_id)
        self.state.security.require_record(self.caller_id, "Read", entity, record_id, owner)
        values = self.serialize(entity, projection, rows, has_version="versionnumber" in select_columns)
        if options.expand:
            self._apply_expand(entity, options.expand, rows, values, len(select_columns), nested_mode=_nested(options))
        payload = {"@odata.context": self.context_url(entity, projection, "/$entity", options=options), **values[0]}
        headers = self._applied()
        if "versionnumber" in select_columns:
            headers["ETag"] = f'W/"{rows[0][0]}"'
        return ApiResponse.raw_json(status, orjson.dumps(payload), headers)

    def applied_headers(self) -> dict[str, str]:
        """The ``Preference-Applied`` header of a read, when a read preference applies."""
        return self._applied()

    def _applied(self) -> dict[str, str]:
        applied = self.prefer.applied_header()
        return {"Preference-Applied": applied} if applied else {}

    def serialize(
        self, entity: EntityDef, projection: Projection, rows: Sequence[Sequence[Any]], *, has_version: bool
    ) -> list[dict[str, Any]]:
        """Rows (versionnumber first when ``has_version``, then the projection's storage columns) as JSON objects."""
        keys: list[str] = []
        booleans: list[int] = []
        lookups: list[tuple[int, AttributeDef]] = []
        offset = 1 if has_version else 0
        position = offset
        for attribute in projection.attributes:
            keys.append(attribute.json_name)
            if attribute.type == AttributeType.BOOLEAN:
                booleans.append(len(keys) - 1)
            if attribute.is_lookup:
                lookups.append((position, attribute))
                position += 2
            else:
                position += 1
        plain = not lookups
        end = position
        want_formatted = self.prefer.wants_annotation(FORMATTED)
        want_lookup_name = self.prefer.wants_annotation(LOOKUP_LOGICAL_NAME)
        want_nav = self.prefer.wants_annotation(ASSOCIATED_NAV)
        # Users and teams inherit principal and carry its key, ownerid, beside their own (join-tables.md,
        # "Expand single-valued navigation properties"; multi-level-expand.md shows it on a systemusers query).
        principal = entity.logical_name in _PRINCIPALS
        result: list[dict[str, Any]] = []
        # Storage positions of the output values: lookups occupy two storage columns (id, target table).
        positions: list[int] = []
        index = offset
        for attribute in projection.attributes:
            positions.append(index)
            index += 2 if attribute.is_lookup else 1
        pick = operator.itemgetter(*positions) if len(positions) > 1 else None
        for row in rows:
            if plain:
                values = list(row[offset:end])
            elif pick is not None:
                values = list(pick(row))
            else:
                values = [row[positions[0]]]
            for b in booleans:
                if values[b] is not None:
                    values[b] = bool(values[b])
            item: dict[str, Any] = {"@odata.etag": f'W/"{row[0]}"'} if has_version else {}
            item.update(zip(keys, values, strict=True))
            if principal and entity.primary_id in item:
                item["ownerid"] = item[entity.primary_id]
            result.append(item)
        if lookups and (want_formatted or want_lookup_name or want_nav):
            self._annotate_lookups(entity, rows, result, lookups, want_formatted, want_lookup_name, want_nav)
        if want_formatted:
            for attribute in projection.attributes:
                if attribute.is_lookup:
                    continue
                name = attribute.json_name
                for item in result:
                    text = formatted_value(attribute, item.get(name))
                    if text is not None:
                        item[f"{name}@{FORMATTED}"] = text
        if want_formatted or (lookups and (want_lookup_name or want_nav)):
            result = [_annotations_before_values(item) for item in result]
        return result

    def _annotate_lookups(
        self,
        entity: EntityDef,
        rows: Sequence[Sequence[Any]],
        result: list[dict[str, Any]],
        lookups: list[tuple[int, AttributeDef]],
        want_formatted: bool,
        want_lookup_name: bool,
        want_nav: bool,
    ) -> None:
        names: dict[tuple[str, str], str | None] = {}
        if want_formatted:
            wanted: dict[str, set[str]] = {}
            for row in rows:
                for position, _ in lookups:
                    if row[position] is not None and row[position + 1]:
                        wanted.setdefault(str(row[position + 1]), set()).add(str(row[position]))
            for target_name, ids in wanted.items():
                target = self.catalogue.find_entity(target_name)
                if target is None:
                    continue
                id_list = sorted(ids)
                for start in range(0, len(id_list), 500):
                    chunk = id_list[start : start + 500]
                    sql = (
                        f"SELECT {quote_ident(target.primary_id)}, {quote_ident(target.primary_name)} "
                        f"FROM {quote_ident(target.logical_name)} WHERE {quote_ident(target.primary_id)} IN "
                        f"({', '.join('?' for _ in chunk)})"
                    )
                    for record_id, name in self.storage.query(sql, chunk)[1]:
                        names[(target_name, str(record_id))] = name
        for row, item in zip(rows, result, strict=True):
            for position, attribute in lookups:
                value = row[position]
                if value is None:
                    continue
                target_name = str(row[position + 1] or (attribute.targets[0] if attribute.targets else ""))
                key = attribute.json_name
                if want_formatted and names.get((target_name, str(value))) is not None:
                    item[f"{key}@{FORMATTED}"] = names[(target_name, str(value))]
                if want_nav:
                    relationship = self.catalogue.nav_for_lookup(
                        entity.logical_name, attribute.logical_name, target_name
                    )
                    if relationship is not None:
                        item[f"{key}@{ASSOCIATED_NAV}"] = relationship.referencing_nav
                if want_lookup_name:
                    item[f"{key}@{LOOKUP_LOGICAL_NAME}"] = target_name

    def _expand_columns(self, entity: EntityDef, expand: Sequence[ExpandOption]) -> list[str]:
        columns: list[str] = []
        for option in expand:
            relationship = self.catalogue.single_valued_nav(entity.logical_name, option.nav)
            if relationship is not None:
                columns += [
                    relationship.referencing_attribute,
                    lookup_type_column(relationship.referencing_attribute),
                ]
            elif (
                self.catalogue.collection_nav(entity.logical_name, option.nav) is not None
                or self.catalogue.many_to_many_nav(entity.logical_name, option.nav) is not None
            ):
                columns.append(entity.primary_id)
            else:
                raise property_not_found(option.nav, entity.logical_name)
        return columns

    def select_with_ref_lookups(self, entity: EntityDef, options: QueryOptions) -> tuple[str, ...] | None:
        """``$select`` plus the lookup of each ``nav/$ref`` expansion (Dataverse returns ``_x_value`` with it)."""
        if options.select is None:
            return None
        extra: list[str] = []
        for option in options.expand:
            relationship = self.catalogue.single_valued_nav(entity.logical_name, option.nav) if option.ref else None
            if relationship is not None:
                extra.append(f"_{relationship.referencing_attribute}_value")
        return (*options.select, *extra)

    def _apply_expand(
        self,
        entity: EntityDef,
        expand: Sequence[ExpandOption],
        rows: Sequence[Sequence[Any]],
        values: list[dict[str, Any]],
        start: int,
        *,
        nested_mode: bool,
    ) -> None:
        """Put the expansions of ``expand`` into ``values`` (one per row of ``rows``, whose expand columns begin
        at ``start``).

        ``nested_mode`` (a nested ``$expand`` anywhere in the query, join-tables.md): expanded collections are
        paged by ``odata.maxpagesize`` and their ``@odata.nextLink`` carries the paging cookie; otherwise they
        are not paged and the link is the filtered collection with the expansion's options.
        """
        position = start
        for option in expand:
            single = self.catalogue.single_valued_nav(entity.logical_name, option.nav)
            if single is not None:
                if option.top is not None or option.orderby:
                    raise query_syntax_error(_EXPAND_LIMITS)
                pairs = [(row[position], row[position + 1]) for row in rows]
                position += 2
                if self.catalogue.find_entity(single.referenced_entity) is not None:
                    # A navigation property of one table of a polymorphic lookup (regardingobjectid_contact_task)
                    # has nothing to expand when the lookup points at another table: null, as for no record.
                    pairs = [(i, t) if not t or t == single.referenced_entity else (None, None) for i, t in pairs]
                if option.ref:
                    for item, (target_id, target_type) in zip(values, pairs, strict=True):
                        item[option.nav] = self._reference(target_type or single.referenced_entity, target_id)
                    continue
                related = self._fetch_related(pairs, option, single.referenced_entity)
                for item, (target_id, target_type) in zip(values, pairs, strict=True):
                    key = (str(target_type or single.referenced_entity), str(target_id))
                    item[option.nav] = related.get(key) if target_id else None
                continue
            collection = self.catalogue.collection_nav(entity.logical_name, option.nav)
            many = self.catalogue.many_to_many_nav(entity.logical_name, option.nav) if collection is None else None
            if collection is None and many is None:
                raise property_not_found(option.nav, entity.logical_name)
            if option.ref:
                raise query_syntax_error(_EXPAND_REF_ON_COLLECTION)
            if nested_mode and (option.top is not None or option.orderby):
                raise query_syntax_error(_EXPAND_LIMITS)
            parent_ids = [str(row[position]) for row in rows]
            position += 1
            if collection is not None:
                child = self.catalogue.entity(collection.referencing_entity)
                parent, join = f"c.{quote_ident(collection.referencing_attribute)}", ""
            elif many is not None:
                relationship, mine, theirs, other = many
                child = self.catalogue.entity(other)
                parent = f"i.{quote_ident(mine)}"
                join = (
                    f" JOIN {quote_ident(relationship.intersect)} AS i ON i.{quote_ident(theirs)} = "
                    f"c.{quote_ident(child.primary_id)}"
                )
            select = option.select
            if select is not None and not nested_mode and collection is not None:
                # Single-level expansions return the lookup that ties each item to its parent.
                select = (*select, f"_{collection.referencing_attribute}_value")
            child_options = QueryOptions(select=select, filter=option.filter, orderby=option.orderby)
            most = self.state.config.max_page_size
            # Without a nested $expand, up to 5,000 related records each (join-tables.md), or $top of them.
            single_level = most if option.top is None else min(option.top, most)
            limit = (self.prefer.maxpagesize or most) if nested_mode else single_level
            grouped, more = self._fetch_children(
                child,
                parent,
                join,
                parent_ids,
                child_options,
                limit,
                option.expand,
                nested_mode=nested_mode,
            )
            for item, parent_id in zip(values, parent_ids, strict=True):
                item[option.nav] = grouped.get(parent_id, [])
                link = list(option.pairs)
                if nested_mode and parent_id in more:
                    last, first = more[parent_id]
                    link.append(("$skiptoken", make_skiptoken(2, child.primary_id, last, first)))
                query = encode_query(link)
                url = f"{self.api_url}{entity.entity_set_name}({parent_id})/{option.nav}"
                item[f"{option.nav}@odata.nextLink"] = f"{url}?{query}" if query else url

    def _reference(self, target_type: Any, target_id: Any) -> dict[str, str] | None:
        if not target_id:
            return None
        target = self.catalogue.entity(str(target_type))
        return {"@odata.id": f"{self.api_url}{target.entity_set_name}({target_id})"}

    def _expand_items(
        self, entity: EntityDef, expand: Sequence[ExpandOption], ids: list[str], items: list[dict[str, Any]]
    ) -> None:
        """A nested ``$expand``: expand ``items`` (records of ``entity`` with the primary keys ``ids``)."""
        columns = self._expand_columns(entity, expand)
        if not items:
            return
        id_list = sorted(set(ids))
        sql = (
            f"SELECT {quote_ident(entity.primary_id)}, {', '.join(quote_ident(c) for c in columns)} "
            f"FROM {quote_ident(entity.logical_name)} WHERE {quote_ident(entity.primary_id)} "
            f"IN ({', '.join('?' for _ in id_list)})"
        )
        by_id = {str(row[0]): row for row in self.storage.query(sql, id_list)[1]}
        self._apply_expand(entity, expand, [by_id[i] for i in ids], items, 1, nested_mode=True)

    def _fetch_related(
        self, pairs: list[tuple[Any, Any]], option: ExpandOption, referenced: str
    ) -> dict[tuple[str, str], dict[str, Any]]:
        by_type: dict[str, set[str]] = {}
        for target_id, target_type in pairs:
            if target_id:
                by_type.setdefault(str(target_type or referenced), set()).add(str(target_id))
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for type_name, ids in by_type.items():
            target = self.catalogue.entity(type_name)
            projection = projection_for(target, option.select)
            columns = projection.selected_columns(target)
            id_list = sorted(ids)
            sql = (
                f"SELECT {', '.join(quote_ident(c) for c in columns)}, {quote_ident(target.primary_id)} FROM "
                f"{quote_ident(target.logical_name)} WHERE {quote_ident(target.primary_id)} "
                f"IN ({', '.join('?' for _ in id_list)})"
            )
            _, rows = self.storage.query(sql, id_list)
            serialized = self.serialize(
                target, projection, [r[:-1] for r in rows], has_version="versionnumber" in columns
            )
            for item in serialized:
                # A related record comes without its ETag (join-tables.md).
                item.pop("@odata.etag", None)
            if option.expand:
                self._expand_items(target, option.expand, [str(r[-1]) for r in rows], serialized)
            for row, item in zip(rows, serialized, strict=True):
                found[(type_name, str(row[-1]))] = item
        return found

    def _fetch_children(
        self,
        child: EntityDef,
        parent: str,
        join: str,
        parent_ids: list[str],
        options: QueryOptions,
        limit: int | None,
        nested: Sequence[ExpandOption],
        *,
        nested_mode: bool,
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[str, str]]]:
        """Children of each parent, at most ``limit`` each; and, for a parent with more, its last and first
        child's keys (a paging cookie)."""
        if not parent_ids:
            return {}, {}
        projection = projection_for(child, options.select)
        columns = projection.selected_columns(child)
        clauses, params = self._where(child, options, "c")
        clauses.append(f"{parent} IN ({', '.join('?' for _ in parent_ids)})")
        params.extend(parent_ids)
        order = (
            compile_orderby(options.orderby, child, alias="c", catalogue=self.catalogue)
            if options.orderby
            else f"c.{quote_ident(child.primary_id)}"
        )
        sql = (
            f"SELECT {', '.join(f'c.{quote_ident(c)}' for c in columns)}, c.{quote_ident(child.primary_id)}, "
            f"{parent} FROM {quote_ident(child.logical_name)} AS c{join} WHERE {' AND '.join(clauses)} "
            f"ORDER BY {order}"
        )
        _, rows = self.storage.query(sql, params)
        kept: list[Sequence[Any]] = []
        counts: dict[str, list[str]] = {}
        more: dict[str, tuple[str, str]] = {}
        for row in rows:
            parent = str(row[-1])
            bucket = counts.setdefault(parent, [])
            if limit is not None and len(bucket) >= limit:
                if parent not in more and bucket:
                    more[parent] = (bucket[-1], bucket[0])
                continue
            bucket.append(str(row[-2]))
            kept.append(row)
        serialized = self.serialize(child, projection, [r[:-2] for r in kept], has_version="versionnumber" in columns)
        if nested_mode:
            # In a query with a nested $expand, expanded collections' items come without ETags (join-tables.md).
            for item in serialized:
                item.pop("@odata.etag", None)
        if nested:
            self._expand_items(child, nested, [str(r[-2]) for r in kept], serialized)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for kept_row, item in zip(kept, serialized, strict=True):
            grouped.setdefault(str(kept_row[-1]), []).append(item)
        return grouped, more

    def _tracked(
        self, entity: EntityDef, options: QueryOptions, query_pairs: Sequence[tuple[str, str]], path: str
    ) -> ApiResponse:
        for name, _ in query_pairs:
            if name in _TRACKING_REFUSED:
                raise bad_request(
                    f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.',
                    "0x80060888",
                )
        if not entity.change_tracking_enabled:
            raise DataverseError(
                400,
                "0x80044353",
                f"Entity: {entity.logical_name} is not enabled for change tracking. Change tracking must be enabled "
                f"on the entity to retrieve changes.",
            )
        self.state.security.require(self.caller_id, "Read", entity, minimum=Depth.GLOBAL)
        projection = projection_for(entity, options.select)
        page_size = self.prefer.maxpagesize or self.state.config.max_page_size
        select_pairs = [(k, v) for k, v in query_pairs if k == "$select"]
        if options.deltatoken is not None:
            since = self._parse_deltatoken(options.deltatoken)
            return self._delta(entity, projection, since, options, query_pairs, path, page_size, select_pairs)
        cursor = parse_skiptoken(options.skiptoken) if options.skiptoken else None
        snapshot = int(cursor.attributes.get("version", "0")) if cursor else self.storage.current_version
        columns = ["versionnumber", *projection.storage_columns()]
        sql = (
            f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM {quote_ident(entity.logical_name)} "
            "WHERE versionnumber <= ?"
        )
        params: list[Any] = [snapshot]
        if cursor and cursor.last_key:
            sql += f" AND {quote_ident(entity.primary_id)} > ?"
            params.append(cursor.last_key)
        sql += f" ORDER BY {quote_ident(entity.primary_id)} LIMIT ?"
        params.append(page_size + 1)
        _, rows = self.storage.query(sql, params)
        more = len(rows) > page_size
        rows = rows[:page_size]
        payload: dict[str, Any] = {"@odata.context": self.context_url(entity, projection)}
        payload["value"] = self.serialize(entity, projection, rows, has_version=True)
        if more:
            page_number = cursor.page_number + 1 if cursor else 2
            pk_index = columns.index(entity.primary_id)
            token = make_skiptoken(
                page_number,
                entity.primary_id,
                rows[-1][pk_index],
                rows[0][pk_index],
                extra=f' version="{snapshot}"',
            )
            kept = [(k, v) for k, v in query_pairs if k != "$skiptoken"]
            payload["@odata.nextLink"] = f"{self.api_url}{path}?{encode_query([*kept, ('$skiptoken', token)])}"
        else:
            payload = _delta_link_first(payload, self._delta_link(path, select_pairs, snapshot))
        headers = self._applied()
        return ApiResponse.raw_json(200, orjson.dumps(payload), headers)

    def _delta_link(self, path: str, select_pairs: list[tuple[str, str]], version: int) -> str:
        stamp = self.state.now().strftime("%m/%d/%Y %H:%M:%S")
        token = quote(f"{version}!{stamp}", safe="")
        query = encode_query(select_pairs)
        separator = "&" if query else ""
        return f"{self.api_url}{path}?{query}{separator}$deltatoken={token}"

    def _parse_deltatoken(self, token: str) -> int:
        version_text, _, stamp = token.partition("!")
        try:
            version = int(version_text)
            issued = datetime.strptime(stamp, "%m/%d/%Y %H:%M:%S").replace(tzinfo=self.state.now().tzinfo)
        except ValueError:
            raise bad_request("The $deltatoken is not valid.", "0x80060888") from None
        if self.state.now() - issued > timedelta(days=self.state.config.change_tracking_expiry_days):
            raise expired_version_stamp()
        return version

    def _delta(
        self,
        entity: EntityDef,
        projection: Projection,
        since: int,
        options: QueryOptions,
        query_pairs: Sequence[tuple[str, str]],
        path: str,
        page_size: int,
        select_pairs: list[tuple[str, str]],
    ) -> ApiResponse:
        cursor = parse_skiptoken(options.skiptoken) if options.skiptoken else None
        upto = (
            int(cursor.attributes["upto"]) if cursor and "upto" in cursor.attributes else self.storage.current_version
        )
        after = int(cursor.attributes.get("after", since)) if cursor else since
        columns = ["versionnumber", *projection.storage_columns()]
        sql = (
            f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM {quote_ident(entity.logical_name)} "
            f"WHERE versionnumber > ? AND versionnumber <= ? ORDER BY versionnumber LIMIT ?"
        )
        _, rows = self.storage.query(sql, [after, upto, page_size + 1])
        values: list[dict[str, Any]] = self.serialize(entity, projection, rows[:page_size], has_version=True)
        more = len(rows) > page_size
        next_after = rows[page_size - 1][0] if more else upto
        if not more:
            tomb_after = int(cursor.attributes.get("tomb", since)) if cursor else since
            tombstones = self.storage.tombstones_after(entity.logical_name, tomb_after, upto)
            room = page_size - len(values)
            context = f"{self.api_url}$metadata#{entity.entity_set_name}/$deletedEntity"
            for record_id, _version in tombstones[:room]:
                values.append({"@odata.context": context, "id": record_id, "reason": "deleted"})
            if len(tombstones) > room:
                more = True
                last_tomb = tombstones[room - 1][1] if room > 0 else tomb_after
                extra = f' version="{since}" upto="{upto}" after="{upto}" tomb="{last_tomb}"'
            else:
                extra = ""
        else:
            extra = f' version="{since}" upto="{upto}" after="{next_after}" tomb="{since}"'
        payload: dict[str, Any] = {
            "@odata.context": self.context_url(entity, projection, "/$delta"),
            "value": values,
        }
        if more:
            page_number = cursor.page_number + 1 if cursor else 2
            token = make_skiptoken(page_number, entity.primary_id, None, None, extra=extra)
            kept = [(k, v) for k, v in query_pairs if k != "$skiptoken"]
            payload["@odata.nextLink"] = f"{self.api_url}{path}?{encode_query([*kept, ('$skiptoken', token)])}"
        else:
            payload = _delta_link_first(payload, self._delta_link(path, select_pairs, upto))
        return ApiResponse.raw_json(200, orjson.dumps(payload), self._applied())


def _delta_link_first(payload: dict[str, Any], link: str) -> dict[str, Any]:
    """The last page of a change-tracking read: ``@odata.deltaLink`` between the context and ``value``, where
    use-change-tracking-synchronize-data-external-systems.md shows it (``@odata.nextLink`` stays after ``value``)."""
    return {"@odata.context": payload["@odata.context"], "@odata.deltaLink": link, "value": payload["value"]}


def _annotations_before_values(item: dict[str, Any]) -> dict[str, Any]:
    """A record with each property's annotations (``name@…``, in the order they were added) right before the
    property, as Dataverse answers and every example of the query pages shows (formatted value, associated
    navigation property, lookup logical name, then the value)."""
    annotations: dict[str, list[tuple[str, Any]]] = {}
    properties: list[tuple[str, Any]] = []
    for key, value in item.items():
        name, at, _ = key.partition("@")
        if at and name:
            annotations.setdefault(name, []).append((key, value))
        else:
            properties.append((key, value))
    ordered: dict[str, Any] = {}
    for key, value in properties:
        ordered.update(annotations.pop(key, ()))
        ordered[key] = value
    for rest in annotations.values():
        ordered.update(rest)
    return ordered
