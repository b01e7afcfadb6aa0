#!/usr/bin/env python3
"""Validate docs/openapi.yaml, check that it documents every route the server serves, and (with
--observed) that the statuses it documents are the ones the server answers.

Usage:
    scripts/check_openapi.py [ROUTES_FILE] [--spec docs/openapi.yaml] [--exact]
                             [--observed METRICS_FILE] [--unobserved LIST_FILE]

Always checked (the document alone):

* it is a valid OpenAPI 3.1 document;
* every object schema under `components/schemas`, and every schema written inline in a request
  body or a response, states `additionalProperties` (or `unevaluatedProperties`): `false` for a
  fixed shape, `true` or a schema for an open one;
* every response with a body has an example (`example` or `examples`), and every example of a
  response or request body is valid against its schema;
* `x-responses-outside-operations` (the answers no operation lists, see "Observed statuses") is
  well formed.

ROUTES_FILE lists one route per line, e.g. `GET /v1/chat/rooms/{id}` (`tickertalk routes` prints
it). Blank lines and lines starting with `#` are ignored. Path parameters may be written `{id}` or
`:id`; their names are not compared (`/v1/chat/rooms/{room_id}` matches `/v1/chat/rooms/{id}`),
only their positions. Every listed route must be documented; with --exact, operations in the
document that the routes file does not list are failures too (without it, warnings).

Observed statuses (--observed METRICS_FILE): a Prometheus text scrape of the server's `/metrics`
after some traffic. Its `tickertalk_http_requests_total{method,route,status}` series say which
(method, route pattern, status) the server answered; only a count above 0 counts as observed.

* A status observed for an operation must be documented for that operation (an exact code, or a
  range such as `4XX`); `default` does not count.
* A status observed for a method the document does not list at that path is accepted only as the
  document's `method-not-served` rule of `x-responses-outside-operations` (405 with `Allow`).
* The routes `unmatched` (unknown paths) and `static` (the web client's files) are not
  operations and are ignored.
* Every status documented for an operation must have been observed, or be listed with a reason
  in the unobservable list (--unobserved, default docs/openapi-unobserved.txt). A line of that
  list is `METHOD PATH STATUS REASON...`; METHOD and PATH may be `*` (any), and the reason is
  required. A listed status that the document does not have (for any operation the line
  matches) is a failure, so the list cannot go stale; a listed status that was observed anyway
  is reported as a warning.

Exit status: 0 when everything holds; 1 otherwise (every problem is printed, one per line, on
stderr); 2 for bad usage or unreadable files.

Dependencies: scripts/requirements-dev.txt (`pip install -r scripts/requirements-dev.txt`).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

try:
    import yaml
    from openapi_schema_validator import OAS31Validator
    from openapi_spec_validator import OpenAPIV31SpecValidator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.stderr.write(
        f"check_openapi: missing dependency ({exc.name}); "
        "run: pip install -r scripts/requirements-dev.txt\n"
    )
    sys.exit(2)

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "docs" / "openapi.yaml"
DEFAULT_UNOBSERVED = ROOT / "docs" / "openapi-unobserved.txt"
DEFAULT_METRIC = "tickertalk_http_requests_total"
# Route labels of the request metric that are not operations.
NOT_OPERATIONS = {"unmatched", "static"}
# The `when` values of x-responses-outside-operations.
OUTSIDE_KINDS = {"method-not-served", "unknown-path", "before-routing"}
SPEC_URI = "urn:tickertalk:openapi"

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


# --- the document alone: additionalProperties, examples -------------------------------------


def pointer(*parts: object) -> str:
    """A JSON pointer from path segments."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(spec: dict, node: object) -> tuple[object, str | None]:
    """Follows a local `$ref` chain; returns the target and the pointer of the last hop."""
    where = None
    seen = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        ref = node["$ref"]
        if ref in seen:
            break
        seen.add(ref)
        where = ref[1:]
        target: object = spec
        for raw in ref[2:].split("/"):
            key = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or key not in target:
                return None, where
            target = target[key]
        node = target
    return node, where


