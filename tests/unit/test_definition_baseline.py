"""The baseline of kept definitions: the standard catalogue's is serialised once per process and stays what a fresh
catalogue serialises to, whatever the sandboxes built from it change in their own catalogues."""

from __future__ import annotations

from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.catalogue.definitions import AttributeDef, AttributeType
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.sandbox.organization.saved_definitions import DefinitionBaseline, standard_baseline


def test_the_shared_standard_baseline_is_a_fresh_catalogues_and_sandboxes_do_not_change_it() -> None:
    sandbox = build_sandbox()
    account = sandbox.services.state.catalogue.entities["account"]
    account.attributes["new_rating"] = AttributeDef("new_rating", AttributeType.INTEGER)

    assert sandbox.services.state.definition_baseline is standard_baseline()
    assert standard_baseline() == DefinitionBaseline.of(build_standard_catalogue())
    assert "new_rating" not in str(standard_baseline().entities["account"])
