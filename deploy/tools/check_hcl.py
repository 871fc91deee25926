#!/usr/bin/env python3
"""Static checks of the Terraform under deploy/ without Terraform (python-hcl2 only).

    python deploy/tools/check_hcl.py [deploy-dir]

Run it with the python of a venv holding python-hcl2 8.x (scripts/check-deploy makes one). It
stands in for the parts of `terraform validate` that need no provider:

1. every .tf file parses (HCL2 syntax);
2. every module call with a local source (./ or ../) points at a folder that holds .tf files,
   passes every variable that has no default, and passes no argument the module does not
   declare;
3. every `var.X` names a declared variable, every `local.X` a declared local and every
   `module.M.O` a declared module call and one of its outputs, in the folder where it is used;
   a `moved` block's `to` names a resource declared here or in the called module
   (`module.M.TYPE.NAME`), and its `from` no longer names a resource of this folder;
4. every variable and output has a description, every variable a type;
5. every environment (envs/*) has main.tf, variables.tf, outputs.tf, versions.tf, backend.tf and
   terraform.tfvars.example; its backend is "s3" with encrypt = true and a lock (use_lockfile or
   dynamodb_table); the .tfvars.example assigns no secret-looking name a value;
6. every module (modules/*) has main.tf, variables.tf, outputs.tf and versions.tf, and every
   folder pins required_version;
7. every `aws_dynamodb_table` declares an `attribute` for each key of the table and of its
   indexes, and no other (DynamoDB refuses both at creation, which `terraform plan` does not
   catch).

Prints one line per problem and a summary; exits 1 when there is any problem.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import hcl2
except ImportError:  # pragma: no cover - the caller's environment is wrong
    sys.exit("python-hcl2 is not installed in this interpreter (pip install python-hcl2==8.1.4)")

META_ARGUMENTS = {"source", "version", "providers", "depends_on", "count", "for_each"}
ENV_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "backend.tf", "terraform.tfvars.example")
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")
SECRET_NAME = re.compile(r"(password|passwd|secret|token|private_key|access_key)", re.I)


def strip_comments(text: str) -> str:
    """The text with #, // and /* */ comments blanked, strings and ${} interpolations kept."""
    out = []
    stack = ["code"]  # "code", "string" or "interp" (code inside ${ } of a string)
    depth = [0]  # brace depth of each interpolation
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        state = stack[-1]
        if state == "string":
            if c == "\\":
                out.append(text[i:i + 2])
                i += 2
                continue
            if c == '"':
                stack.pop()
            elif text.startswith("${", i):
                stack.append("interp")
                depth.append(0)
                out.append("${")
                i += 2
                continue
            out.append(c)
            i += 1
            continue
        # code or interpolation
        if c == '"':
            stack.append("string")
        elif state == "interp" and c == "{":
            depth[-1] += 1
        elif state == "interp" and c == "}":
            if depth[-1] == 0:
                stack.pop()
                depth.pop()
            else:
                depth[-1] -= 1
        elif c == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def unq(value):
    """python-hcl2 keeps the quotes of string literals and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def blocks(doc: dict, kind: str):
    """(label, body) of every `kind "label" { … }` block of a parsed file."""
    for entry in doc.get(kind, []) or []:
        for label, body in entry.items():
            yield unq(label), body


class Folder:
    """The .tf files of one folder (one Terraform module), parsed."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.docs: dict[Path, dict] = {}
        self.texts: dict[Path, str] = {}
        self.unparsed = False
        for f in sorted(path.glob("*.tf")):
            text = f.read_text(encoding="utf-8")
            self.texts[f] = text
            try:
                self.docs[f] = hcl2.loads(text)
            except Exception as e:  # python-hcl2 raises lark errors of several kinds
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                problems.append(f"{f}: parse error: {first}")
                self.unparsed = True

    def each(self, kind: str):
        for f, doc in self.docs.items():
            for label, body in blocks(doc, kind):
                yield f, label, body

    def variables(self) -> dict[str, dict]:
        return {label: body for _, label, body in self.each("variable")}

    def outputs(self) -> dict[str, dict]:
        return {label: body for _, label, body in self.each("output")}

    def locals(self) -> set[str]:
        names = set()
        for doc in self.docs.values():
            for entry in doc.get("locals", []) or []:
                names.update(k for k in entry if not k.startswith("__"))
        return names

    def modules(self):
        return list(self.each("module"))

    def resources(self) -> set[str]:
        """TYPE.NAME of every managed resource of the folder."""
        return {f"{kind}.{name}" for _, kind, body in self.each("resource") for name in map(unq, body)}

    def moved(self):
        """(file, from, to) of every moved block, addresses without ${ }."""
        for f, doc in self.docs.items():
            for entry in doc.get("moved", []) or []:
                ends = [str(entry.get(k, "")).removeprefix("${").removesuffix("}") for k in ("from", "to")]
                yield f, ends[0], ends[1]

    def terraform_blocks(self):
        for f, doc in self.docs.items():
            for entry in doc.get("terraform", []) or []:
                yield f, entry


