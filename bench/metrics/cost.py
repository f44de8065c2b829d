"""Token usage as endpoints report it, and cost from a versioned price table (PROTOCOLS §5)."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from bench.common.errors import UnknownNameError
from bench.metrics.spec import Family, Metric

if TYPE_CHECKING:
    from bench.metrics.spec import TurnInputs


@dataclass(frozen=True)
class Usage:
    """`response.done.response.usage`, flattened. `cached_*` are subsets of the inputs."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_text: int = 0
    input_audio: int = 0
    input_image: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    cached_image: int = 0
    output_text: int = 0
    output_audio: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, int]) -> Usage:
        return Usage(**{k: int(v) for k, v in d.items() if k in Usage.__dataclass_fields__})


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens for one model; `None` where the provider publishes no price."""

    model: str
    text_in: float
    text_out: float
    audio_in: float
    audio_out: float
    text_cached: float | None = None
    audio_cached: float | None = None
    image_in: float | None = None
    image_cached: float | None = None
    source: str = ""
    as_of: str = ""


@cache
def price_table() -> dict[str, Price]:
    """Model name (and alias) → Price, from the packaged `pricing.json`."""
    raw = json.loads(resources.files("bench.data").joinpath("pricing.json").read_text())
    table: dict[str, Price] = {}
    for name, p in raw["models"].items():
        fields = {k: v for k, v in p.items() if k in Price.__dataclass_fields__}
        price = Price(model=name, **fields)
        for key in [name, *p.get("aliases", [])]:
            table[key] = price
    return table


def find_price(model: str) -> Price:
    table = price_table()
    if model not in table:
        raise UnknownNameError("pricing model", model, list(table))
    return table[model]


def cost_usd(usage: Usage, model: str | None) -> float | None:
    """Cost of one response. `None` (never 0) with a warning when the model has no price, or
    has image tokens but no image price."""
    if model is None or model not in price_table():
        warnings.warn(f"no price for model {model!r}: cost_usd is null", stacklevel=2)
        return None
    p = price_table()[model]
    if usage.input_image and p.image_in is None:
        warnings.warn(f"{model!r} has no image input price: cost_usd of a turn with image tokens "
                      "is null", stacklevel=2)
        return None
    cached = (p.text_cached, p.audio_cached, p.image_cached)
    uncached_in = (usage.input_text - usage.cached_text, usage.input_audio - usage.cached_audio,
                   usage.input_image - usage.cached_image)
    dollars = uncached_in[0] * p.text_in + uncached_in[1] * p.audio_in
    dollars += uncached_in[2] * (p.image_in or 0.0)
    for n, full, cheap in zip((usage.cached_text, usage.cached_audio, usage.cached_image),
                              (p.text_in, p.audio_in, p.image_in or 0.0), cached, strict=True):
        dollars += n * (cheap if cheap is not None else full)
    dollars += usage.output_text * p.text_out + usage.output_audio * p.audio_out
    return dollars / 1e6


def price_for(key: str | None) -> Price | None:
    """The price table entry for a pricing key (model name or alias), or None."""
    return price_table().get(key) if key is not None else None


def _cost(t: TurnInputs) -> dict[str, float | None]:
    priced = t.usage is not None and price_for(t.price_key) is not None
    return {"cost_usd": cost_usd(t.usage, t.price_key) if priced and t.usage else None}


COST = Family(
    "cost",
    (Metric("cost_usd", "USD", "lower", "cost of the response from usage × the price table",
            definition="usage × the target's price table entry (uncached input, cached input, output; "
                       "text, audio, image separately); null, never 0, when no price applies "
                       "(the run's manifest says which entry applied, or why none)"),),
    "measure", compute=_cost, computable=lambda t: t.usage is not None,
    about="Dollars per turn from the usage the endpoint reported and `bench/data/pricing.json`.")
"""Cost per turn; a record stored without usage keeps the value it was written with."""
