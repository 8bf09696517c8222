"""Scenario files: what happens in a simulated store, as counts, durations and rates.

A scenario is a small YAML file (presets in `configs/scenarios/`: `easy`, `crowded`,
`occluded`, `theft`) validated into `Scenario`. Ranges are `[low, high]` and sampled uniformly
per shopper or per event; rates are probabilities in [0, 1]. Everything random is drawn from
one seed, so a scenario + seed + store is one exact data set.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storelens.config import ConfigError, load_config, override

Rate = Annotated[float, Field(ge=0, le=1)]
Seconds = Annotated[float, Field(ge=0)]


class Range(BaseModel):
    """A closed interval `[low, high]` written as a two-item list in YAML."""

    model_config = ConfigDict(frozen=True)
    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise ValueError(f"expected [low, high], got {list(value)}")
            return {"low": value[0], "high": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"[{self.low}, {self.high}]: high is below low")
        return self


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Crowd(_Section):
    parties: Annotated[int, Field(ge=0)] = Field(6, description="shopping parties that enter")
    group_size_weights: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=1)] = Field(
        [0.75, 0.2, 0.05], description="relative weight of a party of 1, 2, 3 ... people"
    )
    arrival_window_s: Seconds = Field(20.0, description="parties enter spread over this window")
    arrival_rate_per_h: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="parties per hour arriving at random (a Poisson process) until `closing_s` "
        "before the end: the run's length then sets the number of sessions, and `parties` and "
        "`arrival_window_s` are unused",
    )
    closing_s: Seconds = Field(
        150.0, description="with an arrival rate, no one enters in this last part of the run"
    )
    staff: Annotated[int, Field(ge=0)] = Field(1, description="staff restocking shelves")
    walk_speed_mps: Range = Range(low=0.8, high=1.4)
    height_m: Range = Range(low=1.55, high=1.95)


class Shopping(_Section):
    shelf_visits: Range = Field(Range(low=1, high=3), description="shelf stops per leader")
    items_per_visit: Range = Range(low=1, high=2)
    dwell_s: Range = Field(Range(low=1.0, high=3.0), description="looking before reaching")
    reach_s: Range = Field(Range(low=0.5, high=0.9), description="hand to shelf, one way")
    inspect_s: Range = Field(Range(low=0.8, high=2.0), description="holding an item to look")
    put_back_rate: Rate = Field(0.2, description="inspected items returned to a shelf")
    misplace_rate: Rate = Field(0.3, description="of put-backs, share left at another facing")
    both_hands_rate: Rate = Field(0.15, description="reaches made with both hands at once")


class Checkout(_Section):
    pay_s: Range = Range(low=3.0, high=6.0)
    unscanned_rate: Rate = Field(0.03, description="carried items the party does not scan")
    void_rate: Rate = Field(0.02, description="scanned items then voided (left unpaid)")
    leave_without_paying_rate: Rate = Field(0.03, description="parties that skip the checkout")
    refunds: Annotated[int, Field(ge=0)] = Field(0, description="refund transactions (noise)")
    terminal_clock_offset_s: Seconds = Field(
        0.0, description="each POS terminal's clock is off by an amount drawn from ±this"
    )


class Rfid(_Section):
    miss_rate: Rate = Field(0.05, description="tagged units that leave without any read")
    duplicate_rate: Rate = Field(0.3, description="reads repeated by the gate's other reader")


class Imaging(_Section):
    lighting_variation: Rate = Field(0.15, description="amplitude of slow brightness changes")
    noise_sigma: Annotated[float, Field(ge=0, le=50)] = Field(
        3.0, description="sensor noise, 8-bit"
    )
    motion_blur: Rate = Field(0.25, description="weight of the previous instant (exposure smear)")
    defocus_sigma: Range = Range(low=0.0, high=0.7)
    dropped_frame_rate: Rate = Field(0.0, description="frames a camera fails to deliver")
    clock_offset_s: Seconds = Field(0.0, description="per-camera clock offset drawn from ±this")
    packaging: Literal["photos", "generated", "mixed"] = Field(
        "photos",
        description="product textures: the shipped photo atlas, generated packaging, or each SKU "
        "either at random by seed (training data)",
    )


class Scenario(_Section):
    name: str = "custom"
    description: str = ""
    duration_s: Annotated[float, Field(gt=0, le=4 * 3600)] = 60.0
    fps: Annotated[float, Field(gt=0, le=60)] | None = Field(
        None, description="render rate; default: each camera's own fps"
    )
    start_time: str = Field("2026-11-25T10:00:00+00:00", description="ISO-8601 with a zone")
    crowd: Crowd = Crowd()
    shopping: Shopping = Shopping()
    checkout: Checkout = Checkout()
    rfid: Rfid = Rfid()
    imaging: Imaging = Imaging()

    @property
    def start_epoch(self) -> float:
        from storelens.timeutil import from_iso

        return from_iso(self.start_time)

    @model_validator(mode="after")
    def _start_time_parses(self) -> Scenario:
        try:
            _ = self.start_epoch
        except ValueError as err:
            raise ValueError(f"start_time: {err}") from None
        return self

    def with_overrides(
        self, changes: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Scenario:
        """A validated copy with fields replaced, sections merged key by key:
        `with_overrides(duration_s=10, crowd={"parties": 8})` (see `storelens.config.override`)."""
        return override(self, changes, **fields)


PRESETS = ("easy", "crowded", "occluded", "theft")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A preset by name (`easy`, `crowded`, `occluded`, `theft`) or a scenario YAML path."""
    text = str(name_or_path)
    if text in PRESETS:
        from importlib.resources import files

        path = Path(str(files("storelens.configs").joinpath("scenarios", f"{text}.yaml")))
    else:
        path = Path(text)
        if not path.is_file():
            raise ConfigError(f"{text}: neither a preset ({', '.join(PRESETS)}) nor a file")
    return load_config(path, Scenario)
