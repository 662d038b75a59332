"""Livestock (畜禽): pigs, cattle and sheep, traced by their ear tags.

An ear tag's number is assigned by the animal-tagging authority, so tags are registered
here (tracecode register), never issued: scheme ``cn-eartag-15`` (1 species, 6 county,
8 serial; no check digit stated). An animal's life is a log of steps through the same
machinery as special equipment (tracecode.index.assets): tagged on its farm, moved (each
movement names its quarantine certificate, 动物检疫合格证明), read at a market or checkpoint,
slaughtered (the tag is collected and its number written on the inspection mark). After
slaughter the tag is off the animal: a scan of it is SUSPICIOUS (a collected tag put on
another animal), a movement or a second slaughter under it is refused.

An animal that dies on the farm or in transport is disposed of harmlessly (无害化处理,
``dispose``: the place, the cause, the disposal record's number): its tag is collected and
retired as at slaughter, and a later scan of it is SUSPICIOUS the same way. A lost tag is
replaced (补标, ``replace`` on the old tag naming ``new_tag``, a registered tag never put on an
animal, of the same species): the old tag is retired and answers REPLACED "replaced by NEW";
the new tag's ``tag`` step carries ``replaces`` = the old tag, so the animal's history before
the loss stays reachable from the tag it wears now (``history_chain``).

Carcass to cuts is an EPCIS TransformationEvent (the animals' tags as inputs, as
``urn:tracecode:asset:cn-eartag-15:CODE``): Service.epcis.lineage walks a cut's lot back
to its animals; ``animals_of`` reads their tags out of that answer.

>>> from tracecode import categories
>>> [s.name for s in categories.schemes_of("livestock")]
['cn-eartag-15']
>>> STEPS["slaughter"].biz_step, SPECIES["2"]
('urn:tracecode:bizstep:slaughtering', 'cattle')
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from ..errors import StepError
from .category import OUR_NAMESPACE, Category, step_texts

SCHEME = "cn-eartag-15"
SPECIES = {"1": "pig", "2": "cattle", "3": "sheep"}

# States (the fold of the steps)
REGISTERED = "registered"       # the tag number is registered, not yet on an animal
TAGGED = "tagged"
MOVED = "moved"
SLAUGHTERED = "slaughtered"
DISPOSED = "disposed"           # died, harmlessly disposed of: the tag collected
REPLACED = "replaced"           # the tag was lost and a new one put on the animal
RETIRED = frozenset({SLAUGHTERED, DISPOSED, REPLACED})   # the tag should be on no animal

# Verdicts (what a scan of the tag answers)
LIVE = "live"
NOT_TAGGED = "not_tagged"
SUSPICIOUS = "suspicious"       # the tag was collected at slaughter: it should be on no animal
NOT_REGISTERED = "not_registered"
REPLACED_TAG = "replaced"       # the tag was reported lost: the animal wears the one named
VERDICTS = (LIVE, NOT_TAGGED, SUSPICIOUS, REPLACED_TAG, NOT_REGISTERED)


@dataclass(frozen=True)
class Step:
    name: str
    biz_step: str
    disposition: str | None
    allowed_from: frozenset
    to: str | None
    needs: tuple = ()


_ALIVE = frozenset({TAGGED, MOVED})
STEPS = {s.name: s for s in (
    Step("tag", OUR_NAMESPACE + "tagging", "active", frozenset({REGISTERED}), TAGGED, ("place",)),
    # a movement (调运) names its quarantine certificate and where the animal went
    Step("move", OUR_NAMESPACE + "moving", "in_transit", _ALIVE, MOVED, ("certificate", "place")),
    # a reading of the tag (market, checkpoint, farm inspection): never refused, so a reading
    # after slaughter is kept as evidence and makes the tag suspicious
    Step("check", OUR_NAMESPACE + "tag_reading", None,
         frozenset({REGISTERED, TAGGED, MOVED}) | RETIRED, None),
    # slaughter (屠宰): the tag collected, its number written on the inspection mark (mark)
    Step("slaughter", OUR_NAMESPACE + "slaughtering", "destroyed", _ALIVE, SLAUGHTERED,
         ("mark", "place")),
    # death and harmless disposal (病死畜禽无害化处理): the tag collected like at slaughter;
    # record: the disposal record's number, cause: what the animal died of
    Step("dispose", OUR_NAMESPACE + "harmless_disposal", "destroyed", _ALIVE, DISPOSED, ("place", "cause")),
    # a lost tag replaced (补标): recorded on the old tag, naming the new one; the new tag
    # gets a tag step with replaces = the old one (index.assets records both)
    Step("replace", OUR_NAMESPACE + "tag_replacement", "inactive", _ALIVE, REPLACED, ("new_tag",)),
)}
_TEXT = ("place", "certificate", "mark", "note", "cause", "record", "new_tag", "replaces",
         "event")   # the id of the EPCIS event that recorded the step (app.asset_capture)



@dataclass
class Animal:
    """An animal's state folded from its tag's steps (oldest first)."""
    code: str
    scheme: str
    registered: dict
    state: str = REGISTERED
    tagged: dict | None = None
    last_move: dict | None = None
    slaughter: dict | None = None
    disposal: dict | None = None
    replaced: dict | None = None      # the replace step: the tag was lost, new_tag put on
    replaces: str | None = None       # the tag this one replaced (its tag step says so)
    after_slaughter: list = field(default_factory=list)   # readings of the tag once retired
    steps: list = field(default_factory=list)


def check_step(step: dict) -> dict:
    """A step's fields checked: name, by (who did it), what it needs (tag: place; move:
    certificate and place; slaughter: mark and place), texts at most 200 characters."""
    name = step.get("step")
    if name not in STEPS:
        raise StepError(f"step must be one of: {', '.join(STEPS)}", field="step")
    by = step.get("by")
    if not isinstance(by, str) or not by.strip() or len(by) > 200:
        raise StepError(f"{name}: every step names who did it (by: 1 to 200 characters)", field="by")
    out = {"step": name, "by": by.strip(), "time": step.get("time")}
    out.update(step_texts(step, _TEXT, name, strip=True))
    for key in ("new_tag", "replaces"):
        if key in out and not (len(out[key]) == 15 and out[key].isascii() and out[key].isdigit()):
            raise StepError(f"{name}: {key} must be a 15-digit ear tag number", field=key)
    for key in STEPS[name].needs:
        if not out.get(key):
            what = {"certificate": "the quarantine certificate number (动物检疫合格证明)",
                    "mark": "the inspection mark's number the tag was written on",
                    "cause": "what the animal died of", "place": "where it happened",
                    "new_tag": "the ear tag number put on the animal instead"}.get(key, key)
            raise StepError(f"{name} needs {key}: {what}", field=key)
    return out


def fold(animal: Animal, rec: dict) -> None:
    spec = STEPS.get(rec["step"])
    if spec is None:                 # a step of no livestock meaning (another category's)
        return
    if rec["step"] == "check" and animal.state in RETIRED:
        animal.after_slaughter.append(rec)
    if spec.to is not None:
        animal.state = spec.to
    if rec["step"] == "tag":
        animal.tagged = rec
        animal.replaces = rec.get("replaces")
    elif rec["step"] == "move":
        animal.last_move = rec
    elif rec["step"] == "slaughter":
        animal.slaughter = rec
    elif rec["step"] == "dispose":
        animal.disposal = rec
    elif rec["step"] == "replace":
        animal.replaced = rec
    animal.steps.append(rec)


def _day(rec) -> str:
    return rec.get("date") or (_dt.datetime.fromtimestamp(rec["time"], _dt.timezone.utc).date().isoformat()
                               if rec.get("time") is not None else "?")


def _collected(animal: Animal) -> str:
    if animal.state == DISPOSED:
        s = animal.disposal
        return (f"tag {animal.code} was collected at the harmless disposal of a dead animal on {_day(s)} "
                f"at {s.get('place', '?')} (cause: {s.get('cause', '?')})")
    if animal.state == REPLACED:
        s = animal.replaced
        return f"tag {animal.code} was reported lost on {_day(s)} and replaced by {s['new_tag']}"
    s = animal.slaughter
    return (f"tag {animal.code} was collected at slaughter on {_day(s)} at {s.get('place', '?')} "
            f"(inspection mark {s.get('mark', '?')})")


def refusal(animal: Animal, rec: dict, today: _dt.date, asset_of=None) -> str | None:
    """Why this step may not follow the animal's state (None: it may). Once the tag is
    retired (slaughter, disposal, replacement) only readings are recorded (they make it
    suspicious); a movement or a second slaughter under it is refused. A replacement needs
    its new tag registered (``asset_of``: code -> its Animal or None), never put on an
    animal, of the same species."""
    spec = STEPS[rec["step"]]
    if animal.state in RETIRED and rec["step"] != "check":
        return f"no {rec['step']}: {_collected(animal)}"
    if animal.state not in spec.allowed_from:
        return (f"cannot {rec['step']} {animal.code}: it is {animal.state} "
                f"(needs {', '.join(sorted(spec.allowed_from))})")
    if rec["step"] == "replace":
        new = rec["new_tag"]
        other = asset_of(new) if asset_of else None
        if new == animal.code:
            return f"{animal.code} cannot replace itself"
        if not isinstance(other, Animal):
            return f"the new tag {new} is no registered ear tag (tracecode register)"
        if other.state != REGISTERED:
            return f"the new tag {new} is {other.state}: a replacement tag is one never put on an animal"
        if new[:1] != animal.code[:1]:
            return (f"the new tag {new} is for a {SPECIES.get(new[:1])}, "
                    f"{animal.code} for a {SPECIES.get(animal.code[:1])}")
    if rec["step"] == "tag" and rec.get("replaces"):
        old = asset_of(rec["replaces"]) if asset_of else None
        if not isinstance(old, Animal) or (old.replaced or {}).get("new_tag") != animal.code:
            return (f"{animal.code} replaces {rec['replaces']} only through a replace step "
                    f"recorded on {rec['replaces']}")
    return None


def replacement_tag(old: Animal, rec: dict) -> dict:
    """The tag step the replace step ``rec`` of the animal ``old`` (its old tag's state)
    puts on its new tag: the animal's tag from now on, carrying the old tag's number (the
    history link); its place the replacement's, else where the old tag was last."""
    out = {"step": "tag", "by": rec["by"], "replaces": old.code, "time": rec.get("time")}
    last = old.last_move or old.tagged or {}
    out["place"] = rec.get("place") or last.get("place") or "?"
    if rec.get("event") is not None:
        out["event"] = rec["event"]
    return out


def _public(rec, keys=("by", "date", "place", "certificate", "mark")):
    return {k: rec[k] for k in keys if k in rec} if rec else None


def verdict(animal: Animal | None, today: _dt.date, unit=None) -> dict:
    """What a scan of the tag answers: live (tagged, not slaughtered), not tagged yet,
    suspicious (its tag was collected at slaughter), not registered; with the species,
    the last movement and its certificate, the slaughter and its inspection mark."""
    if animal is None:
        return {"verdict": NOT_REGISTERED, "reasons": ["no such ear tag is registered"]}
    if animal.state in RETIRED:
        v = REPLACED_TAG if animal.state == REPLACED and not animal.after_slaughter else SUSPICIOUS
        why = [f"{_collected(animal)}: it should be on no animal"]
        if animal.after_slaughter:
            why.append(f"read {len(animal.after_slaughter)} time(s) since, last on "
                       f"{_day(animal.after_slaughter[-1])} by {animal.after_slaughter[-1]['by']}")
    elif animal.state == REGISTERED:
        v, why = NOT_TAGGED, ["the tag number is registered but was never put on an animal"]
    else:
        v, why = LIVE, []
    return {"verdict": v, "reasons": why, "state": animal.state,
            "species": SPECIES.get(animal.code[:1]), "county": animal.code[1:7],
            "tagged": _public(animal.tagged), "last_move": _public(animal.last_move),
            "slaughter": _public(animal.slaughter),
            "disposal": _public(animal.disposal, ("by", "date", "place", "cause", "record")),
            "replaced_by": (animal.replaced or {}).get("new_tag"), "replaces": animal.replaces,
            "replaced_on": _day(animal.replaced) if animal.replaced else None,
            "readings_after_slaughter": len(animal.after_slaughter),
            "last_reading_after_slaughter": _day(animal.after_slaughter[-1]) if animal.after_slaughter else None,
            "steps": len(animal.steps)}


def epcis_event(code_uri: str, rec: dict) -> dict:
    """A recorded step as an EPCIS 2.0 ObjectEvent (tagging an ADD: the tag's first event)."""
    spec = STEPS[rec["step"]]
    ev = {"type": "ObjectEvent", "action": "ADD" if rec["step"] == "tag" else "OBSERVE",
          "epcList": [code_uri],
          "eventTime": _dt.datetime.fromtimestamp(rec["time"], _dt.timezone.utc).isoformat(),
          "eventTimeZoneOffset": "+00:00", "bizStep": spec.biz_step, "tc:by": rec["by"]}
    if spec.disposition:
        ev["disposition"] = spec.disposition
    for key in ("place", "certificate", "mark", "cause", "record", "new_tag", "replaces"):
        if key in rec:
            ev[f"tc:{key}"] = rec[key]
    return ev


def history_chain(assets, code: str, limit: int = 20) -> list:
    """The tags an animal wore, newest first: ``code``, the tag it replaced, the one that
    one replaced...; each as (tag, its steps). ``assets``: index.assets.Assets."""
    out, seen = [], set()
    while code and code not in seen and len(out) < limit:
        seen.add(code)
        animal = assets.asset(code)
        if not isinstance(animal, Animal):
            break
        out.append((code, animal.steps))
        code = animal.replaces
    return out


def animals_of(lineage: dict) -> list[str]:
    """The ear tags a lineage answer (Service.epcis.lineage) reaches, in the order found."""
    prefix = f"urn:tracecode:asset:{SCHEME}:"
    out: list = []

    def walk(nodes):
        for node in nodes:
            for key in node["inputs"]:
                if key.startswith(prefix) and key[len(prefix):] not in out:
                    out.append(key[len(prefix):])
            walk(node["made_from"])
    walk(lineage.get("made_from", ()))
    return out


WORDS = {
    "zh": {"title": "畜禽标识", LIVE: "在养（标识有效）", NOT_TAGGED: "未佩戴", SUSPICIOUS: "可疑：标识已在屠宰时回收",
           NOT_REGISTERED: "此耳标未登记", "species": "畜种", "county": "佩标县（区）", "tagged": "佩标",
           "last_move": "最近调运", "certificate": "检疫证明", "slaughter": "屠宰", "mark": "检验标志号",
           "pig": "猪", "cattle": "牛", "sheep": "羊", REPLACED_TAG: "已补标：此耳标已挂失",
           "disposal": "病死无害化处理", "cause": "死因", "replaced_by": "补标为", "replaces": "原耳标（已补换）"},
    "en": {"title": "Livestock ear tag", LIVE: "Live animal (tag valid)", NOT_TAGGED: "Not yet tagged",
           SUSPICIOUS: "Suspicious: this tag was collected at slaughter",
           NOT_REGISTERED: "This ear tag is not registered",
           "species": "Species", "county": "Tagging county", "tagged": "Tagged", "last_move": "Last movement",
           "certificate": "quarantine certificate", "slaughter": "Slaughtered", "mark": "inspection mark",
           "pig": "pig", "cattle": "cattle", "sheep": "sheep",
           REPLACED_TAG: "Replaced: this tag was reported lost", "disposal": "Died, harmlessly disposed of",
           "cause": "cause", "replaced_by": "Replaced by tag", "replaces": "Replaces lost tag"},
}
# the section's notes, in the page's language: dates and numbers only, never who read the tag
NOTES = {
    "zh": {SLAUGHTERED: "此耳标已于 {date} 在屠宰时回收，不应再出现在任何牲畜上",
           DISPOSED: "此耳标已于 {date} 在病死畜禽无害化处理时回收，不应再出现在任何牲畜上",
           REPLACED: "此耳标已于 {date} 挂失并补标为 {new}，不应再出现在任何牲畜上",
           "readings": "回收后又被读取 {n} 次，最近一次在 {last}", REGISTERED: "此耳标已登记，但从未佩戴"},
    "en": {SLAUGHTERED: "This tag was collected at slaughter on {date}: it should be on no animal",
           DISPOSED: "This tag was collected on {date} when the dead animal was harmlessly disposed of: "
                     "it should be on no animal",
           REPLACED: "This tag was reported lost on {date} and replaced by {new}: it should be on no animal",
           "readings": "Read {n} time(s) since, last on {last}",
           REGISTERED: "The tag number is registered but was never put on an animal"},
}
TONES = {LIVE: "ok", NOT_TAGGED: "warn", SUSPICIOUS: "bad", REPLACED_TAG: "bad", NOT_REGISTERED: "bad"}


def section(svc, code: str, lang: str, unit=None) -> dict:
    """The public page's section for an ear tag: live or suspicious, the species and county,
    where and when it was tagged, its last movement with the quarantine certificate, its
    slaughter with the inspection mark, its disposal, its replacement. Who recorded or read
    it, the steps' clients and notes are not shown (the notes say dates, in the page's
    language)."""
    w = WORDS.get(lang, WORDS["en"])
    v = svc.dd.assets.verdict(code)
    if "state" not in v:
        return {"title": w["title"], "verdict": v["verdict"], "verdict_text": w[NOT_REGISTERED],
                "tone": "bad", "rows": [], "notes": []}

    def when(rec, extra=None):
        if not rec:
            return None
        tail = f" · {w[extra]} {rec[extra]}" if extra and rec.get(extra) else ""
        return f"{rec.get('date', '?')} · {rec.get('place', '')}{tail}"
    rows = [(w["species"], w.get(v["species"] or "", v["species"])), (w["county"], v["county"]),
            (w["tagged"], when(v["tagged"])), (w["last_move"], when(v["last_move"], "certificate")),
            (w["slaughter"], when(v["slaughter"], "mark")), (w["disposal"], when(v["disposal"], "cause")),
            (w["replaced_by"], v["replaced_by"]), (w["replaces"], _earlier(svc, v["replaces"], w))]
    return {"title": w["title"], "verdict": v["verdict"], "verdict_text": w[v["verdict"]],
            "tone": TONES[v["verdict"]], "rows": [(k, x) for k, x in rows if x],
            "notes": _notes(v, NOTES.get(lang, NOTES["en"]))}


def _notes(v: dict, n: dict) -> list:
    state = v["state"]
    retired = {SLAUGHTERED: v["slaughter"], DISPOSED: v["disposal"]}.get(state)
    out = []
    if state in (SLAUGHTERED, DISPOSED):
        out.append(n[state].format(date=(retired or {}).get("date", "?")))
    elif state == REPLACED:
        out.append(n[state].format(date=v.get("replaced_on") or "?", new=v["replaced_by"]))
    elif state == REGISTERED:
        out.append(n[state])
    if v.get("readings_after_slaughter"):
        out.append(n["readings"].format(n=v["readings_after_slaughter"], last=v["last_reading_after_slaughter"]))
    return out


def _earlier(svc, old, w) -> str | None:
    """The lost tag a replacement tag replaced, with where and when it was first put on."""
    if not old:
        return None
    first = svc.dd.assets.verdict(old).get("tagged") or {}
    return f"{old} · {w['tagged']} {first.get('date', '?')} · {first.get('place', '')}".rstrip(" ·")


CATEGORY = Category(
    name="livestock",
    title="Livestock (畜禽, ear tags)",
    lifecycle=tuple(s.biz_step for s in STEPS.values()),
    public=("verdict", "status", "product"),
    section=section,
)
