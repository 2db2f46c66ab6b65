#!/usr/bin/env python3
"""Writes the schema table the `catalog` feature embeds.

Reads TheNorthMemory/wechatpay-openapi (MIT, (c) 2020-present James ZHANG)
at a pinned commit straight from a git directory (no work tree needed), and
writes, for every APIv3 operation of our corpus (src/mock/data/endpoints.tsv)
that the description knows:

  src/catalog/data/schema.json.gz   the table (gzip, deterministic)
  src/catalog/data/schema.sha256    sha256 of the uncompressed JSON

Taken from the description: names, types, formats, required lists, enums,
lengths, ranges, patterns, items, one example value, and a short display
title (the description's first words, cut at the first punctuation; titles
longer than TITLE_MAX characters are dropped, never copied). No description
text is written. `$ref` and `allOf` are resolved. The corrections in
tools/schema/overrides.json (each with its source) are applied last.

    pip install PyYAML   # 6.x
    python3 tools/schema/gen.py --git-dir /path/to/wechatpay-openapi/.git

Run it again with the same commit and the output is byte-for-byte the same;
tests/schema_table.rs checks the embedded table against schema.sha256.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import posixpath
import re
import subprocess
import sys

import yaml

COMMIT = "4d6325b09af308025ba7677ead284feeea2680ba"
REPO = "TheNorthMemory/wechatpay-openapi"
NOTICE = "Copyright (c) 2020-present James ZHANG(TheNorthMemory); MIT licence, see LICENSE-wechatpay-openapi"
TITLE_MAX = 16
METHODS = ("get", "post", "put", "patch", "delete")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class Source:
    """The files of one commit, read through `git cat-file`."""

    def __init__(self, git_dir, commit):
        self.git_dir, self.commit, self.cache = git_dir, commit, {}

    def text(self, path):
        out = subprocess.run(
            ["git", "--git-dir", self.git_dir, "show", f"{self.commit}:{path}"],
            check=True,
            capture_output=True,
        ).stdout
        return out.decode("utf-8")

    def yaml(self, path):
        if path not in self.cache:
            self.cache[path] = yaml.safe_load(self.text(path))
        return self.cache[path]


def title(description):
    """The short display title WeChat Pay quotes (`总金额`), or None."""
    if not isinstance(description, str):
        return None
    first = description.strip().split("\n")[0]
    cut = re.split(r"[。，,；;（(【\[\s:：、<]", first, maxsplit=1)[0].strip()
    if not cut or len(cut) > TITLE_MAX:
        return None
    return cut


class Resolver:
    def __init__(self, source):
        self.source = source

    def ref(self, ref, base):
        """(node, file) a `$ref` names, relative to file `base`."""
        target, _, fragment = ref.partition("#")
        path = posixpath.normpath(posixpath.join(posixpath.dirname(base), target)) if target else base
        node = self.source.yaml(path)
        for part in [p for p in fragment.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, path

    def deref(self, node, base, seen=()):
        """Follows `$ref` chains (siblings of `$ref` are kept, the ref's
        own keys win where both have one)."""
        while isinstance(node, dict) and "$ref" in node:
            key = (base, node["$ref"])
            if key in seen:
                raise ValueError(f"cyclic $ref {key}")
            seen = seen + (key,)
            target, base = self.ref(node["$ref"], base)
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node = dict(target) if isinstance(target, dict) else target
            if isinstance(node, dict):
                for k, v in extra.items():
                    node.setdefault(k, v)
        return node, base, seen

    def field(self, node, base, seen=()):
        """A compact field tree: t type, f format, n title, r required,
        p [[name, field]…], i items, e enum, x example, length and range."""
        node, base, seen = self.deref(node, base, seen)
        if not isinstance(node, dict):
            return {}
        if "allOf" in node:
            merged = {k: v for k, v in node.items() if k != "allOf"}
            out = self.field(merged, base, seen) if merged else {}
            for part in node["allOf"]:
                out = merge(out, self.field(part, base, seen))
            return out
        out = {}
        kind = node.get("type")
        if isinstance(kind, str) and kind.strip() in (
            "string", "integer", "number", "boolean", "object", "array", "file"
        ):
            out["t"] = kind.strip()
        elif "properties" in node:
            out["t"] = "object"
        fmt = node.get("format")
        if isinstance(fmt, str):
            out["f"] = fmt
        name = title(node.get("description"))
        if name:
            out["n"] = name
        if isinstance(node.get("required"), list):
            out["r"] = [r for r in node["required"] if isinstance(r, str)]
        if isinstance(node.get("properties"), dict):
            out["p"] = [
                [key, self.field(value, base, seen)]
                for key, value in node["properties"].items()
            ]
            out.setdefault("t", "object")
        if "items" in node:
            out["i"] = self.field(node["items"], base, seen)
            out.setdefault("t", "array")
        if isinstance(node.get("enum"), list):
            out["e"] = [v for v in node["enum"] if v is not None]
        if "example" in node and is_json(node["example"]):
            out["x"] = node["example"]
        for key, short in (
            ("minLength", "ml"), ("maxLength", "xl"), ("minimum", "mn"),
            ("maximum", "mx"), ("minItems", "mi"), ("maxItems", "xi"),
        ):
            value = node.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[short] = value
        if isinstance(node.get("pattern"), str):
            out["pt"] = node["pattern"]
        return out


def is_json(value):
    """YAML dates and the like are not JSON: such an example is left out."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json(v) for k, v in value.items())
    return False


