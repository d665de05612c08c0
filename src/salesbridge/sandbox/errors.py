"""Errors the sandbox answers with, in Dataverse's shape: ``{"error": {"code": "0x…", "message": "…"}}``.

Every failure inside the sandbox is raised as a :class:`DataverseError`; the HTTP adapter turns it into a
response. The constructors below carry the codes and message texts Dataverse uses (see
``reference/dataverse.md`` §4).
"""

from __future__ import annotations

from collections.abc import Mapping


class DataverseError(Exception):
    """A Web API error response: HTTP status, Dataverse error code (hex string) and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, object]:
        """The JSON error body."""
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"DataverseError({self.status}, {self.code!r}, {self.message!r})"


def resource_not_found(segment: str) -> DataverseError:
    """404 for an unknown URL segment (entity set, function, property)."""
    return DataverseError(404, "0x0", f"Resource not found for the segment '{segment}'.")


def property_not_found(name: str, entity: str) -> DataverseError:
    """400 ``0x80060888`` for an unknown property in a query option."""
    return DataverseError(
        400,
        "0x80060888",
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'.",
    )


def query_syntax_error(message: str) -> DataverseError:
    """400 ``0x80060888`` for a malformed query option."""
    return DataverseError(400, "0x80060888", message)


def unsupported_query_option(option: str) -> DataverseError:
    """400 for a system query option Dataverse does not support (``$skip``, ``$search``, ``$format``)."""
    return DataverseError(
        400,
        "0x80060888",
        f"The query parameter {option} is not supported",
    )


def record_not_found(entity: str, record_id: str) -> DataverseError:
    """404 ``0x80040217`` ObjectDoesNotExist."""
    return DataverseError(404, "0x80040217", f"Entity '{entity}' With Id = {record_id} Does Not Exist")


def duplicate_record() -> DataverseError:
    """412 ``0x80040237`` DuplicateRecord (create of an existing primary key)."""
    return DataverseError(412, "0x80040237", "A record with matching key values already exists.")


def version_mismatch() -> DataverseError:
    """412 ConcurrencyVersionMismatch (If-Match with a stale ETag)."""
    return DataverseError(
        412,
        "0x80060882",
        "The version of the existing record doesn't match the RowVersion property provided.",
    )


def payload_error(entity_set: str, inner: str) -> DataverseError:
    """400 ``0x80048d19`` ODataClientPayloadError: unknown property, bad literal, wrong bind name."""
    return DataverseError(
        400,
        "0x80048d19",
        f"Error identified in Payload provided by the user for Entity :'{entity_set}', For more "
        f"information on this error please follow this help link "
        f"https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : "
        f"Microsoft.OData.ODataException: {inner}",
    )


def undeclared_property(entity_set: str, name: str) -> DataverseError:
    """The payload error Dataverse gives for an ``@odata.bind`` on a navigation property that does not exist."""
    return payload_error(
        entity_set,
        f"An undeclared property '{name}' which only has property annotations in the payload but no "
        f"property value was found in the payload. In OData, only declared navigation properties and "
        f"declared named streams can be represented as properties without values.",
    )


def max_length_exceeded(attribute: str, entity: str, max_length: int) -> DataverseError:
    """400 ``0x80044331``: a string longer than the column's MaxLength."""
    return DataverseError(
        400,
        "0x80044331",
        f"A validation error occurred.  The length of the '{attribute}' attribute of the '{entity}' "
        f"entity exceeded the maximum allowed length of '{max_length}'.",
    )


def expired_version_stamp() -> DataverseError:
    """ExpiredVersionStamp ``0x80044352``: a change-tracking token older than the retention period."""
    return DataverseError(
        400,
        "0x80044352",
        "Version stamp associated with the client has expired. Please perform a full sync.",
    )


def privilege_denied(
    user_id: str, privilege: str, privilege_id: str, entity: str, object_type_code: int
) -> DataverseError:
    """403 ``0x80040220`` PrivilegeDenied, in the message shape Dataverse uses."""
    return DataverseError(
        403,
        "0x80040220",
        f"Principal user (Id={user_id}, type=8, roleCount=1, privilegeCount=0, accessMode=0), is missing "
        f"{privilege} privilege (Id={privilege_id}) on OTC={object_type_code} for entity '{entity}'. "
        f"context.Caller={user_id}. Consider assigning a role with the required access level to the "
        f"user or team.",
    )


def record_access_denied(
    *, object_id: str, owner_id: str, caller_id: str, object_type_code: int, business_unit_id: str, right: str
) -> DataverseError:
    """403 ``0x80048306``: the caller holds the privilege, but not at a depth covering this record."""
    return DataverseError(
        403,
        "0x80048306",
        f"SecLib::AccessCheckEx failed. Returned hr = -2147187962, ObjectID: {object_id}, OwnerId: "
        f"{owner_id},  OwnerIdType: 8 and CallingUser: {caller_id}. ObjectTypeCode: {object_type_code}, "
        f"objectBusinessUnitId: {business_unit_id}, AccessRights: {right} ",
    )


def bad_request(message: str, code: str = "0x80040203") -> DataverseError:
    """A generic 400 (InvalidArgument by default)."""
    return DataverseError(400, code, message)


def method_not_allowed(message: str) -> DataverseError:
    """405 for an operation the resource does not support."""
    return DataverseError(405, "0x80060888", message)
