"""``sparktune schema``: the JSON Schema editors use for job specs, kept in step with the models.

The committed ``docs/jobspec.schema.json`` (which ``conf/examples/*.yaml`` point their
yaml-language-server at) must equal what ``sparktune schema`` prints, and every example must
validate against it.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from sparktune.jobs import cli

ROOT = Path(__file__).parent.parent
COMMITTED = ROOT / "docs" / "jobspec.schema.json"
EXAMPLES = sorted((ROOT / "conf" / "examples").glob("*.yaml"))


def printed_schema(capsys) -> str:
    assert cli.main(["schema"]) == 0
    return capsys.readouterr().out


def test_committed_schema_is_what_sparktune_schema_prints(capsys):
    assert COMMITTED.read_text() == printed_schema(capsys), (
        "docs/jobspec.schema.json is stale: sparktune schema > docs/jobspec.schema.json"
    )


def test_schema_carries_the_field_docs(capsys):
    schema = json.loads(printed_schema(capsys))
    search = schema["$defs"]["SearchSpec"]
    assert (
        "required for every strategy but grid" in search["properties"]["max_trials"]["description"]
    )
    assert search["properties"]["strategy"]["enum"] == [
        "grid",
        "random",
        "tpe",
        "optuna-tpe",
        "cmaes",
        "qmc",
    ]
    assert schema["$defs"]["StageSpec"]["required"] == ["name", "class"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_point_at_the_schema_and_validate_against_it(path):
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../../docs/jobspec.schema.json\n")
    jsonschema.validate(yaml.safe_load(text), json.loads(COMMITTED.read_text()))


def test_schema_refuses_what_validate_refuses():
    raw = yaml.safe_load(EXAMPLES[0].read_text())
    raw["search"]["max_trial"] = 3
    with pytest.raises(jsonschema.ValidationError, match="max_trial"):
        jsonschema.validate(raw, json.loads(COMMITTED.read_text()))
