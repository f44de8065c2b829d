"""Print the JSON Schema of a scenario file or of a targets file, for editors and validators.

The ready scenarios name theirs on their first line, so editors with a YAML language server
(VS Code's YAML extension, JetBrains, Neovim) complete and check them as you type:

    # yaml-language-server: $schema=./scenario.schema.json

The schemas come from the same pydantic models `rtbench run` validates with; the committed
copies (scenarios/scenario.schema.json, scenarios/targets.schema.json) are tested against them.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common.formats import emit
from bench.measure.dialects import auth_catalog
from bench.plan import scenario, targets

NAME = "schema"
HELP = "print the JSON Schema of a scenario file or a targets file"


def attribute_docs(cls: type) -> dict[str, str]:
    """Field name → the docstring under it in a class body (how `Target` documents its fields)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(body, ast.ClassDef)
    pairs = zip(body.body, body.body[1:], strict=False)
    return {a.target.id: " ".join(b.value.value.split()) for a, b in pairs
            if isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name) and isinstance(b, ast.Expr)
            and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str)}


def targets_schema() -> dict[str, Any]:
    """`targets: {name: entry}`; dialect and auth names come from the dialect registry, field
    descriptions from `Target`'s."""
    entry = targets._TargetEntry.model_json_schema(mode="validation")
    defs = entry.pop("$defs", {})  # nested models: their `#/$defs/…` refs point at the root
    catalog, docs = auth_catalog(), attribute_docs(targets.Target)
    props = entry["properties"]
    props["dialect"]["enum"] = sorted(catalog)
    styles = sorted({a for names in catalog.values() for a in names})
    props["auth"] = {"anyOf": [{"enum": styles}, {"type": "null"}], "default": None, "title": "Auth"}
    for name, prop in props.items():
        prop.setdefault("description", docs.get(name, ""))
    return {"$schema": scenario.SCHEMA_DIALECT, "title": "realtime-bench targets",
            "description": "A targets file of realtime-bench (`--targets FILE`, $RTBENCH_TARGETS, "
                           "./targets.yaml): named endpoints.",
            "type": "object", "required": ["targets"],
            "properties": {"targets": {"type": "object", "description": "target name → endpoint",
                                       "additionalProperties": entry}},
            **({"$defs": defs} if defs else {})}


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "scenario": scenario.json_schema,
    "targets": targets_schema,
}
"""Which file → its schema."""


def schema_text(kind: str) -> str:
    """The schema as committed: 2-space JSON, keys in the models' order, a final newline."""
    return json.dumps(SCHEMAS[kind](), indent=2, ensure_ascii=False) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", default="scenario", choices=list(SCHEMAS),
                        help="which file (default: scenario)")
    parser.add_argument("--out", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout")


def run(args: argparse.Namespace) -> int:
    emit(schema_text(args.kind), args.out)
    return 0
