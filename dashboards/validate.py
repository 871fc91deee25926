#!/usr/bin/env python3
"""Checks the Grafana dashboards and provisioning of dashboards/ (standard library only).

    python3 dashboards/validate.py                         # check, exit 1 on any problem
    python3 dashboards/validate.py --emit-promql out.txt   # also write every PromQL expression

Checked for every dashboard JSON (dashboards/json/*.json unless paths are given):
- it has uid, title, panels and schemaVersion; uids are unique across dashboards;
- panel ids are unique (rows and panels nested in collapsed rows included), every panel has a
  gridPos;
- every query target has a datasource (its own, or the panel's), and Prometheus targets an
  `expr`, CloudWatch targets a namespace and metric (or a Logs Insights expression);
- `$name` / `${name}` references name a template variable or a Grafana built-in.
Provisioning YAML files are checked for their apiVersion and a datasources / providers list, and
each dashboard provider's path ends with the folder the dashboards are copied to.

--emit-promql writes one expression per line: every panel target's `expr` and every Prometheus
variable query (`label_values(selector, label)` becomes `selector`), template variables replaced
by `.*` and interval built-ins ($__rate_interval, $__interval, $__range) by `1m`, so that a
later test can run `promtool` or a real Prometheus over them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIRED_KEYS = ("uid", "title", "panels", "schemaVersion")
INTERVAL_BUILTINS = {"__rate_interval", "__interval", "__range", "__range_s", "__range_ms", "__interval_ms"}
OTHER_BUILTINS = {"__all", "__from", "__to", "__dashboard", "__user", "__org", "__name", "__timeFilter",
                  "__timeFrom", "__timeTo", "__auto", "__series", "__field", "__value", "__data", "__cell",
                  "timeFilter"}
# $name, ${name}, ${name:format}, [[name]]
VAR_REF = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)


def iter_panels(panels):
    """Every panel, rows and the panels nested in collapsed rows included."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels") or [])


def ds_type(ds, variables):
    """The datasource type of a datasource reference (object, uid string or ${variable})."""
    if isinstance(ds, dict):
        if ds.get("type"):
            return ds["type"]
        ds = ds.get("uid")
    if isinstance(ds, str):
        m = re.fullmatch(r"\$\{?(\w+)\}?", ds)
        if m and m.group(1) in variables and variables[m.group(1)].get("type") == "datasource":
            return variables[m.group(1)].get("query")
        return ds.lower()
    return None


def substitute(expr: str) -> str:
    """Template variables → `.*`, interval built-ins → `1m`."""

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return "1m" if name in INTERVAL_BUILTINS else ".*"

    return VAR_REF.sub(repl, expr)