def is_object_schema(node: dict) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


def open_closed_problems(node: object, where: str) -> list[str]:
    """Object schemas in `node` (not following `$ref`s) that do not state additionalProperties."""
    problems: list[str] = []
    if isinstance(node, dict):
        if "$ref" not in node and is_object_schema(node):
            if "additionalProperties" not in node and "unevaluatedProperties" not in node:
                problems.append(
                    f"{where}: object schema does not state `additionalProperties` "
                    "(false for a fixed shape, true or a schema for an open map)"
                )
        for key in ("properties", "patternProperties", "$defs"):
            for name, sub in (node.get(key) or {}).items():
                problems += open_closed_problems(sub, f"{where}{pointer(key, name)}")
        for key in ("items", "additionalProperties", "unevaluatedProperties", "not", "contains"):
            if isinstance(node.get(key), dict):
                problems += open_closed_problems(node[key], f"{where}{pointer(key)}")
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            for i, sub in enumerate(node.get(key) or []):
                problems += open_closed_problems(sub, f"{where}{pointer(key, i)}")
    return problems


def media_types(spec: dict):
    """(pointer of the media type object, the object, is_response, label) for every request
    body and response of every operation, with response `$ref`s followed (each component
    response is yielded once, where it is defined)."""
    seen: set[str] = set()
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method, op in item.items():
            if method.lower() not in HTTP_METHODS or not isinstance(op, dict):
                continue
            label = f"{method.upper()} {path}"
            body, at = resolve(spec, op.get("requestBody"))
            at = at or pointer("paths", path, method, "requestBody")
            if isinstance(body, dict) and at not in seen:
                seen.add(at)
                for mt, obj in (body.get("content") or {}).items():
                    yield at + pointer("content", mt), obj, False, f"{label} request {mt}"
            for status, resp in (op.get("responses") or {}).items():
                target, ref = resolve(spec, resp)
                at = ref or pointer("paths", path, method, "responses", status)
                if not isinstance(target, dict) or at in seen:
                    continue
                seen.add(at)
                where = f"{label} {status}" + (f" (#{ref})" if ref else "")
                for mt, obj in (target.get("content") or {}).items():
                    yield at + pointer("content", mt), obj, True, f"{where} {mt}"
    # Responses defined but only used outside operations (e.g. by the 405 rule).
    for name, resp in ((spec.get("components") or {}).get("responses") or {}).items():
        at = pointer("components", "responses", name)
        if at in seen or not isinstance(resp, dict):
            continue
        seen.add(at)
        for mt, obj in (resp.get("content") or {}).items():
            yield at + pointer("content", mt), obj, True, f"components/responses/{name} {mt}"


def lint_document(spec: dict) -> list[str]:
    problems: list[str] = []
    for name, schema in ((spec.get("components") or {}).get("schemas") or {}).items():
        problems += open_closed_problems(schema, f"#{pointer('components', 'schemas', name)}")

    registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))

    def check_example(value: object, schema_at: str, what: str) -> None:
        validator = OAS31Validator(
            {"$ref": f"{SPEC_URI}#{quote(schema_at, safe='/~')}"},
            registry=registry,
            format_checker=OAS31Validator.FORMAT_CHECKER,
        )
        try:
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        except Exception as exc:  # noqa: BLE001 - e.g. a $ref the resolver cannot follow
            problems.append(f"{what}: cannot check the example ({type(exc).__name__}: {exc})")
            return
        for e in errors[:3]:
            at = "/".join(str(p) for p in e.absolute_path)
            problems.append(f"{what}: example does not match its schema: {e.message}" + (f" (at {at})" if at else ""))

    for at, obj, is_response, label in media_types(spec):
        if not isinstance(obj, dict):
            continue
        schema = obj.get("schema")
        if isinstance(schema, dict):
            problems += open_closed_problems(schema, f"#{at}/schema")
        examples = []
        if "example" in obj:
            examples.append(("example", obj["example"]))
        for name, ex in (obj.get("examples") or {}).items():
            ex, _ = resolve(spec, ex)
            if isinstance(ex, dict) and "value" in ex:
                examples.append((f"examples/{name}", ex["value"]))
        if is_response and schema is not None and not examples:
            problems.append(f"{label}: response has no example (add `example` or `examples`)")
        if isinstance(schema, dict):
            for name, value in examples:
                check_example(value, f"{at}/schema", f"{label} ({name})")
    for name, schema in ((spec.get("components") or {}).get("schemas") or {}).items():
        if isinstance(schema, dict) and "example" in schema:
            check_example(schema["example"], pointer("components", "schemas", name), f"components/schemas/{name} (example)")
    problems += outside_problems(spec)
    return problems


