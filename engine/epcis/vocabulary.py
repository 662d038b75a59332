"""The CBV 2.0 standard vocabularies the EPCIS REST binding lists (GET /epcis/bizSteps,
/epcis/dispositions): their bare names, as EPCIS 2.0 JSON-LD writes them (the JSON-LD
context expands them to https://ref.gs1.org/cbv/BizStep-<name> and Disp-<name>).
tests/test_epcis_http.py checks them against the enums of GS1's EPCIS 2.0 JSON schema.

>>> "shipping" in BIZ_STEPS, "in_transit" in DISPOSITIONS
(True, True)
"""
from __future__ import annotations

BIZ_STEPS = (
    "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
    "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
    "disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
    "installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing",
    "repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
    "sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
    "transporting", "unloading", "unpacking", "void_shipping",
)

DISPOSITIONS = (
    "active", "available", "completeness_inferred", "completeness_verified", "conformant",
    "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
    "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_class",
    "mismatch_instance", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
    "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
    "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
    "unavailable", "unknown",
)
