"""The revision contract of derived records: stable ids, revisions, provenance.

A *derived* record is an answer the system computed — a shelf event, a session, a basket, an
alert — as opposed to an *input* it was given (a POS transaction, an RFID read: those are
idempotent on their own ids and never revised). Every derived record inherits
`DerivedRecord` and keeps four promises that later stages (late POS data, corrected
identities, re-attribution, webhooks, storage) rely on:

1. **A stable id, computed from what the record is about.** `derived_id(prefix, **about)` is a
   short prefix plus a hash of the canonical JSON of the identifying fields (for a shelf event:
   store, shelf, SKU, shopper, kind and the time rounded to a stated resolution). The same
   inputs and models give the same ids on every run, so a replay or a restarted worker writes
   the same records again instead of new ones. Floats are refused as identifying values: round
   a time with `time_key(t, resolution_s)` first, so float noise cannot change an id. A record
   built without its id gets it from its class's `id_about` fields (times rounded as
   `id_times` states); an id given explicitly is kept as it is (ground truth keeps its own).
   The id is fixed by revision 1: a later revision keeps it even where an identifying field
   changed (a corrected shopper is a new revision of the same session, not a new session).
   Ids are stable for the same inputs *and models*: a replay with another model may see other
   things, which is why every record says which models produced it.
2. **Revisions, never silent overwrites.** `revision` starts at 1; a later, better answer is
   `record.revised(**changes)`: the same id, `revision + 1`, and `supersedes` set to the key
   (`"<id>:r<revision>"`, see `revision_key`) of the revision it replaces. History is linear:
   revision n > 1 supersedes exactly revision n - 1 of the same id (validated). `revised`
   refuses to change the id and refuses a revision that changes nothing.
3. **Provenance.** `provenance` names the model versions and the config hash that produced
   the record (`Provenance`; `config_hash(obj)` hashes a pydantic model or a mapping). It is
   None only for records made by hand (tests, fixtures); every producer sets it.
4. **Validated and frozen** like every domain record: unknown fields are errors.

Stdlib + pydantic only, so the core stays light.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import to_jsonable_python

HASH_CHARS = 16  # hex digits kept of a sha256: 64 bits, far from colliding within a store
_PREFIX = re.compile(r"^[a-z][a-z0-9]{0,7}$")
_FIELDS_SET_BY_REVISED = ("revision", "supersedes")


def canonical_json(obj: Any) -> str:
    """One JSON text per value: sorted keys, no spaces, no NaN (pydantic models and enums as
    their JSON form). Equal values give equal texts on every run and machine."""
    return json.dumps(
        to_jsonable_python(obj), sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def _short_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]


def config_hash(obj: BaseModel | Mapping[str, Any]) -> str:
    """A stable short sha256 (16 hex digits) of the canonical JSON of a config; key order
    does not matter: `config_hash({"seed": 1, "a": 2}) == config_hash({"a": 2, "seed": 1})`."""
    if not isinstance(obj, BaseModel | Mapping):
        raise TypeError(f"config_hash takes a pydantic model or a mapping, got {type(obj)}")
    return _short_sha256(canonical_json(obj))


def time_key(t: float, resolution_s: float) -> int:
    """`t` as a whole number of `resolution_s` steps (the nearest), for use in `derived_id`.

    Two times closer than `resolution_s` may share a key, and two times either side of a
    half-step get different ones: pick a resolution coarser than the producer's jitter and finer
    than the gap between two distinct things of the same kind.
    """
    if resolution_s <= 0:
        raise ValueError(f"resolution_s must be positive, got {resolution_s!r}")
    if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
        raise ValueError(f"a time must be a finite number of seconds, got {t!r}")
    return round(t / resolution_s)


def _refuse_floats(name: str, value: Any) -> None:
    if isinstance(value, float):
        raise TypeError(
            f"derived_id: {name} is a float ({value!r}); ids are not made from floats — round "
            "it with time_key(value, resolution_s) first"
        )
    if isinstance(value, Mapping):
        for k, v in value.items():
            _refuse_floats(f"{name}.{k}", v)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _refuse_floats(f"{name}[{i}]", v)


def derived_id(prefix: str, **about: Any) -> str:
    """`"<prefix>-<16 hex digits>"`: a hash of the canonical JSON of `prefix` and `about`.

    `about` holds the identifying fields (strings, ints, bools, None, lists and mappings of
    them; floats are refused, see `time_key`). For example
    `derived_id("ev", store_id="s", shopper_id="p1", t=time_key(12.3, 1.0))` is the same
    `"ev-..."` string on every run.
    """
    if not _PREFIX.match(prefix):
        raise ValueError(f"prefix must be 1-8 lowercase letters or digits, got {prefix!r}")
    if not about:
        raise ValueError("derived_id needs the fields the record is about")
    for name, value in about.items():
        _refuse_floats(name, value)
    return f"{prefix}-{_short_sha256(canonical_json({'prefix': prefix, 'about': about}))}"


def revision_key(record_id: str, revision: int) -> str:
    """The key of one revision of a record: `"<id>:r<revision>"` (what `supersedes` holds)."""
    return f"{record_id}:r{revision}"


class Provenance(BaseModel):
    """What produced a record: model name → version, and the hash of the config used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_versions: dict[Annotated[str, Field(min_length=1)], Annotated[str, Field(min_length=1)]]
    config_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")]


