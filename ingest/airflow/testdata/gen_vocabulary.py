#!/usr/bin/env python3
"""Derive the Airflow audit-log vocabulary from Airflow's own source.

For every Airflow version listed in VERSIONS this reads, straight from a git
directory of apache/airflow (or a fork that carries its tags), the code that
writes rows of the `log` table:

  view    2.x web UI view functions decorated with @action_logging
          (airflow/www/views.py); the event is the function name or the
          decorator's event= argument.
  model   2.x FAB model views: AirflowModelView.__getattribute__ wraps every
          method whose permission is not a read in action_logging with the
          event "<route_base>.<permission>" (2.3+).
  api     REST operations: 2.x api_connexion endpoints decorated with
          @action_logging (bare in 2.5-2.8, "api."/"ui." prefixed from 2.9,
          when the decorator adds the prefix), 3.x FastAPI routes with
          Depends(action_logging(...)) (the endpoint function name).
  cli     CLI commands decorated with @action_cli / @cli_utils.action_cli
          (the event is "cli_" + the decorated function's name).
  system  rows the scheduler, executors and task runner write with Log(...),
          log_task_event(...) or _add_log(...) and a constant event.
  state   task-state rows (Log(ti.state, ti)): every TaskInstanceState value.

1.10.15 is read too (airflow/www, airflow/www_rbac, airflow/bin/cli.py), for
the names older installations left in their logs.

and writes ../vocabulary.tsv: one row per (event, kind) with the versions
that write it and the source location (path and function) in the newest of
them. The class and rule columns are keytrail's reading of the name; they
are kept from the existing file, and a name seen for the first time gets
class "?" so that TestVocabulary fails until someone reads the source and
assigns it.

Usage:

  python3 gen_vocabulary.py --git2 DIR --git3 DIR           # rewrite ../vocabulary.tsv
  python3 gen_vocabulary.py --git2 DIR --git3 DIR --check   # exit 1 if it would change
  python3 gen_vocabulary.py ... --dump 2.10.3               # print one version's names

--git2 is a git directory holding the 2.x release tags (and the commits named
in VERSIONS); --git3 one holding apache/airflow main history for 3.x.
"""
from __future__ import annotations

import argparse
import ast
import collections
import os
import re
import subprocess
import sys

# (label, repo key, ref). Labels are ordered oldest first. The 3.x labels are
# main at the commit before the version bump that opened the next minor
# (the v3-0-test / v3-1-test branch points), because the fork read here has
# main's history but not the release branches.
VERSIONS = (
    [("1.10.15", "git2", "1.10.15")]
    + [(t, "git2", t) for t in (
        "2.0.0 2.0.1 2.0.2 2.1.0 2.1.1 2.1.2 2.1.3 2.1.4 "
        "2.2.0 2.2.1 2.2.2 2.2.3 2.2.4 2.2.5 2.3.0 2.3.1 2.3.2 2.3.3 2.3.4 "
        "2.4.0 2.4.1 2.4.2 2.4.3 2.5.0 2.5.1 2.5.2 2.5.3 2.6.0 2.6.1 2.6.2 2.6.3 "
        "2.7.0 2.7.1 2.7.2 2.7.3 2.8.0 2.8.1 2.8.2 2.8.3 2.8.4 2.9.0 2.9.1 2.9.2 2.9.3 "
        "2.10.0 2.10.1 2.10.2 2.10.3").split()]
    + [
        ("2.10.5", "git2", "b93c3db6b1"),  # v2-10-stable "Update version to 2.10.5"
        ("2.11.0", "git2", "d9ed7b94d0"),  # v2-11-test "Add release notes for 2.11.0"
        ("2.11.1", "git2", "2e870c7006"),  # v2-11-test "Fix 2.11.1 dependencies for fab provider"
        ("3.0", "git3", "c14bc9b4d9^"),  # main before "Bump Airflow to 3.1.0.dev0" (2025-04-22)
        ("3.1", "git3", "c22df6d805^"),  # main before "Make the main branch target to Airflow 3.2" (2025-09-11)
        ("3.2.dev", "git3", "e0b55c21e2"),  # main 2026-03-07: names 3.1.x patch releases may carry
    ]
)
LABELS = [v[0] for v in VERSIONS]

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "vocabulary.tsv")

