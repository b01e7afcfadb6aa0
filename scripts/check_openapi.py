#!/usr/bin/env python3
"""Validate docs/openapi.yaml and check that it documents every route the server serves.

Usage:
    scripts/check_openapi.py ROUTES_FILE [--spec docs/openapi.yaml] [--exact]

ROUTES_FILE lists one route per line, e.g. `GET /v1/chat/rooms/{id}`. Blank lines and lines
starting with `#` are ignored. Path parameters may be written `{id}` or `:id`; their names are not
compared (`/v1/chat/rooms/{room_id}` matches `/v1/chat/rooms/{id}`), only their positions.

Exit status: 0 when the document is a valid OpenAPI 3.1 document and every listed route is in it;
1 otherwise (every problem is printed, one per line, on stderr); 2 for bad usage or unreadable files.
With --exact, operations in the document that the routes file does not list are also failures
(without it they are only reported as warnings).

Dependencies: scripts/requirements-dev.txt (`pip install -r scripts/requirements-dev.txt`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

try:
    import yaml
    from openapi_spec_validator import OpenAPIV31SpecValidator
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.stderr.write(
        f"check_openapi: missing dependency ({exc.name}); "
        "run: pip install -r scripts/requirements-dev.txt\n"
    )
    sys.exit(2)

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DEFAULT_SPEC = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"

# `{name}` (OpenAPI, warp-style docs) or `:name` (axum/express style) path parameters.
_PARAM = re.compile(r"\{[^/{}]*\}|:[A-Za-z_][A-Za-z0-9_]*")


def normalize_path(path: str) -> str:
    """Path template with parameter names erased and no trailing slash (except the root)."""
    path = _PARAM.sub("{}", path.strip())
    if len(path) > 1:
        path = path.rstrip("/")
    return path


def parse_routes(text: str, source: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    """(method, path, line number) for every route line, plus one message per malformed line."""
    routes: list[tuple[str, str, int]] = []
    problems: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0].lower() not in HTTP_METHODS or not parts[1].startswith("/"):
            problems.append(
                f"{source}:{lineno}: cannot parse route line {raw.strip()!r} "
                "(expected `METHOD /path`, e.g. `GET /v1/chat/rooms/{id}`)"
            )
            continue
        routes.append((parts[0].upper(), parts[1], lineno))
    return routes, problems


def document_operations(spec: dict) -> dict[tuple[str, str], str]:
    """(METHOD, normalized path) -> path as written in the document."""
    ops: dict[tuple[str, str], str] = {}
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in item:
            if method.lower() in HTTP_METHODS:
                ops[(method.upper(), normalize_path(path))] = path
    return ops


def validate_spec(spec: object) -> list[str]:
    if not isinstance(spec, dict):
        return ["the document is not a YAML mapping"]
    version = str(spec.get("openapi", ""))
    problems: list[str] = []
    if not version.startswith("3.1."):
        problems.append(f"`openapi` is {version!r}; this project's document must be OpenAPI 3.1.x")
    validator = OpenAPIV31SpecValidator(spec)
    try:
        for error in validator.iter_errors():
            where = "/".join(str(p) for p in getattr(error, "absolute_path", []) or [])
            message = getattr(error, "message", str(error))
            problems.append(f"invalid OpenAPI 3.1: {message}" + (f" (at {where})" if where else ""))
    except Exception as exc:  # noqa: BLE001 - e.g. an unresolvable $ref aborts the validator
        # The exception text may embed the whole document: keep its first line, cut short.
        text = str(exc).splitlines()[0] if str(exc) else ""
        if len(text) > 200:
            text = text[:200] + "..."
        problems.append(f"invalid OpenAPI 3.1: {type(exc).__name__}: {text}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("routes_file", type=Path, help="text file, one `METHOD /path` per line")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="OpenAPI document (default: docs/openapi.yaml)")
    parser.add_argument(
        "--exact",
        action="store_true",
        help="also fail when the document has operations the routes file does not list",
    )
    args = parser.parse_args(argv)

    try:
        spec = yaml.safe_load(args.spec.read_text(encoding="utf-8"))
    except OSError as exc:
        sys.stderr.write(f"check_openapi: cannot read {args.spec}: {exc.strerror}\n")
        return 2
    except yaml.YAMLError as exc:
        sys.stderr.write(f"check_openapi: {args.spec} is not valid YAML: {exc}\n")
        return 1
    try:
        routes_text = args.routes_file.read_text(encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"check_openapi: cannot read {args.routes_file}: {exc.strerror}\n")
        return 2

    problems = [f"{args.spec}: {p}" for p in validate_spec(spec)]
    routes, parse_problems = parse_routes(routes_text, str(args.routes_file))
    problems += parse_problems
    if not routes and not parse_problems:
        problems.append(f"{args.routes_file}: lists no routes")

    ops = document_operations(spec) if isinstance(spec, dict) else {}
    listed: set[tuple[str, str]] = set()
    for method, path, lineno in routes:
        key = (method, normalize_path(path))
        listed.add(key)
        if key not in ops:
            problems.append(
                f"{args.routes_file}:{lineno}: route `{method} {path}` is served but not documented "
                f"in {args.spec} (add `paths: {path}: {method.lower()}:`)"
            )

    extra = sorted(f"{m} {ops[(m, p)]}" for (m, p) in ops if (m, p) not in listed)
    for route in extra:
        line = f"{args.spec}: documents `{route}`, which {args.routes_file} does not list"
        if args.exact:
            problems.append(line)
        else:
            sys.stderr.write(f"check_openapi: warning: {line}\n")

    if problems:
        for p in problems:
            sys.stderr.write(f"check_openapi: {p}\n")
        sys.stderr.write(f"check_openapi: FAILED ({len(problems)} problem(s))\n")
        return 1
    print(f"check_openapi: OK: {args.spec} is valid OpenAPI {spec['openapi']} and documents all {len(routes)} listed route(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