def var_refs(text: str):
    for m in VAR_REF.finditer(text):
        yield m.group(1) or m.group(2) or m.group(3)


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def check_dashboard(path: Path, errors: list[str], promql: list[str]) -> str | None:
    where = path.name
    try:
        dash = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        errors.append(f"{where}: not valid JSON: {e}")
        return None
    if not isinstance(dash, dict):
        errors.append(f"{where}: the top level is not an object")
        return None
    for key in REQUIRED_KEYS:
        if key not in dash:
            errors.append(f"{where}: missing {key!r}")
    if not isinstance(dash.get("panels", []), list) or not dash.get("panels"):
        errors.append(f"{where}: 'panels' must be a non-empty list")
        return dash.get("uid")
    if "schemaVersion" in dash and not isinstance(dash["schemaVersion"], int):
        errors.append(f"{where}: 'schemaVersion' must be an integer")

    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    known = set(variables) | INTERVAL_BUILTINS | OTHER_BUILTINS

    for var in variables.values():
        name = var.get("name")
        if var.get("type") != "query":
            continue
        if not var.get("datasource"):
            errors.append(f"{where}: variable {name!r} has no datasource")
        if ds_type(var.get("datasource"), variables) == "prometheus":
            query = var.get("query")
            text = query.get("query") if isinstance(query, dict) else query
            if not text:
                errors.append(f"{where}: variable {name!r} has no query")
                continue
            m = LABEL_VALUES.match(text)
            promql.append(substitute(m.group(1) if m else text))

    ids: set = set()
    for panel in iter_panels(dash["panels"]):
        pid = panel.get("id")
        title = panel.get("title", "?")
        if pid is None:
            errors.append(f"{where}: panel {title!r} has no id")
        elif pid in ids:
            errors.append(f"{where}: panel id {pid} is used twice (again by {title!r})")
        ids.add(pid)
        if "gridPos" not in panel:
            errors.append(f"{where}: panel {pid} {title!r} has no gridPos")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            errors.append(f"{where}: panel {pid} {title!r} has no targets")
        for target in targets:
            ref = target.get("refId", "?")
            ds = target.get("datasource") or panel.get("datasource")
            label = f"{where}: panel {pid} {title!r} target {ref}"
            if not ds:
                errors.append(f"{label}: no datasource")
                continue
            kind = ds_type(ds, variables)
            if kind == "prometheus":
                expr = target.get("expr")
                if not expr or not expr.strip():
                    errors.append(f"{label}: Prometheus target without expr")
                else:
                    promql.append(substitute(expr))
            elif kind == "cloudwatch":
                if target.get("queryMode") == "Logs":
                    if not target.get("expression") or not (target.get("logGroupNames") or target.get("logGroups")):
                        errors.append(f"{label}: Logs Insights target needs an expression and log groups")
                elif not (target.get("namespace") and target.get("metricName")) and not target.get("expression"):
                    errors.append(f"{label}: CloudWatch target needs namespace and metricName")
        for text in strings_in(panel):
            for name in var_refs(text):
                if name not in known and not name.isdigit():
                    errors.append(f"{where}: panel {pid} {title!r} refers to unknown variable ${name}")
    return dash.get("uid")


def check_provisioning(root: Path, errors: list[str]) -> int:
    """Light checks of the provisioning YAML without a YAML parser (standard library only)."""
    count = 0
    for kind, key in (("datasources", "datasources:"), ("dashboards", "providers:")):
        folder = root / kind
        files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
        if not files:
            errors.append(f"provisioning/{kind}: no YAML file")
        for f in files:
            count += 1
            text = f.read_text(encoding="utf-8")
            if "\t" in text:
                errors.append(f"{f.name}: tab characters are not valid YAML indentation")
            if not re.search(r"^apiVersion:\s*1\s*$", text, re.M):
                errors.append(f"{f.name}: missing 'apiVersion: 1'")
            if not re.search(rf"^{key}\s*$", text, re.M):
                errors.append(f"{f.name}: missing top-level {key!r}")
            if kind == "dashboards":
                for path in re.findall(r"^\s+path:\s*(\S+)", text, re.M):
                    if not path.rstrip("/").endswith("/dashboards"):
                        errors.append(f"{f.name}: provider path {path} is not the dashboards folder")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dashboards", nargs="*", type=Path, help="dashboard JSON files (default: dashboards/json/*.json)")
    parser.add_argument("--emit-promql", type=Path, metavar="FILE", help="write every PromQL expression to FILE, one per line")
    args = parser.parse_args(argv)

    files = args.dashboards or sorted((HERE / "json").glob("*.json"))
    errors: list[str] = []
    promql: list[str] = []
    if not files:
        errors.append("no dashboard JSON found")
    uids: dict[str, str] = {}
    for path in files:
        uid = check_dashboard(path, errors, promql)
        if uid in uids:
            errors.append(f"{path.name}: uid {uid!r} is also used by {uids[uid]}")
        elif uid:
            uids[uid] = path.name
    provisioning = check_provisioning(HERE / "provisioning", errors) if not args.dashboards else 0

    if args.emit_promql:
        unique = list(dict.fromkeys(" ".join(e.split()) for e in promql))
        args.emit_promql.write_text("".join(e + "\n" for e in unique), encoding="utf-8")

    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    status = "FAILED" if errors else "ok"
    print(f"dashboards: {status}: {len(files)} dashboards, {provisioning} provisioning files, "
          f"{len(promql)} PromQL expressions, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
