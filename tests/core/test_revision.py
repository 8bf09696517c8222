"""The revision contract of derived records: stable ids, linear revisions, provenance."""

import re

import pytest
from pydantic import BaseModel, ValidationError

from storelens.records import Basket, EventKind, Session, ShelfEvent
from storelens.revision import (
    Provenance,
    config_hash,
    derived_id,
    revision_key,
    time_key,
)

T0 = 1_790_000_000.0
PROV = Provenance(model_versions={"tracker": "1.2.0"}, config_hash=config_hash({"iou": 0.3}))


def pick(**overrides):
    fields = {
        "store_id": "demo-store",
        "kind": "pick",
        "t": T0 + 12.3,
        "sku": "SKU-028",
        "shelf_id": "shelf-juice",
        "shopper_id": "p-3",
    }
    return ShelfEvent(**{**fields, **overrides})


# ------------------------------------------------------------------- derived_id
def test_ids_and_hashes_are_pinned():
    """Ids must not change across versions either (a restarted worker may run newer code), so a
    change of the canonical JSON or of the hash shows up here."""
    assert derived_id("ev", store_id="s", t=12) == "ev-458149de3810a9c0"
    assert config_hash({"seed": 1, "scenario": "theft"}) == "bc10503ff8c0ef11"


@pytest.mark.parametrize(
    ("about", "other"),
    [
        ({"store_id": "s", "t": 12}, {"store_id": "s", "t": 13}),
        ({"store_id": "s", "ids": ["a", "b"]}, {"store_id": "s", "ids": ["b", "a"]}),
        ({"store_id": "s", "x": None}, {"store_id": "s"}),
        ({"store_id": "s", "n": 1}, {"store_id": "s", "n": "1"}),
    ],
)
def test_derived_id_depends_on_every_identifying_value(about, other):
    assert derived_id("ev", **about) == derived_id("ev", **dict(reversed(about.items())))
    assert derived_id("ev", **about) != derived_id("ev", **other)
    assert derived_id("ev", **about) != derived_id("ses", **about)


@pytest.mark.parametrize(
    ("prefix", "about", "error", "message"),
    [
        ("ev", {"t": 12.5}, TypeError, "t is a float"),
        ("ev", {"box": {"x": [1, 2.5]}}, TypeError, r"box\.x\[1\] is a float"),
        ("Ev", {"t": 1}, ValueError, "prefix"),
        ("a-b", {"t": 1}, ValueError, "prefix"),
        ("ev", {}, ValueError, "needs the fields"),
    ],
)
def test_derived_id_refuses(prefix, about, error, message):
    with pytest.raises(error, match=message):
        derived_id(prefix, **about)


@pytest.mark.parametrize(
    ("t", "resolution", "expected"),
    [(12.3, 1.0, 12), (12.6, 1.0, 13), (12.3, 0.5, 25), (7, 2.0, 4), (-0.2, 1.0, 0)],
)
def test_time_key_rounds_to_the_resolution(t, resolution, expected):
    assert time_key(t, resolution) == expected


@pytest.mark.parametrize(
    ("t", "resolution"), [(float("nan"), 1.0), (float("inf"), 1.0), (True, 1.0), (1.0, 0.0)]
)
def test_time_key_refuses(t, resolution):
    with pytest.raises(ValueError):
        time_key(t, resolution)


# ------------------------------------------------------------------ config_hash
class _Cfg(BaseModel):
    iou: float = 0.3
    names: list[str] = ["a"]


def test_config_hash_is_stable_and_sensitive():
    h = config_hash(_Cfg())
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert h == config_hash({"names": ["a"], "iou": 0.3}) == config_hash(_Cfg(iou=0.3))
    assert h != config_hash(_Cfg(iou=0.31))
    nested = {"model": _Cfg(), "seed": 1}
    assert config_hash(nested) == config_hash({"seed": 1, "model": {"iou": 0.3, "names": ["a"]}})
    with pytest.raises(TypeError, match="pydantic model or a mapping"):
        config_hash([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "XYZ", "0123456"])
def test_provenance_config_hash_must_be_a_hash(bad):
    with pytest.raises(ValidationError, match="config_hash"):
        Provenance(model_versions={"m": "1"}, config_hash=bad)


