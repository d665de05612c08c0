"""The connect use cases under the names their importers know: creating an organization and connecting it
(:mod:`salesbridge.services.connecting`), the pre-flight and its outcomes (:mod:`salesbridge.services.preflight`),
the connection's status (:mod:`salesbridge.services.crm_status`), and the store's port. No code of its own: new code
imports from those modules, and this one goes when its importers (entry points and tests) have moved.
"""

from __future__ import annotations

from salesbridge.domain.workspace import CrmCredentials as CrmCredentials
from salesbridge.errors import UnknownOrganizationError as UnknownOrganizationError
from salesbridge.services.connecting import INITIAL_IMPORT_REASON as INITIAL_IMPORT_REASON
from salesbridge.services.connecting import ConnectTargets as ConnectTargets
from salesbridge.services.connecting import chosen_ca_bundle as chosen_ca_bundle
from salesbridge.services.connecting import connect_crm as connect_crm
from salesbridge.services.connecting import create_organization as create_organization
from salesbridge.services.connecting import stored_credentials as stored_credentials
from salesbridge.services.crm_status import CrmStatus as CrmStatus
from salesbridge.services.crm_status import QueuedImport as QueuedImport
from salesbridge.services.crm_status import crm_status as crm_status
from salesbridge.services.ports import CrmSessionFactory as CrmSessionFactory
from salesbridge.services.ports import StoreAccess as StoreAccess
from salesbridge.services.ports import UnitOfWorkOpener as UnitOfWorkOpener
from salesbridge.services.preflight import ConnectOutcome as ConnectOutcome
from salesbridge.services.preflight import MissingPrivilege as MissingPrivilege
from salesbridge.services.preflight import OutcomeKind as OutcomeKind
from salesbridge.services.preflight import kept_connection_notice as kept_connection_notice
from salesbridge.services.preflight import localized_last_error as localized_last_error
from salesbridge.services.preflight import missing_privileges as missing_privileges
from salesbridge.services.preflight import outcome_for_error as outcome_for_error