class DerivedRecord(BaseModel):
    """Base of every derived record (see the module docstring for the contract).

    A subclass names its id field (`id_field`), the prefix of its ids (`id_prefix`), the fields
    the id is computed from (`id_about`) and the resolution, in seconds, of each time among them
    (`id_times`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_field: ClassVar[str]
    id_prefix: ClassVar[str]
    id_about: ClassVar[tuple[str, ...]]
    id_times: ClassVar[Mapping[str, float]] = {}

    revision: Annotated[int, Field(ge=1)] = 1
    supersedes: str | None = Field(
        None, description="key of the revision this one replaces (None for revision 1)"
    )
    provenance: Provenance | None = Field(
        None, description="the models and config that produced it (None: made by hand)"
    )

    @classmethod
    def derive_id(cls, values: Mapping[str, Any]) -> str:
        """The id a record with these field values gets (KeyError naming a missing field)."""
        about = {}
        for name in cls.id_about:
            if name not in values:
                raise KeyError(f"{cls.__name__} id: missing field {name!r}")
            value = values[name]
            if name in cls.id_times:
                value = time_key(value, cls.id_times[name])
            about[name] = value
        return derived_id(cls.id_prefix, **about)

    @model_validator(mode="before")
    @classmethod
    def _fill_id(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get(cls.id_field) is None:
            try:
                return {**data, cls.id_field: cls.derive_id(data)}
            except (KeyError, TypeError, ValueError):
                return data  # field validation reports what is wrong with the fields
        return data

    @model_validator(mode="after")
    def _linear_history(self) -> Self:
        if self.revision == 1 and self.supersedes is not None:
            raise ValueError(f"revision 1 supersedes nothing, got supersedes={self.supersedes!r}")
        if self.revision > 1:
            expected = revision_key(self.record_id, self.revision - 1)
            if self.supersedes != expected:
                raise ValueError(
                    f"revision {self.revision} must supersede {expected!r}, "
                    f"got supersedes={self.supersedes!r}"
                )
        return self

    @property
    def record_id(self) -> str:
        return str(getattr(self, self.id_field))

    @property
    def key(self) -> str:
        """This revision's key, `"<id>:r<revision>"`."""
        return revision_key(self.record_id, self.revision)

    def revised(self, **changes: Any) -> Self:
        """The next revision: `changes` applied and validated, same id, `revision + 1`,
        `supersedes` = this record's key. Raises ValueError for a change of the id (or of
        `revision` / `supersedes`, which this sets) and for a revision that changes nothing."""
        for name in (self.id_field, *_FIELDS_SET_BY_REVISED):
            if name in changes and changes[name] != getattr(self, name):
                raise ValueError(
                    f"{type(self).__name__}.revised cannot change {name} "
                    f"({getattr(self, name)!r} → {changes[name]!r}): "
                    + (
                        "a record keeps its id across revisions"
                        if name == self.id_field
                        else "revised() sets it"
                    )
                )
        data = {**self.model_dump(), **changes}
        data.update(revision=self.revision + 1, supersedes=self.key)
        nxt = type(self).model_validate(data)
        if nxt.model_dump(exclude=set(_FIELDS_SET_BY_REVISED)) == self.model_dump(
            exclude=set(_FIELDS_SET_BY_REVISED)
        ):
            raise ValueError(f"a revision of {self.record_id} that changes nothing is refused")
        return nxt