# ----------------------------------------------------------------- derived ids
def test_a_record_without_its_id_gets_the_derived_id():
    ev = pick()
    assert re.fullmatch(r"ev-[0-9a-f]{16}", ev.event_id)
    assert ev.event_id == ShelfEvent.derive_id(ev.model_dump())
    assert pick(t=T0 + 12.4).event_id == ev.event_id, "same second: same event"
    assert pick(kind=EventKind.PICK).event_id == ev.event_id
    assert pick(t=T0 + 14.0).event_id != ev.event_id
    assert pick(shopper_id="p-4").event_id != ev.event_id
    assert pick(kind="put_back").event_id != ev.event_id
    assert pick(confidence=0.4).event_id == ev.event_id, "confidence is not what it is about"
    assert pick(event_id="ev-given").event_id == "ev-given", "an explicit id is kept"
    assert ev.revision == 1 and ev.supersedes is None and ev.key == f"{ev.event_id}:r1"


def test_session_and_basket_ids_are_about_who_and_which_visit():
    a = Session(store_id="s", shopper_ids=["p1", "p2"], enter_t=T0)
    assert a.session_id.startswith("ses-")
    assert (
        Session(store_id="s", shopper_ids=["p1", "p2"], enter_t=T0 + 0.3).session_id == a.session_id
    )
    assert Session(store_id="s", shopper_ids=["p1"], enter_t=T0).session_id != a.session_id
    basket = Basket(session_id=a.session_id, store_id="s")
    assert basket.basket_id.startswith("bsk-")
    assert Basket(session_id=a.session_id, store_id="s").basket_id == basket.basket_id
    assert Basket(session_id="other", store_id="s").basket_id != basket.basket_id


def test_an_invalid_identifying_field_is_reported_as_itself():
    with pytest.raises(ValidationError, match="finite seconds"):
        pick(t=float("nan"))


# -------------------------------------------------------------------- revisions
def test_revised_increments_supersedes_and_keeps_the_id():
    r1 = pick(provenance=PROV)
    r2 = r1.revised(sku="SKU-029", confidence=0.7)
    assert (r2.event_id, r2.revision, r2.supersedes) == (r1.event_id, 2, r1.key)
    assert (r2.sku, r2.confidence, r2.t, r2.provenance) == ("SKU-029", 0.7, r1.t, PROV)
    assert (r1.sku, r1.revision) == ("SKU-028", 1), "the earlier revision is untouched"
    r3 = r2.revised(shopper_id="p-9", provenance=PROV.model_copy(update={"config_hash": "ab" * 8}))
    assert (r3.revision, r3.supersedes) == (3, revision_key(r1.event_id, 2))
    assert r3.event_id == r1.event_id, "a changed identifying field does not change the id"
    assert ShelfEvent.model_validate_json(r3.model_dump_json()) == r3


def test_revised_validates_the_changes():
    with pytest.raises(ValidationError, match="confidence"):
        pick().revised(confidence=1.5)
    with pytest.raises(ValidationError, match="unknown_field|Extra inputs"):
        pick().revised(unknown_field=1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event_id": "ev-other"}, "cannot change event_id.*keeps its id"),
        ({"revision": 5}, "cannot change revision"),
        ({"supersedes": "x:r1"}, "cannot change supersedes"),
        ({}, "changes nothing"),
        ({"sku": "SKU-028"}, "changes nothing"),
    ],
)
def test_revised_refuses(changes, message):
    with pytest.raises(ValueError, match=message):
        pick().revised(**changes)


@pytest.mark.parametrize(
    ("revision", "supersedes", "message"),
    [
        (1, "ev-x:r0", "revision 1 supersedes nothing"),
        (2, None, "must supersede 'ev-x:r1'"),
        (3, "ev-x:r1", "must supersede 'ev-x:r2'"),
        (2, "ev-y:r1", "must supersede 'ev-x:r1'"),
        (0, None, "revision"),
    ],
)
def test_history_is_linear(revision, supersedes, message):
    with pytest.raises(ValidationError, match=message):
        pick(event_id="ev-x", revision=revision, supersedes=supersedes)