def merge(a, b):
    """`allOf`: properties in order (a later part's field merged into an
    earlier one of the same name), required lists unioned, else first wins."""
    out = dict(a)
    for key, value in b.items():
        if key == "p":
            props = [list(p) for p in out.get("p", [])]
            index = {p[0]: i for i, p in enumerate(props)}
            for name, field in value:
                if name in index:
                    props[index[name]][1] = merge(props[index[name]][1], field)
                else:
                    index[name] = len(props)
                    props.append([name, field])
            out["p"] = props
        elif key == "r":
            out["r"] = out.get("r", []) + [r for r in value if r not in out.get("r", [])]
        elif key == "i" and "i" in out:
            out["i"] = merge(out["i"], value)
        else:
            out.setdefault(key, value)
    return out


def param(resolver, node, base):
    node, base, _ = resolver.deref(node, base)
    field = resolver.field(node.get("schema", node), base) if node.get("in") == "body" else resolver.field(node, base)
    if node.get("required") is True:
        field["rq"] = 1
    return node.get("in"), node.get("name"), field


def corpus():
    """(METHOD, template) of the APIv3 operations of endpoints.tsv."""
    path = os.path.join(ROOT, "src/mock/data/endpoints.tsv")
    ops = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        m, p, a = header.index("METHOD"), header.index("PATH"), header.index("API")
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > a and cols[a] == "v3":
                ops.append((cols[m].upper(), cols[p]))
    return ops


def apply_overrides(table, overrides):
    """Each override: op "METHOD template", where "b" (body) | "a" (answer),
    a pointer of property names ("/receivers/*/result": `*` is the items),
    the keys to `set` and/or the names to `unrequire`; its `source` says why."""
    ops = {o["m"] + " " + o["u"]: o for o in table["operations"]}
    applied = 0
    for rule in overrides:
        op = ops.get(rule["op"])
        if op is None or rule["where"] not in op:
            raise SystemExit(f"override for unknown place: {rule['op']} {rule['where']}")
        node = op[rule["where"]]
        for part in [p for p in rule["pointer"].split("/") if p]:
            if part == "*":
                node = node["i"]
            else:
                node = dict(node.get("p", []))[part]
        node.update(rule.get("set", {}))
        if "unrequire" in rule:
            node["r"] = [r for r in node.get("r", []) if r not in rule["unrequire"]]
        applied += 1
    return applied


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--git-dir", required=True, help="wechatpay-openapi's git directory")
    parser.add_argument("--commit", default=COMMIT)
    parser.add_argument("--out", default=os.path.join(ROOT, "src/catalog/data"))
    args = parser.parse_args()
    source = Source(args.git_dir, args.commit)
    resolver = Resolver(source)
    swagger = source.yaml("docs/swagger.yaml")
    paths = {}
    for key, value in swagger["paths"].items():
        node, base, _ = resolver.deref(value, "docs/swagger.yaml")
        paths[key.lstrip("/")] = (node, base)
    operations, missing = [], []
    for method, template in corpus():
        found = paths.get(template)
        item = found and found[0].get(method.lower())
        if not item:
            missing.append(f"{method} {template}")
            continue
        base = found[1]
        op = {"m": method, "u": template}
        for p in item.get("parameters", []) or []:
            where, name, field = param(resolver, p, base)
            if where == "body":
                op["b"] = field
            elif where in ("query", "path", "header"):
                op.setdefault({"query": "q", "path": "pp", "header": "h"}[where], []).append([name, field])
        for status, answer in sorted((item.get("responses") or {}).items(), key=lambda kv: str(kv[0])):
            if str(status).startswith("2"):
                op["s"] = int(status)
                if isinstance(answer, dict) and "schema" in answer:
                    op["a"] = resolver.field(answer["schema"], base)
                break
        operations.append(op)
    table = {
        "source": {"repo": REPO, "commit": args.commit, "notice": NOTICE},
        "operations": operations,
    }
    with open(os.path.join(HERE, "overrides.json"), encoding="utf-8") as f:
        applied = apply_overrides(table, json.load(f))
    text = json.dumps(table, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")
    os.makedirs(args.out, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(text)
    with open(os.path.join(args.out, "schema.json.gz"), "wb") as f:
        f.write(buffer.getvalue())
    digest = hashlib.sha256(text).hexdigest()
    with open(os.path.join(args.out, "schema.sha256"), "w") as f:
        f.write(f"{digest}  schema.json ({REPO}@{args.commit})\n")
    with open(os.path.join(args.out, "LICENSE-wechatpay-openapi"), "w") as f:
        f.write(
            f"schema.json.gz is derived from {REPO} at commit {args.commit}\n"
            "(docs/**/*.yaml: names, types, formats, required lists, enums, lengths,\n"
            "examples and short titles; no descriptions). Its licence:\n\n"
        )
        f.write(source.text("LICENSE"))
    with_body = sum(1 for o in operations if o.get("b", {}).get("p"))
    print(
        f"{len(operations)} operations ({with_body} with a request body schema), "
        f"{len(missing)} corpus operations not described, {applied} overrides; "
        f"{len(text)} bytes JSON, {len(buffer.getvalue())} gzipped; sha256 {digest}",
        file=sys.stderr,
    )
    for m in missing:
        print(f"  not described: {m}", file=sys.stderr)


if __name__ == "__main__":
    main()