READ_PERMS_DEFAULT = ["show", "list", "read", "get", "get_list"]
# FAB ModelView methods decorated with FAB's has_access (so they carry
# _permission_name = their own name) that Airflow's model views inherit.
FAB_METHODS = {"list", "show", "add", "edit", "delete", "download", "action", "action_post"}
PERMISSION_DECORATORS = {"has_access", "has_access_with_pk", "protect", "permission_name"}


class Tree:
    """The files of one ref of a git directory."""

    def __init__(self, git: str, ref: str):
        self.git, self.ref = git, ref
        out = subprocess.run(["git", "-C", git, "ls-tree", "-r", "--name-only", ref],
                             check=True, capture_output=True, text=True).stdout
        self.paths = [p for p in out.splitlines() if p.endswith(".py")]
        self._cat = subprocess.Popen(["git", "-C", git, "cat-file", "--batch"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def read(self, path: str) -> str:
        self._cat.stdin.write(f"{self.ref}:{path}\n".encode())
        self._cat.stdin.flush()
        header = self._cat.stdout.readline().decode()
        if header.endswith("missing\n"):
            return ""
        size = int(header.split()[2])
        data = self._cat.stdout.read(size)
        self._cat.stdout.read(1)
        return data.decode("utf-8", "replace")

    def close(self):
        self._cat.stdin.close()
        self._cat.wait()


def interesting(path: str) -> bool:
    if "/tests/" in path or path.startswith("tests/") or "/test_" in path or "/example_dags/" in path:
        return False
    if path.startswith("airflow/") or path.startswith("airflow-core/src/airflow/"):
        return True
    # 3.x providers live in providers/<name>/src/airflow/providers/...
    return bool(re.match(r"providers/[^/]+(/[^/]+)?/src/airflow/providers/", path))


def short(path: str) -> str:
    return path


# --- constant evaluation -------------------------------------------------------------------

class Consts:
    """String constants visible to an expression: module level names and permissions.X."""

    def __init__(self, module: dict[str, str], permissions: dict[str, str]):
        self.module, self.permissions = module, permissions

    def eval(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.module.get(node.id) or self.permissions.get(node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "permissions":
                return self.permissions.get(node.attr)
            if node.attr == "value":
                return state_value(node.value)
            return state_value(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
            base = self.eval(node.func.value)
            if base is not None and node.func.attr == "lower":
                return base.lower()
            if base is not None and node.func.attr == "upper":
                return base.upper()
        if isinstance(node, ast.Call) and call_name(node) == "action_event_from_permission":
            kw = {k.arg: self.eval(k.value) for k in node.keywords}
            prefix, perm = kw.get("prefix"), kw.get("permission")
            if perm is None:
                return None
            if perm.startswith("can_"):
                perm = perm[4:]
            return f"{prefix}.{perm}" if prefix else perm
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(v.value)
                elif isinstance(v, ast.FormattedValue):
                    s = self.eval(v.value)
                    if s is None:
                        return None
                    parts.append(s)
            return "".join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            a, b = self.eval(node.left), self.eval(node.right)
            if a is not None and b is not None:
                return a + b
        return None


STATE_ENUMS = {"State", "TaskInstanceState", "TaskState", "DagRunState"}


def state_value(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in STATE_ENUMS:
        return node.attr.lower()
    return None


def module_consts(tree: ast.Module) -> dict[str, str]:
    out = {}
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            if isinstance(n.value, ast.Constant) and isinstance(n.value.value, str):
                out[n.targets[0].id] = n.value.value
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and isinstance(n.value, ast.Constant):
            if isinstance(n.value.value, str):
                out[n.target.id] = n.value.value
    return out


def call_name(node: ast.AST) -> str:
    f = node.func if isinstance(node, ast.Call) else node
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return dotted(node.value) + "." + node.attr
    if isinstance(node, ast.Call):
        return dotted(node.func)
    return ""


# --- extraction ----------------------------------------------------------------------------

Name = collections.namedtuple("Name", "event kind source note")


class Extractor:
    def __init__(self, tree: Tree):
        self.tree = tree
        self.names: list[Name] = []
        self.problems: list[str] = []
        self.permissions = {}
        for p in ("airflow/security/permissions.py", "airflow-core/src/airflow/security/permissions.py"):
            if p in tree.paths:
                self.permissions = module_consts(ast.parse(tree.read(p)))
        self.api_prefixed = False
        self.states: list[str] = []

    def add(self, event, kind, source, note=""):
        self.names.append(Name(event, kind, source, note))

    def run(self):
        dec = next((p for p in ("airflow/www/decorators.py",) if p in self.tree.paths), None)
        if dec:
            self.api_prefixed = 'f"api.{event_name}"' in self.tree.read(dec)
        for p in ("airflow/utils/state.py", "airflow-core/src/airflow/utils/state.py",
                  "task-sdk/src/airflow/sdk/definitions/state.py"):
            if p in self.tree.paths:
                self.task_states(p, self.tree.read(p))
        for path in self.tree.paths:
            if not interesting(path):
                continue
            src = self.tree.read(path)
            if not any(k in src for k in ("action_logging", "action_cli", "Log(", "log_task_event(", "_add_log(", "bulk_insert_mappings(")):
                continue
            try:
                mod = ast.parse(src)
            except SyntaxError as e:
                self.problems.append(f"{path}: {e}")
                continue
            self.module(path, src, mod)
        return self

    def task_states(self, path, src):
        mod = ast.parse(src)
        for n in mod.body:
            if isinstance(n, ast.ClassDef) and n.name in ("TaskInstanceState", "State"):
                for s in n.body:
                    if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name) and s.targets[0].id.isupper():
                        tgt = s.targets[0]
                        v = None
                        if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                            v = s.value.value
                        elif isinstance(s.value, ast.Attribute):  # 3.x: QUEUED = IntermediateTIState.QUEUED
                            v = s.value.attr.lower()
                        if v and n.name == "State" and tgt.id in ("NONE",):
                            v = None
                        if v:
                            if v not in self.states:
                                self.states.append(v)
                                self.add(v, "state", f"{path}:{n.name}.{tgt.id}")
                if n.name == "TaskInstanceState":
                    return

    def module(self, path, src, mod):
        consts = Consts(module_consts(mod), self.permissions)
        is_www = "/www/" in path or "/www_rbac/" in path
        is_api2 = "/api_connexion/" in path or "/api_endpoints/" in path
        is_logger = path.endswith(("www/decorators.py", "www/utils.py", "www_rbac/decorators.py", "api_fastapi/logging/decorators.py",
                                   "utils/cli_action_loggers.py", "utils/cli.py", "models/log.py"))
        logged_routers = set()
        for n in mod.body:  # APIRouter(..., dependencies=[Depends(action_logging())])
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and call_name(n.value) in ("APIRouter", "AirflowRouter"):
                if "action_logging" in ast.unparse(n.value):
                    logged_routers.add(ast.unparse(n.targets[0]))
        if is_www and "class AirflowModelView" in src:
            self.model_views(path, src, mod, consts)

        def visit(node, cls):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef):
                    visit(child, child.name)
                    continue
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.function(path, child, cls, consts, is_www, is_api2, logged_routers)
                    if not is_logger:
                        self.log_calls(path, child, cls, consts)
                    continue
                visit(child, cls)

        visit(mod, "")

    def function(self, path, fn, cls, consts, is_www, is_api2, logged_routers):
        where = f"{path}:{cls + '.' if cls else ''}{fn.name}"
        for d in fn.decorator_list:
            name = call_name(d) if isinstance(d, ast.Call) else dotted(d).split(".")[-1]
            full = dotted(d)
            if name == "action_cli" or full.endswith("cli_utils.action_logging"):
                self.add("cli_" + fn.name, "cli", where)
                continue
            if name == "action_logging":
                event = fn.name
                if isinstance(d, ast.Call):
                    for k in d.keywords:
                        if k.arg == "event":
                            ev = consts.eval(k.value)
                            if ev is None:
                                self.problems.append(f"{where}: event {ast.unparse(k.value)} not evaluated")
                                ev = "?" + ast.unparse(k.value)
                            event = ev
                if is_api2:
                    if self.api_prefixed:
                        self.add("api." + event, "api", where)
                        self.add("ui." + event, "api", where, "called by Airflow's own web UI")
                    else:
                        self.add(event, "api", where)
                elif is_www:
                    self.add(event, "view", where)
                else:
                    self.problems.append(f"{where}: action_logging outside www/api: {ast.unparse(d)}")
                continue
            if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in (
                    "get", "post", "put", "patch", "delete", "api_route"):
                text = ast.unparse(d)
                router = ast.unparse(d.func.value)
                if "action_logging" in text or router in logged_routers:
                    event = fn.name
                    m = re.search(r"action_logging\(event=([^)]*)\)", text)
                    if m:
                        event = consts.eval(ast.parse(m.group(1), mode="eval").body) or "?" + m.group(1)
                    self.add(event, "api", where)

    def log_calls(self, path, fn, cls, consts):
        where = f"{path}:{cls + '.' if cls else ''}{fn.name}"
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            cn = call_name(node)
            ev = owner = None
            if cn == "Log" or cn in ("log_task_event", "_add_log"):
                if cn == "log_task_event" and isinstance(node.func, ast.Name):
                    continue
                kw = {k.arg: k.value for k in node.keywords}
                ev = kw.get("event") or (node.args[0] if node.args else None)
                owner = kw.get("owner") or (node.args[2] if cn == "Log" and len(node.args) > 2 else None)
            elif cn == "bulk_insert_mappings" and node.args and dotted(node.args[0]) == "Log":
                for d in ast.walk(node):
                    if isinstance(d, ast.Dict):
                        for k, v in zip(d.keys, d.values):
                            if isinstance(k, ast.Constant) and k.value == "event":
                                ev = v
                            if isinstance(k, ast.Constant) and k.value == "owner":
                                owner = v
            else:
                continue
            if ev is None:
                continue
            event = consts.eval(ev)
            own = consts.eval(owner) if owner is not None else None
            note = f"owner={own}" if own else ""
            if event is None:
                text = ast.unparse(ev)
                if re.search(r"\bstate\b", text) or text == "event":
                    # Log(ti.state, ti) / _add_log(event=self.state) / log_task_event(event=event):
                    # task states, or a caller's constant found at the call site.
                    continue
                self.problems.append(f"{where}: Log event {text} not evaluated")
                continue
            if event in self.states:
                continue  # a task-state row written with a literal state
            self.add(event, "system", where, note)

    def model_views(self, path, src, mod, consts):
        classes = {n.name: n for n in mod.body if isinstance(n, ast.ClassDef)}
        amv = classes.get("AirflowModelView")
        getattr_fn = next((f for f in amv.body if isinstance(f, ast.FunctionDef) and f.name == "__getattribute__"), None)
        if getattr_fn is None:
            return
        text = ast.unparse(getattr_fn)
        reads = READ_PERMS_DEFAULT
        m = re.search(r"permission_str not in (\[[^\]]*\])", text)
        if m:
            reads = ast.literal_eval(m.group(1))

        def chain(c):
            out = []
            while c is not None:
                out.append(c)
                base = next((b.id for b in c.bases if isinstance(b, ast.Name) and b.id in classes), None)
                c = classes.get(base) if base else None
            return out

        def attr(c, key):
            for k in chain(c):
                for s in k.body:
                    if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name) and s.targets[0].id == key:
                        return s.value
            return None

        def method(c, name):
            for k in chain(c):
                for s in k.body:
                    if isinstance(s, ast.FunctionDef) and s.name == name:
                        return k, s
            return None, None

        for c in classes.values():
            if "AirflowModelView" not in [k.name for k in chain(c)[1:]]:
                continue
            rb, mpn = attr(c, "route_base"), attr(c, "method_permission_name")
            if rb is None or mpn is None:
                continue
            route = consts.eval(rb)
            try:
                perms = ast.literal_eval(mpn)
            except ValueError:
                self.problems.append(f"{path}:{c.name}: method_permission_name not literal")
                continue
            for meth, perm in perms.items():
                if perm in reads:
                    continue
                owner, f = method(c, meth)
                if f is None:
                    if meth not in FAB_METHODS:
                        continue
                    where = f"{path}:{c.name}.{meth} (flask_appbuilder ModelView.{meth})"
                else:
                    decs = {dotted(d).split(".")[-1] for d in f.decorator_list}
                    if not decs & PERMISSION_DECORATORS:
                        continue  # no _permission_name: __getattribute__ does not wrap it
                    where = f"{path}:{owner.name}.{meth}"
                self.add(f"{route.strip('/')}.{perm}", "model", where)


# --- table ---------------------------------------------------------------------------------

HEADER = """\
# Airflow audit-log event names: every name each Airflow version writes to the `log` table,
# derived from Airflow's source by testdata/gen_vocabulary.py (it reads the code that writes
# the rows; see its docstring), with keytrail's class for each. The classifier is built from
# this file (classify.go); TestVocabulary walks every row.
#
# event     the name as written. 2.9+ REST rows carry "api." or "ui." (a call from Airflow's
#           own web UI); 3.x REST rows are bare endpoint names.
# kind      view (web UI view with @action_logging, channel ui) | model (2.x FAB list/edit
#           view, wrapped by AirflowModelView, ui) | api (REST, api; "ui." prefix: ui) |
#           cli (@action_cli, owner = OS user) | system (scheduler, executor, task runner) |
#           state (task-state row, system)
# class     model.ActionClass of the change; view for a read
# rule      what the row itself decides (classify.go): pause (pause vs unpause from
#           extra.is_paused), confirm (2.x: a preview page unless extra.confirmed is true),
#           dry_run (a preview unless extra.dry_run is false: the default is a dry run),
#           form (2.x mark-state form vs task-state row), note (3.x PATCH: a note-only edit
#           is other), owner (Airflow's own row when owner is "scheduler"), via (2.5-2.8
#           bare name shared by the UI model view and the REST API: api when extra holds
#           only the REST path parameter), daemon (a CLI command that starts one of
#           Airflow's own processes: system), - (none)
# versions  the versions read that write it: release tags; 3.0 / 3.1 = apache/airflow main
#           at the v3-0-test / v3-1-test branch points; 3.2.dev = main of 2026-03-07 (names
#           a 3.1.x patch release may carry)
# source    where the newest of those versions writes it (path:function)
"""
COLUMNS = ["event", "kind", "class", "rule", "versions", "source"]


def compress(labels: list[str]) -> str:
    idx = sorted(LABELS.index(l) for l in set(labels))
    runs, start, prev = [], None, None
    for i in idx:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            runs.append((start, prev))
            start = prev = i
    if start is not None:
        runs.append((start, prev))
    return ",".join(LABELS[a] if a == b else f"{LABELS[a]}-{LABELS[b]}" for a, b in runs)


def read_table(path):
    rows = {}
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if parts == COLUMNS:
                continue
            row = dict(zip(COLUMNS, parts))
            rows[(row["event"], row["kind"])] = row
    return rows


def render(rows):
    out = [HEADER, "\t".join(COLUMNS) + "\n"]
    kinds = ["view", "model", "api", "cli", "system", "state"]
    for key in sorted(rows, key=lambda k: (kinds.index(k[1]), k[0])):
        r = rows[key]
        out.append("\t".join(r[c] for c in COLUMNS) + "\n")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--git2", required=True)
    ap.add_argument("--git3", required=True)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--dump")
    ap.add_argument("--only", help="comma-separated labels to read (with --dump)")
    args = ap.parse_args()
    gits = {"git2": args.git2, "git3": args.git3}
    seen = collections.defaultdict(list)  # (event, kind) -> [labels]
    source = {}
    problems = []
    for label, repo, ref in VERSIONS:
        if args.dump and label != args.dump:
            continue
        t = Tree(gits[repo], ref)
        ex = Extractor(t).run()
        t.close()
        problems += [f"{label}: {p}" for p in ex.problems]
        for n in ex.names:
            seen[(n.event, n.kind)].append(label)
            source[(n.event, n.kind)] = n.source + (f" [{n.note}]" if n.note else "")
        if args.dump:
            for n in sorted(set(ex.names)):
                print(f"{n.kind}\t{n.event}\t{n.source}\t{n.note}")
    for p in problems:
        print("warning:", p, file=sys.stderr)
    if args.dump:
        return 0
    old = read_table(OUT)
    rows = {}
    for key, labels in seen.items():
        prev = old.get(key, {})
        rows[key] = {
            "event": key[0], "kind": key[1],
            "class": prev.get("class", "?"), "rule": prev.get("rule", "-"),
            "versions": compress(labels), "source": source[key],
        }
    text = render(rows)
    if args.check:
        with open(OUT) as f:
            if f.read() != text:
                print("vocabulary.tsv is out of date: run gen_vocabulary.py", file=sys.stderr)
                return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
