#!/usr/bin/env python3
"""Checks pipeline files against Blacktail's JSON Schema with an independent validator.

usage: check_schema.py SCHEMA FILE...
Prints one line per file, "FILE: ok" or "FILE: N problems: ...", and exits 1 if any file fails.
"""
import json
import sys

import jsonschema
import yaml


def main() -> int:
    schema_path, *files = sys.argv[1:]
    with open(schema_path, encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    failed = False
    for path in files:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
        problems = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
        if problems:
            failed = True
            details = "; ".join(f"{'/'.join(map(str, p.absolute_path))}: {p.message[:120]}" for p in problems[:5])
            print(f"{path}: {len(problems)} problems: {details}")
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