def check_folder(folder: Folder, folders: dict[Path, Folder], problems: list[str]) -> int:
    """Checks 2–4 and 6 for one folder; returns the number of module calls."""
    variables = folder.variables()
    outputs = folder.outputs()
    local_names = folder.locals()
    calls = {}

    for f, name, body in folder.each("variable"):
        if not unq(body.get("description", "")):
            problems.append(f"{f}: variable {name!r} has no description")
        if "type" not in body:
            problems.append(f"{f}: variable {name!r} has no type")
    for f, name, body in folder.each("output"):
        if not unq(body.get("description", "")):
            problems.append(f"{f}: output {name!r} has no description")

    if not any("required_version" in entry for _, entry in folder.terraform_blocks()):
        problems.append(f"{folder.path}: no terraform.required_version")

    for f, name, body in folder.modules():
        source = unq(body.get("source", ""))
        if not source:
            problems.append(f"{f}: module {name!r} has no source")
            continue
        if not source.startswith(("./", "../")):
            continue  # registry or git sources are pinned elsewhere; nothing local to check
        target = (folder.path / source).resolve()
        if not target.is_dir() or not any(target.glob("*.tf")):
            problems.append(f"{f}: module {name!r} source {source} is not a folder with .tf files")
            continue
        callee = folders.get(target)
        if callee is None:
            problems.append(f"{f}: module {name!r} source {source} is outside the checked tree")
            continue
        calls[name] = callee
        declared = callee.variables()
        given = {k for k in body if not k.startswith("__")} - META_ARGUMENTS
        for arg in sorted(given - set(declared)):
            problems.append(f"{f}: module {name!r} passes {arg!r}, which {source} does not declare")
        for var, spec in sorted(declared.items()):
            if "default" not in spec and var not in given:
                problems.append(f"{f}: module {name!r} does not pass required variable {var!r} of {source}")

    # A moved block's ends are resource addresses, not expressions: checked here, not as references.
    resources = folder.resources()
    for f, src, dst in ([] if folder.unparsed else folder.moved()):
        key = re.sub(r"\[[^\]]*\]", "", dst)  # the instance key ([0], ["x"]) does not matter here
        m = re.fullmatch(r"module\.([A-Za-z_][\w-]*)\.(.+)", key)
        if m and m.group(1) not in calls:
            problems.append(f"{f}: moved to {dst}: module.{m.group(1)} is not a local module call of {folder.path.name}/")
        elif m and m.group(2) not in calls[m.group(1)].resources():
            problems.append(f"{f}: moved to {dst}: {calls[m.group(1)].path.name}/ declares no {m.group(2)}")
        elif not m and key not in resources:
            problems.append(f"{f}: moved to {dst}: {folder.path.name}/ declares no such resource")
        if re.sub(r"\[[^\]]*\]", "", src) in resources:
            problems.append(f"{f}: moved from {src}, which {folder.path.name}/ still declares")

    # A file that does not parse hides its declarations: reference checks would only add noise.
    for f, text in ([] if folder.unparsed else folder.texts.items()):
        code = re.sub(r"\bmoved\s*\{[^{}]*\}", "", strip_comments(text))
        for ref in sorted(set(re.findall(r"\bvar\.([A-Za-z_][\w-]*)", code))):
            if ref not in variables:
                problems.append(f"{f}: var.{ref} is not declared in {folder.path.name}/")
        for ref in sorted(set(re.findall(r"\blocal\.([A-Za-z_][\w-]*)", code))):
            if ref not in local_names:
                problems.append(f"{f}: local.{ref} is not declared in {folder.path.name}/")
        for mod, out in sorted(set(re.findall(r"\bmodule\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)", code))):
            if mod not in calls:
                if mod not in {n for _, n, _ in folder.modules()}:
                    problems.append(f"{f}: module.{mod} is not a module call of {folder.path.name}/")
                continue
            if out not in calls[mod].outputs():
                problems.append(f"{f}: module.{mod}.{out} is not an output of {calls[mod].path.name}/")
    return len(calls)


