"""Validates a compose file against the Compose Specification JSON schema and
checks the hotline stack's shape.

usage: check_compose.py COMPOSE_FILE SCHEMA_JSON APP_SERVICE [APP_SERVICE...]

Beyond the schema: postgres, rabbitmq and every APP_SERVICE must exist and
have an enabled health check; each APP_SERVICE must run its own binary, wait
for healthy postgres and rabbitmq, and health-check with `<name> --health-check`.
"""

import json
import sys

import jsonschema
import yaml

INFRA = ("postgres", "rabbitmq")


def path_of(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def healthcheck_test(svc: dict):
    hc = svc.get("healthcheck")
    if not isinstance(hc, dict) or hc.get("disable") is True:
        return None
    test = hc.get("test")
    if not test or test == ["NONE"]:
        return None
    return test


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    compose_path, schema_path, apps = argv[1], argv[2], argv[3:]
    problems: list[str] = []

    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"compose: error: cannot read schema {schema_path}: {exc}", file=sys.stderr)
        return 1
    try:
        with open(compose_path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as exc:
        print(f"compose: error: cannot parse {compose_path}: {exc}", file=sys.stderr)
        return 1

    # The compose schema names draft-07 as "https://json-schema.org/draft-07/schema"
    # (no trailing "#"), which jsonschema does not look up by itself.
    if "draft-07" in str(schema.get("$schema", "")):
        validator_cls = jsonschema.Draft7Validator
    else:
        validator_cls = jsonschema.validators.validator_for(
            schema, default=jsonschema.Draft7Validator)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for err in errors:
        problems.append(f"schema: at {path_of(err)}: {err.message}")
    if not errors:
        print(f"compose: schema validation passed ({validator_cls.__name__})")

    services = (doc or {}).get("services") or {}
    for name in (*INFRA, *apps):
        svc = services.get(name)
        if not isinstance(svc, dict):
            problems.append(f"service '{name}' is missing")
            continue
        if healthcheck_test(svc) is None:
            problems.append(f"service '{name}' has no enabled healthcheck")

    for name in apps:
        svc = services.get(name)
        if not isinstance(svc, dict):
            continue
        command = svc.get("command")
        if command not in ([name], name):
            problems.append(f"service '{name}': command should be [\"{name}\"], got {command!r}")
        if healthcheck_test(svc) not in (["CMD", name, "--health-check"], None):
            problems.append(f"service '{name}': healthcheck test should be "
                            f"[\"CMD\", \"{name}\", \"--health-check\"]")
        if "image" not in svc and "build" not in svc:
            problems.append(f"service '{name}' has neither image nor build")
        deps = svc.get("depends_on") or {}
        for infra in INFRA:
            cond = deps.get(infra, {}).get("condition") if isinstance(deps, dict) else None
            if cond != "service_healthy":
                problems.append(f"service '{name}' should depend on '{infra}' "
                                f"with condition service_healthy")

    if problems:
        for problem in problems:
            print(f"compose: error: {problem}", file=sys.stderr)
        return 1
    print(f"compose: services present with health checks: {', '.join((*INFRA, *apps))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