def outside_rules(spec: dict) -> dict[str, set[int]]:
    """`when` -> statuses, from x-responses-outside-operations."""
    rules: dict[str, set[int]] = defaultdict(set)
    for entry in spec.get("x-responses-outside-operations") or []:
        if isinstance(entry, dict) and isinstance(entry.get("status"), int):
            rules[str(entry.get("when"))].add(entry["status"])
    return rules


def outside_problems(spec: dict) -> list[str]:
    entries = spec.get("x-responses-outside-operations")
    if entries is None:
        return []
    if not isinstance(entries, list):
        return ["x-responses-outside-operations: must be a list"]
    problems = []
    for i, entry in enumerate(entries):
        where = f"x-responses-outside-operations[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        if not isinstance(entry.get("status"), int) or not 100 <= entry["status"] <= 599:
            problems.append(f"{where}: `status` must be an HTTP status (an integer)")
        if entry.get("when") not in OUTSIDE_KINDS:
            problems.append(f"{where}: `when` must be one of {', '.join(sorted(OUTSIDE_KINDS))}")
        if not entry.get("description"):
            problems.append(f"{where}: `description` is required")
        for name, ref in (entry.get("responses") or {}).items():
            target, _ = resolve(spec, ref)
            if not isinstance(target, dict):
                problems.append(f"{where}.responses.{name}: does not resolve to a response")
    return problems


# --- observed statuses --------------------------------------------------------------------------

_SERIES = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_metrics(text: str, metric: str, source: str) -> tuple[dict[tuple[str, str, str], float], list[str]]:
    """(method, route, status) -> count for every series of `metric`."""
    counts: dict[tuple[str, str, str], float] = defaultdict(float)
    problems: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.startswith(metric):
            continue
        m = _SERIES.match(line)
        if not m or m.group(1) != metric:
            continue
        labels = {}
        rest = m.group(2) or ""
        pos = 0
        while pos < len(rest):
            lm = _LABEL.match(rest, pos)
            if not lm:
                problems.append(f"{source}:{lineno}: cannot parse the labels of {line.strip()!r}")
                break
            labels[lm.group(1)] = re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(x.group(1), x.group(1)), lm.group(2))
            pos = lm.end()
        try:
            value = float(m.group(3))
        except ValueError:
            problems.append(f"{source}:{lineno}: cannot parse the value of {line.strip()!r}")
            continue
        if missing := {"method", "route", "status"} - labels.keys():
            problems.append(f"{source}:{lineno}: {metric} without label(s) {', '.join(sorted(missing))}")
            continue
        if math.isnan(value):
            continue
        counts[(labels["method"].upper(), labels["route"], labels["status"])] += value
    return dict(counts), problems


def parse_unobserved(text: str, source: str) -> tuple[list[tuple[str, str, str, str, int]], list[str]]:
    """(method or *, normalized path or *, status, reason, line) per entry."""
    entries = []
    problems = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 3)
        if len(parts) < 4 or not re.fullmatch(r"[1-5][0-9][0-9]", parts[2]):
            problems.append(
                f"{source}:{lineno}: expected `METHOD PATH STATUS REASON...` (METHOD and PATH may be *), "
                f"got {line!r}"
            )
            continue
        method, path, status, reason = parts
        if method != "*" and method.lower() not in HTTP_METHODS:
            problems.append(f"{source}:{lineno}: unknown method {method!r}")
            continue
        entries.append((method.upper(), path if path == "*" else normalize_path(path), status, reason, lineno))
    return entries, problems


