"""Regenerate the JSON Schema file shipped in the package: ``python -m hwsim.frontends.schema``."""

from __future__ import annotations

import json
from pathlib import Path

from hwsim.frontends.model_json import json_schema

SCHEMA_PATH = Path(__file__).with_name("model.schema.json")

if __name__ == "__main__":
    SCHEMA_PATH.write_text(json.dumps(json_schema(), indent=1) + "\n")
    print(f"wrote {SCHEMA_PATH}")
