"""EPCIS 2.0: documents read and validated, EPC URIs, the CBV mapping onto tracecode's
lifecycle, the GS1 event hash, export. Pure logic: no HTTP, no storage."""
from .cbv import epcs_of, lifecycle_of
from .document import Document, read_document
from .epc import to_code, to_epc
from .errors import EpcisError, Problem, event_index, pointer
from .eventid import event_hash, event_id
from .rules import cbv_problems
from .schema import validate, validate_event

__all__ = ["Document", "EpcisError", "Problem", "cbv_problems", "epcs_of", "event_hash", "event_id",
           "event_index", "lifecycle_of", "pointer", "read_document", "to_code", "to_epc", "validate",
           "validate_event"]