def check_dynamodb_tables(folder: Folder, problems: list[str]) -> None:
    """Check 7: the attributes of each DynamoDB table are exactly its key attributes."""
    for f, kind, body in folder.each("resource"):
        if kind != "aws_dynamodb_table":
            continue
        for name, table in body.items():
            keys = {unq(table.get(k)) for k in ("hash_key", "range_key") if table.get(k)}
            for index in table.get("global_secondary_index", []) + table.get("local_secondary_index", []):
                keys.update(unq(index.get(k)) for k in ("hash_key", "range_key") if index.get(k))
            declared = {unq(a.get("name")) for a in table.get("attribute", [])}
            for key in sorted(keys - declared):
                problems.append(f"{f}: table {unq(name)!r} uses key {key!r} without an attribute block")
            for attribute in sorted(declared - keys):
                problems.append(f"{f}: table {unq(name)!r} declares attribute {attribute!r}, which no key uses")


def check_env(folder: Folder, problems: list[str]) -> None:
    for name in ENV_FILES:
        if not (folder.path / name).is_file():
            problems.append(f"{folder.path}: missing {name}")
    backend_file = folder.path / "backend.tf"
    backends = []
    for f, entry in folder.terraform_blocks():
        for backend in entry.get("backend", []) or []:
            for kind, body in backend.items():
                backends.append((f, unq(kind), body))
    if not backends:
        problems.append(f"{folder.path}: no backend block")
    for f, kind, body in backends:
        if f != backend_file:
            problems.append(f"{f}: the backend belongs in backend.tf")
        if kind != "s3":
            problems.append(f"{f}: backend {kind!r} is not s3")
            continue
        if body.get("encrypt") is not True:
            problems.append(f"{f}: s3 backend without encrypt = true")
        if body.get("use_lockfile") is not True and not body.get("dynamodb_table"):
            problems.append(f"{f}: s3 backend without locking (use_lockfile = true or dynamodb_table)")
        if not unq(body.get("key", "")):
            problems.append(f"{f}: s3 backend without a state key")
    example = folder.path / "terraform.tfvars.example"
    if example.is_file():
        text = example.read_text(encoding="utf-8")
        try:
            hcl2.loads(text)
        except Exception as e:
            problems.append(f"{example}: parse error: {str(e).strip().splitlines()[0] if str(e).strip() else e}")
        for line_no, line in enumerate(text.splitlines(), 1):
            m = re.match(r"\s*([A-Za-z_][\w-]*)\s*=\s*(.+)$", line)
            if m and SECRET_NAME.search(m.group(1)) and m.group(2).strip() not in ('""', "null"):
                problems.append(f"{example}:{line_no}: assigns {m.group(1)!r}: no secret belongs in a committed file")


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
    problems: list[str] = []
    dirs = sorted({f.parent.resolve() for f in root.rglob("*.tf") if ".terraform" not in f.parts})
    folders = {d: Folder(d, problems) for d in dirs}
    files = sum(len(f.texts) for f in folders.values())

    calls = sum(check_folder(folder, folders, problems) for folder in folders.values())
    for folder in folders.values():
        check_dynamodb_tables(folder, problems)

    envs = sorted(p for p in (root / "envs").glob("*") if p.is_dir())
    modules = sorted(p for p in (root / "modules").glob("*") if p.is_dir())
    if not envs:
        problems.append(f"{root}/envs: no environment")
    for env in envs:
        check_env(folders.get(env.resolve()) or Folder(env, problems), problems)
    for module in modules:
        for name in MODULE_FILES:
            if not (module / name).is_file():
                problems.append(f"{module}: missing {name}")

    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    status = "FAILED" if problems else "ok"
    print(f"hcl: {status}: {files} files in {len(folders)} folders, {len(envs)} environments, "
          f"{len(modules)} modules, {calls} local module calls, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
