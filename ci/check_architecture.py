#!/usr/bin/env python3
"""Holds the source tree to docs/architecture.md.

    ci/check_architecture.py [ROOT]

C++: every `#include "..."` of a file in the tree must point along an arrow of the
architecture's `arrows` block. A room may always use itself; a room's tests/ and bench/
may also use every room of harness/ and netns/, as they test from above. Every folder
directly under harness/ must be a room of that block.
Python: the modules of the tcpfault package must import each other without a circle.

Prints one line per violation and exits 1 if there is any, 0 otherwise, 2 if the
architecture's block cannot be read.
"""

import ast
import os
import re
import sys

SOURCE_DIRS = ("harness", "netns", "bindings", "cases", "agents", "fuzz", "packaging")
PYTHON_PACKAGE = "bindings/python/tcpfault"
TEST_FOLDERS = ("tests", "bench")


def read_arrows(root):
    """{room: [targets]} from the ```arrows block of docs/architecture.md."""
    path = os.path.join(root, "docs", "architecture.md")
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        sys.exit(f"check_architecture: cannot read {path}: {e.strerror}")
    block = re.search(r"```arrows\n(.*?)```", text, re.S)
    if not block:
        sys.exit(f"check_architecture: {path} has no ```arrows block (room -> rooms it may use)")
    arrows = {}
    for n, line in enumerate(block.group(1).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        room, sep, targets = line.partition("->")
        if not sep:
            sys.exit(f"check_architecture: {path}, arrows line {n}: expected 'room -> room ...', got {line!r}")
        arrows[room.strip()] = targets.split()
    return arrows


def room_of(path, rooms):
    """The room that owns `path`: the longest room that is a folder above it."""
    best = None
    for room in rooms:
        if path.startswith(room + "/") and (best is None or len(room) > len(best)):
            best = room
    return best


def allowed(target, owner, path, arrows):
    """May a file of room `owner` (at `path`) include `target`?"""
    rooms = arrows.keys()
    target_room = room_of(target, rooms)
    if target_room == owner:
        return True
    patterns = list(arrows[owner])
    if any(part in TEST_FOLDERS for part in path.split("/")[:-1]):
        patterns += ["harness", "harness/*", "netns", "netns/*"]
    for p in patterns:
        if p == target or p == target_room:
            return True
        if p.endswith("/*") and target_room and target_room.startswith(p[:-1]):
            return True
    return False


def cpp_files(root):
    for top in SOURCE_DIRS:
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for f in sorted(files):
                if f.endswith((".h", ".cpp", ".c")):
                    yield os.path.relpath(os.path.join(folder, f), root)


def check_includes(root, arrows):
    problems = []
    rooms = arrows.keys()
    for path in cpp_files(root):
        owner = room_of(path, rooms)
        if owner is None:
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                target = m.group(1)
                if not os.path.exists(os.path.join(root, target)):
                    # Relative to the file (a BPF program's own header) or generated.
                    target = os.path.normpath(os.path.join(os.path.dirname(path), target))
                if room_of(target, rooms) is None:
                    continue  # outside the project's rooms (generated, system)
                if not allowed(target, owner, path, arrows):
                    problems.append(f"{path}:{n}: includes {m.group(1)}, but {owner} may not use "
                                    f"{room_of(target, rooms)} (docs/architecture.md: "
                                    f"{owner} -> {' '.join(arrows[owner]) or 'nothing'})")
    harness = os.path.join(root, "harness")
    for d in sorted(os.listdir(harness)):
        if os.path.isdir(os.path.join(harness, d)) and f"harness/{d}" not in rooms:
            problems.append(f"harness/{d}/: a folder that is no room of docs/architecture.md "
                            f"(add it to the arrows block with the rooms it may use)")
    return problems


def python_imports(root):
    """{module: {(imported module, line)}} within the tcpfault package."""
    base = os.path.join(root, PYTHON_PACKAGE)
    graph = {}
    modules = set()
    for folder, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f), base)[:-3].replace(os.sep, ".")
                name = "tcpfault" + ("" if rel == "__init__" else "." + rel.removesuffix(".__init__"))
                modules.add(name)
                graph[name] = (os.path.join(folder, f), f == "__init__.py")
    edges = {}
    for name, (path, is_package) in graph.items():
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        package = name if is_package else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    found.add((a.name, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    parent = ".".join(parts[: len(parts) - node.level + 1])
                    source = parent + ("." + node.module if node.module else "")
                else:
                    source = node.module or ""
                found.add((source, node.lineno))
                for a in node.names:  # `from pkg import module`
                    found.add((source + "." + a.name, node.lineno))
        # The package itself (`import tcpfault`) only re-exports the extension: not an edge
        # back to the importer.
        edges[name] = {(m, line) for m, line in found if m in modules and m != name and m != "tcpfault"}
    return edges, graph


def check_python(root):
    edges, files = python_imports(root)
    problems = []
    state = {}
    stack = []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for target, line in sorted(edges.get(m, ())):
            if state.get(target) == "open":
                circle = stack[stack.index(target):] + [target]
                where = os.path.relpath(files[m][0], root)
                problems.append(f"{where}:{line}: imports {target}, closing the circle "
                                f"{' -> '.join(circle)} (move what both use into a module of its own)")
            elif target not in state:
                visit(target)
        stack.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)
    return problems


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    arrows = read_arrows(root)
    problems = check_includes(root, arrows) + check_python(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_architecture: {len(problems)} violation(s) of docs/architecture.md")
        return 1
    print(f"check_architecture: every include follows docs/architecture.md's {len(arrows)} rooms; "
          "no import circle in the Python package")
    return 0


if __name__ == "__main__":
    sys.exit(main())
