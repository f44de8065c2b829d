"""The gate policy file (`ci/gate.yaml`): validated with pydantic, errors name file:line:field.

```yaml
schema_version: 1
alpha: 0.01              # significance level of every test
min_samples: 10          # fewer values on either side: undecidable
rules:
  - {metric: v2v_ms, stat: p95, relative: 0.10}         # +10% of the baseline's p95
  - {metric: pesq_wb, stat: mean, absolute: 0.2, direction: higher, optional: true}
error_rate: {absolute: 0.02}                             # +2 points of failed turns
```
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench.common.errors import ScenarioError
from bench.common.yamlfile import load_yaml, validate
from bench.metrics.registry import METRICS

WORKDIR_POLICY = Path("ci") / "gate.yaml"
"""The policy `rtbench gate` and `compare` use without --policy, relative to the working directory."""


def default_policy() -> Path:
    """`./ci/gate.yaml` when the working directory has one (a checkout, or a project keeping its
    own policy), else the copy shipped in the package (`bench/data/gate.yaml`, the same file)."""
    if WORKDIR_POLICY.is_file():
        return WORKDIR_POLICY
    return Path(str(resources.files("bench.data").joinpath("gate.yaml")))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricRule(_Strict):
    """A change of one statistic of one metric that counts as a regression."""

    metric: str = Field(min_length=1)
    stat: Literal["p50", "p90", "p95", "p99", "mean", "pooled"] = "p50"
    direction: Literal["lower", "higher"] | None = Field(
        None, description="which way is better; default: the metric registry's")
    relative: float | None = Field(None, gt=0, description="threshold as a fraction of the baseline")
    absolute: float | None = Field(None, gt=0, description="threshold in the metric's unit")
    min_samples: int | None = Field(None, ge=2)
    optional: bool = Field(False, description="no warning when the rule is skipped because neither "
                           "run has the metric (such a rule is always skipped, never undecidable)")
    name: str | None = Field(None, min_length=1, description="test name; default metric.stat")

    @model_validator(mode="after")
    def _check(self) -> MetricRule:
        if (self.relative is None) == (self.absolute is None):
            raise ValueError("give exactly one of `relative` or `absolute`")
        if self.direction is None and self.metric not in METRICS:
            raise ValueError(f"metric {self.metric!r} is not in the registry: give `direction`")
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.metric}.{self.stat}"

    @property
    def threshold_text(self) -> str:
        better = self.direction or METRICS[self.metric].better
        sign = "+" if better == "lower" else "−"
        return f"{sign}{self.relative * 100:g}%" if self.relative is not None else f"{sign}{self.absolute:g}"


class ErrorRateRule(_Strict):
    """The candidate's failed-turn rate may not exceed the baseline's by more than `absolute`."""

    absolute: float = Field(ge=0, le=1, description="in proportion: 0.02 = 2 percentage points")
    min_samples: int | None = Field(None, ge=2)

    @property
    def threshold_text(self) -> str:
        return f"+{self.absolute * 100:g} points"


class Policy(_Strict):
    """What counts as a regression."""

    schema_version: Literal[1] = 1
    alpha: float = Field(0.01, gt=0, lt=1)
    min_samples: int = Field(10, ge=2)
    bootstrap_resamples: int = Field(2000, ge=100, le=100_000)
    noise_ratio: float = Field(1.0, gt=0, description="warn when CI width > noise_ratio × threshold")
    rules: list[MetricRule] = Field(default_factory=list)
    error_rate: ErrorRateRule | None = None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy; a ScenarioError (a UserError) names file:line and field."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(str(p), None, "", "no such policy file")
    data, lines = load_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(str(p), 1, "", "a policy is a YAML mapping (alpha:, rules:, ...)")
    return validate(Policy, data, lines, str(p))
