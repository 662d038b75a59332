"""Assets with externally assigned codes (special equipment, hazardous goods): their steps and verdicts.

A registered code (tracecode.index.register) is an asset whose steps (installed,
inspected, filled...) are appended to its log through the store's port (asset_steps,
asset_append) and folded into its state by the category
(tracecode.categories.special_equipment). A step that may not follow the asset's state is
refused with the reason, and nothing is written; a step is written only against the
history it was checked with (the store's compare-and-append), so two filling stations
racing on one cylinder are decided one after the other.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import time as _time

from .. import limits
from ..categories import hazardous as hz
from ..categories import livestock as lv
from ..categories import special_equipment as se

# The categories whose registered codes are assets with steps: each module has the same
# verbs (check_step, fold, refusal, verdict, epcis_event) over its own state
MODULES = {se.CATEGORY.name: se, hz.CATEGORY.name: hz, lv.CATEGORY.name: lv}
ITEM_CLASS = {se.CATEGORY.name: se.Asset, hz.CATEGORY.name: hz.Item, lv.CATEGORY.name: lv.Animal}
RETIRING = frozenset({"scrap", "destroy", "slaughter", "dispose", "replace"})   # the code reads destroyed after
RETIRED_AS = {"slaughter": "slaughtered (tag collected)",   # the index's reason; the others: scrapped
              "dispose": "died, harmlessly disposed of (tag collected)",
              "replace": "lost and replaced by tag {new_tag}, recorded"}

NOT_REGISTERED = "not_registered"    # reasons of a refused step, for machines
REFUSED = "refused"
INVALID = "invalid_step"
RETRIES = 8                          # a step raced by others this often is refused


class Assets:
    """The assets of one index (``index.assets``-style helper: Assets(index))."""

    def __init__(self, index, licences=None):
        self.index = index
        self.store = index.store
        # the licences steps of hazardous goods happen under (tracecode.index.licences)
        self.licences = licences

    def _registered(self, code: str):
        """(the compact code, the registration record, the compact code) of a registered
        asset code, or None. The code is read as its scheme's compact() reads it (spaces and
        dashes dropped, upper case where its alphabets have no lower case), as registered."""
        if not isinstance(code, str) or not code.strip() or len(code) > 200:
            return None
        bare = re.sub(r"[\s\-]", "", code)
        for cut in dict.fromkeys((bare, bare.upper())):   # as written first: a case-sensitive scheme's
            raw = self.store.registered_one(cut)
            if raw is None:
                continue
            rec = json.loads(raw)
            if not isinstance(rec, dict) or rec.get("category") not in MODULES:
                return None
            sch = self.index.schemes.get(rec.get("scheme"))
            if sch is not None and sch.compact(code) != cut:
                continue     # lower case of a case-sensitive scheme's code is another code
            return cut, rec, cut
        return None

    def registration(self, code: str) -> dict | None:
        """Who registered a registered asset code and the product it carries ({"owner",
        "scheme", "product"}), for the rights of its steps; None: no registered asset code."""
        hit = self._registered(code)
        if hit is None:
            return None
        rec, compact = hit[1], hit[2]
        sch = self.index.schemes.get(rec["scheme"])
        product = ({f.name: v for f, v in zip(sch.code_fields, sch.split(compact).values()) if f.role == "product"}
                   if sch else {})
        return {"owner": rec.get("owner"), "scheme": rec["scheme"], "product": product}

    def asset(self, code: str) -> se.Asset | None:
        """The asset's state folded from its steps (None: no registered asset code)."""
        hit = self._registered(code)
        if hit is None:
            return None
        ref, rec, compact = hit
        return self._fold(compact, rec, self.store.asset_steps(ref))

    @staticmethod
    def _fold(code, rec, raw_steps):
        asset = ITEM_CLASS[rec["category"]](code=code, scheme=rec["scheme"], registered=rec)
        fold = MODULES[rec["category"]].fold
        for raw in raw_steps:
            fold(asset, json.loads(raw))
        return asset

    def record(self, code: str, step: dict, *, client: str | None = None,
               today: _dt.date | None = None) -> dict:
        """Append one step to an asset: the recorded step ({"ok": True, "step": ...}) or
        {"ok": False, "reason", "error"} naming why it was refused; never raises for a
        step's fault, so a batch of steps is decided step by step."""
        hit = self._registered(code)
        if hit is None:   # whatever the step: no category's vocabulary applies to an unknown code
            return {"ok": False, "code": code, "reason": NOT_REGISTERED,
                    "error": f"{str(code)[:60]!r} is no registered asset code "
                             f"(tracecode register)"}
        mod = MODULES[hit[1]["category"]]
        try:
            checked = mod.check_step(step if isinstance(step, dict) else {})
            when = _time.time() if step.get("time") is None else limits.event_time("time", step["time"])[0]
        except (mod.StepError, ValueError) as exc:
            return {"ok": False, "code": code, "reason": getattr(exc, "reason", INVALID), "error": str(exc),
                    "field": getattr(exc, "field", None)}
        ref, rec, compact = hit
        extra = {"licences": self.licences.on_record() if self.licences else {}} if mod is hz else {}
        if mod is lv:    # a replacement tag's state is read too
            extra = {"asset_of": self.asset}
        checked["time"] = round(when, 3)
        checked["date"] = _dt.datetime.fromtimestamp(when, _dt.timezone.utc).date().isoformat()
        if client:
            checked["client"] = client
        day = today or _dt.datetime.fromtimestamp(when, _dt.timezone.utc).date()
        value = json.dumps(checked, ensure_ascii=False, separators=(",", ":")).encode()
        for _ in range(RETRIES):
            raw_steps = self.store.asset_steps(ref)
            asset = self._fold(compact, rec, raw_steps)
            why = mod.refusal(asset, checked, day, **extra)
            if why:
                return {"ok": False, "code": compact, "reason": REFUSED, "error": why,
                        "state": asset.state}
            if mod is hz:   # quantities balanced against this history: kept on the step
                checks = hz.balance(asset, checked)
                if checks:
                    checked["checks"] = checks
                value = json.dumps(checked, ensure_ascii=False, separators=(",", ":")).encode()
            if mod is lv and checked["step"] == "replace":   # the new tag's tag step in the same write
                plan = self._replacement(compact, rec, raw_steps, value, asset, checked, client, day)
                if isinstance(plan, str):
                    return {"ok": False, "code": compact, "reason": REFUSED, "state": asset.state,
                            "error": f"{compact} cannot be replaced by {checked['new_tag']}: {plan}"}
                if not self.store.asset_append_all([(ref, len(raw_steps), value), plan]):
                    continue             # either tag raced since the check: decided again
                mod.fold(asset, checked)
                self._retire(compact, checked)
                return {"ok": True, "code": compact, "step": checked, "state": asset.state}
            if self.store.asset_append(ref, len(raw_steps), value):
                mod.fold(asset, checked)
                if any(not c["ok"] for c in checked.get("checks", ())):
                    self._alert(compact, len(raw_steps), checked)
                if checked["step"] == "produce":   # live in the index: it can be packed into a case
                    self._commission(compact, checked)
                if checked["step"] in RETIRING:   # the code is retired: every verify says destroyed
                    self._retire(compact, checked)
                return {"ok": True, "code": compact, "step": checked, "state": asset.state,
                        **({"alerts": [c for c in checked.get("checks", ()) if not c["ok"]]} if mod is hz else {})}
        return {"ok": False, "code": compact, "reason": REFUSED,
                "error": f"{compact}: other steps kept arriving; send it again"}

    def _replacement(self, compact, rec, raw_steps, value, old, checked, client, day):
        """The new tag's append (its ref, its step count, the tag step put on it: the animal's
        tag from now on, ``replaces`` = the old one) for a replace step of ``old`` (folded
        from raw_steps) recorded with it in one write; or why the new tag may not take it
        (the tag step checked as if the replace step ``value`` were recorded already)."""
        hit = self._registered(checked["new_tag"])
        if hit is None or hit[1].get("category") != lv.CATEGORY.name:
            return "it is no registered ear tag (tracecode register)"
        new_ref, new_rec, new_compact = hit
        new_steps = self.store.asset_steps(new_ref)
        try:
            tag = lv.check_step(lv.replacement_tag(old, checked))
        except lv.StepError as exc:
            return str(exc)
        tag["time"], tag["date"] = checked["time"], checked["date"]
        if client:
            tag["client"] = client
        after = self._fold(compact, rec, [*raw_steps, value])
        why = lv.refusal(self._fold(new_compact, new_rec, new_steps), tag, day,
                         asset_of=lambda c: after if c == compact else self.asset(c))
        if why:
            return why
        return new_ref, len(new_steps), json.dumps(tag, ensure_ascii=False, separators=(",", ":")).encode()

    def _alert(self, compact: str, number: int, step: dict) -> None:
        """A quantity mismatch also as an alert of the store's alerts (tracecode alerts), where
        the analytics' findings go: id stable per code and step, so a resend updates it. A
        store without alerts (the PostgreSQL one, for now) keeps it on the step only."""
        put = getattr(self.store, "alerts_put", None)
        if put is None:
            return
        from ..analytics.alerts import alert_id
        when = _dt.datetime.fromtimestamp(step["time"], _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        bad = [c for c in step["checks"] if not c["ok"]]
        try:
            put([{"id": alert_id("quantity_balance", compact, f"step-{number}"), "rule": "quantity_balance",
                  "severity": "high", "subject": compact, "code": compact, "product": None, "region": None,
                  "first_time": when, "last_time": when, "window": f"step-{number}",
                  "evidence": {"step": step["step"], "licence": step.get("licence"), "by": step["by"],
                               "checks": bad}, "status": "open"}])
        except NotImplementedError:
            pass

    def _commission(self, compact: str, step: dict) -> None:
        """A produced hazardous-goods code commissioned in the index's lifecycle (an event id of
        its own), so the existing pack/aggregation links it to its box or case (an SSCC in
        Code 128) and contents()/history show the case. A code already live (a new life of
        a re-registered code) is left as it is."""
        self.index.apply([{"id": f"asset-produce-{compact}", "action": "commission", "codes": [compact],
                           "time": step["time"]}], client="tracecode-assets")

    def _retire(self, compact: str, step: dict) -> None:
        """A scrapped asset's code destroyed in the index's lifecycle too (an event under an id
        of its own: a resend is recognised), so Verify and the public window answer
        DESTROYED for it like for any destroyed code."""
        self.index.apply([{"id": f"asset-scrap-{compact}", "action": "destroy", "codes": [compact],
                           "time": step["time"],
                           "reason": f"{RETIRED_AS.get(step['step'], 'scrapped').format(**step)} "
                                     f"by {step['by']}"[:200]}],
                         client="tracecode-assets")

    def record_many(self, steps) -> list:
        """record() for each {"code": ..., "step": ...} entry (one result each, in order)."""
        out = []
        for entry in steps:
            if not isinstance(entry, dict):
                out.append({"ok": False, "reason": INVALID, "error": "each entry is an object"})
                continue
            out.append(self.record(entry.get("code"), {k: v for k, v in entry.items() if k != "code"},
                                   client=entry.get("client")))
        return out

    def verdict(self, code: str, *, unit: str | None = None, today: _dt.date | None = None) -> dict:
        """What a scan of the code answers (special_equipment.verdict), with the code,
        its scheme, the product fields it carries and who registered it."""
        hit = self._registered(code)
        if hit is None:
            out = se.verdict(None, today or _dt.date.today(), unit)
            out["code"] = str(code)[:60] if isinstance(code, str) else None
            return out
        ref, rec, compact = hit
        asset = self._fold(compact, rec, self.store.asset_steps(ref))
        out = MODULES[rec["category"]].verdict(asset, today or _dt.date.today(), unit)
        sch = self.index.schemes.get(rec["scheme"])
        out.update(code=compact, scheme=rec["scheme"], owner=asset.registered.get("owner"),
                   registered=asset.registered.get("registered"),
                   product={f.name: v for f, v in zip(sch.code_fields, sch.split(compact).values())
                            if f.role == "product"} if sch else {})
        return out

    def steps(self, code: str) -> list:
        """The asset's recorded steps, oldest first (dicts); [] for no registered code."""
        hit = self._registered(code)
        return [json.loads(s) for s in self.store.asset_steps(hit[0])] if hit else []

    def epcis(self, code: str) -> list:
        """The asset's steps as EPCIS 2.0 ObjectEvents (its code as a URN of ours)."""
        hit = self._registered(code)
        if hit is None:
            return []
        uri = f"urn:tracecode:asset:{hit[1]['scheme']}:{hit[2]}"
        event = MODULES[hit[1]["category"]].epcis_event
        return [event(uri, json.loads(s)) for s in self.store.asset_steps(hit[0])]
