"""Capture's rights read for all events at once (Capture._require): each event still gets
the refusal it got when judged alone, and the job lists errors in event order."""
from test_epcis_capture import OTHER, OTHER_GTIN, codes, document, event, svc  # noqa: F401 - svc: a fixture


def test_refusals_in_event_order_among_other_errors(svc):  # noqa: F811
    mine, _ = codes(svc, 2)
    theirs, _ = codes(svc, 2, OTHER_GTIN)
    bad = event(epcs=theirs[1:])
    bad["action"] = "add"            # the schema's error, between two refusals
    job = svc.capture(OTHER, document(event(epcs=mine[:1]), bad, event(epcs=theirs[:1]), event(epcs=mine[1:])),
                      "application/json", behaviour="proceed")
    assert [(e["pointer"], e["reason"]) for e in job["errors"]] == [
        ("/epcisBody/eventList/0", "permission_denied"), ("/epcisBody/eventList/1/action", "schema"),
        ("/epcisBody/eventList/3", "permission_denied")]
    assert job["counts"]["stored"] == 1 and job["counts"]["failed"] == 3
