#!/usr/bin/env python3
"""Validate docker-compose.yml against the Compose Specification's JSON schema.

    python3 scripts/check_compose.py [COMPOSE_FILE]      (make check-compose)

The schema is vendored as scripts/compose-spec.json, from github.com/compose-spec/compose-spec
(schema/compose-spec.json at commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6, Apache-2.0): this
machine cannot run `docker compose config`, and CI has no Docker engine either. Besides the
schema, it checks what the schema cannot: every `depends_on` names a service, every named
volume is declared, and each file a service mounts from this repository exists.
"""

import json
import os
import sys

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def problems(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    with open(os.path.join(ROOT, "scripts", "compose-spec.json"), encoding="utf-8") as f:
        schema = json.load(f)
    found = []
    validator = jsonschema.Draft7Validator(schema)
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        found.append(f"{where}: {err.message}")
    if found or not isinstance(doc, dict):
        return found
    services = doc.get("services") or {}
    volumes = set((doc.get("volumes") or {}).keys())
    base = os.path.dirname(os.path.abspath(path))
    for name, svc in services.items():
        deps = svc.get("depends_on") or []
        for dep in deps if isinstance(deps, list) else deps.keys():
            if dep not in services:
                found.append(f"services/{name}/depends_on: no service named {dep!r}")
        for mount in svc.get("volumes") or []:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith((".", "/")):
                if source.startswith(".") and not os.path.exists(os.path.join(base, source)):
                    found.append(f"services/{name}/volumes: {source} does not exist")
            elif source and source not in volumes:
                found.append(f"services/{name}/volumes: named volume {source!r} is not declared")
    return found


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docker-compose.yml")
    found = problems(path)
    for p in found:
        print(f"check_compose: {path}: {p}", file=sys.stderr)
    if found:
        print(f"check_compose: FAILED ({len(found)} problem(s))", file=sys.stderr)
        return 1
    print(f"check_compose: OK: {path} follows the Compose Specification")
    return 0


if __name__ == "__main__":
    sys.exit(main())