def documented_status(responses: dict, status: str) -> bool:
    keys = {str(k).upper() for k in responses}
    return status in keys or (len(status) == 3 and f"{status[0]}XX" in keys)


def check_observed(
    spec: dict,
    counts: dict[tuple[str, str, str], float],
    unobserved: list[tuple[str, str, str, str, int]],
    unobserved_source: str,
    metrics_source: str,
) -> tuple[list[str], list[str], list[str]]:
    """(problems, warnings, report lines)."""
    problems: list[str] = []
    warnings: list[str] = []
    ops = document_operations(spec)
    paths = spec.get("paths") or {}
    methods_at: dict[str, set[str]] = defaultdict(set)
    for method, path in ops:
        methods_at[path].add(method)
    rules = outside_rules(spec)

    observed: set[tuple[str, str, str]] = set()  # (METHOD, normalized path, status)
    ignored = 0.0
    requests = 0.0
    outside = 0.0
    for (method, route, status), count in sorted(counts.items()):
        if count <= 0:
            continue
        requests += count
        if route in NOT_OPERATIONS:
            ignored += count
            continue
        path = normalize_path(route)
        if path not in methods_at:
            problems.append(
                f"{metrics_source}: `{method} {route}` answered {status} ({count:g}x), but the document "
                f"has no path `{route}`"
            )
            continue
        if (method, path) not in ops:
            if status.isdigit() and int(status) in rules.get("method-not-served", set()):
                outside += count
                continue
            problems.append(
                f"{metrics_source}: `{method} {route}` answered {status} ({count:g}x): the document lists "
                f"no {method} at this path, and has no `method-not-served` rule for {status} in "
                "x-responses-outside-operations"
            )
            continue
        observed.add((method, path, status))
        op = paths[ops[(method, path)]][method.lower()]
        if not documented_status(op.get("responses") or {}, status):
            problems.append(
                f"{metrics_source}: `{method} {ops[(method, path)]}` answered {status} ({count:g}x), "
                f"which the document does not list for it (add `responses: '{status}':`)"
            )

    # Documented but never observed.
    used = [False] * len(unobserved)
    never = []
    excused = 0
    for (method, path), written in sorted(ops.items(), key=lambda kv: (kv[1], kv[0][0])):
        op = paths[written][method.lower()]
        for status in sorted(str(s) for s in (op.get("responses") or {})):
            if not re.fullmatch(r"[1-5][0-9][0-9]", status):
                continue  # ranges and `default` cannot be observed as such
            matches = [
                i
                for i, (um, up, us, _, _) in enumerate(unobserved)
                if us == status and um in ("*", method) and up in ("*", path)
            ]
            for i in matches:
                used[i] = True
            if (method, path, status) in observed:
                for i in matches:
                    um, up, _, _, line = unobserved[i]
                    if um != "*" and up != "*":
                        warnings.append(
                            f"{unobserved_source}:{line}: lists `{method} {written}` {status} as never "
                            "observed, but this run observed it (is the reason still true?)"
                        )
                continue
            if matches:
                excused += 1
            else:
                never.append(f"`{method} {written}` {status}")
    for status_line in never:
        problems.append(
            f"documented status never observed: {status_line} (make the traffic produce it, or list it "
            f"in {unobserved_source} with the reason it cannot be)"
        )
    for i, (method, path, status, _, line) in enumerate(unobserved):
        if not used[i]:
            problems.append(
                f"{unobserved_source}:{line}: `{method} {path} {status}` matches no status the document "
                "lists for an operation (remove the line)"
            )
    report = [
        f"{requests:g} request(s) counted; {ignored:g} to unknown paths or web files (not operations), "
        f"{outside:g} answered by the method-not-served rule",
        f"{len(observed)} (operation, status) pair(s) observed; {excused} documented but unobservable "
        f"(listed in {unobserved_source}); {len(never)} documented and never observed",
    ]
    return problems, warnings, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("routes_file", type=Path, nargs="?", help="text file, one `METHOD /path` per line")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="OpenAPI document (default: docs/openapi.yaml)")
    parser.add_argument(
        "--exact",
        action="store_true",
        help="also fail when the document has operations the routes file does not list",
    )
    parser.add_argument(
        "--observed",
        type=Path,
        metavar="METRICS_FILE",
        help="a Prometheus scrape of the server's /metrics: compare the statuses it answered with the document",
    )
    parser.add_argument(
        "--unobserved",
        type=Path,
        default=DEFAULT_UNOBSERVED,
        metavar="LIST_FILE",
        help="documented statuses that cannot be observed, with reasons (default: docs/openapi-unobserved.txt)",
    )
    parser.add_argument("--metric", default=DEFAULT_METRIC, help=f"request counter name (default: {DEFAULT_METRIC})")
    args = parser.parse_args(argv)
    if args.routes_file is None and args.observed is None:
        parser.error("give a ROUTES_FILE, --observed METRICS_FILE, or both")

    try:
        spec = yaml.safe_load(args.spec.read_text(encoding="utf-8"))
    except OSError as exc:
        sys.stderr.write(f"check_openapi: cannot read {args.spec}: {exc.strerror}\n")
        return 2
    except yaml.YAMLError as exc:
        sys.stderr.write(f"check_openapi: {args.spec} is not valid YAML: {exc}\n")
        return 1

    def read(path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"check_openapi: cannot read {path}: {exc.strerror}\n")
            return None

    problems = [f"{args.spec}: {p}" for p in validate_spec(spec)]
    if isinstance(spec, dict) and not problems:
        problems += [f"{args.spec}: {p}" for p in lint_document(spec)]
    warnings: list[str] = []
    summary: list[str] = []

    ops = document_operations(spec) if isinstance(spec, dict) else {}
    routes: list[tuple[str, str, int]] = []
    if args.routes_file is not None:
        routes_text = read(args.routes_file)
        if routes_text is None:
            return 2
        routes, parse_problems = parse_routes(routes_text, str(args.routes_file))
        problems += parse_problems
        if not routes and not parse_problems:
            problems.append(f"{args.routes_file}: lists no routes")
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
                warnings.append(line)
        summary.append(f"documents all {len(routes)} listed route(s)")

    if args.observed is not None and isinstance(spec, dict):
        metrics_text = read(args.observed)
        unobserved_text = read(args.unobserved)
        if metrics_text is None or unobserved_text is None:
            return 2
        counts, metric_problems = parse_metrics(metrics_text, args.metric, str(args.observed))
        problems += metric_problems
        if not any(v > 0 for v in counts.values()):
            problems.append(f"{args.observed}: no {args.metric} series with a count above 0 (no traffic?)")
        unobserved, list_problems = parse_unobserved(unobserved_text, str(args.unobserved))
        problems += list_problems
        obs_problems, obs_warnings, report = check_observed(
            spec, counts, unobserved, str(args.unobserved), str(args.observed)
        )
        problems += obs_problems
        warnings += obs_warnings
        for line in report:
            print(f"check_openapi: {line}")
        summary.append("documents every status the traffic produced")

    for w in warnings:
        sys.stderr.write(f"check_openapi: warning: {w}\n")
    if problems:
        for p in problems:
            sys.stderr.write(f"check_openapi: {p}\n")
        sys.stderr.write(f"check_openapi: FAILED ({len(problems)} problem(s))\n")
        return 1
    print(f"check_openapi: OK: {args.spec} is valid OpenAPI {spec['openapi']} and " + " and ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
