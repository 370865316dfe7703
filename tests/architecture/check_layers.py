#!/usr/bin/env python3
"""The shape of core/, checked on every test run (docs/architecture.md):

1. every core folder is wholly torch-free (its sources in the library `mscore`) or wholly
   torch-side (`msmodel`), as core/CMakeLists.txt lists them;
2. no torch-free folder includes a header of a torch-side folder;
3. the folders' include graph has no cycle;
4. no file outside core/demo, the demo CLI command, the first-start path and the tests includes
   a core/demo header (each remaining exception is listed below with its reason).

Exit 0 when all hold; else 1, naming every violation. Usage: check_layers.py SOURCE_DIR
"""
import pathlib
import re
import sys

# Files outside core/demo allowed to include core/demo headers, and why.
DEMO_ALLOWED = {
    "app/cli/demo_command.cpp": "the demo CLI command",
    "core/session/kit_session.cpp": "the first-start path (session::buildDemoKit, the workbench's first start)",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"core/([a-z_]+)/[^"]+"', re.M)


def libraries(root):
    """folder -> set of libraries its .cpp files are compiled into."""
    text = (root / "core/CMakeLists.txt").read_text()
    out = {}
    for lib in ("mscore", "msmodel"):
        m = re.search(r"add_library\(%s STATIC(.*?)\)" % lib, text, re.S)
        if not m:
            sys.exit("check_layers: no add_library(%s ...) in core/CMakeLists.txt" % lib)
        for src in m.group(1).split():
            if "/" in src:
                out.setdefault(src.split("/")[0], set()).add(lib)
    return out


def folder_graph(root):
    """folder -> {included folder -> [files that include it]}"""
    graph = {}
    for f in sorted((root / "core").rglob("*")):
        if f.suffix not in (".h", ".cpp") or f.parent == root / "core":
            continue
        src = f.relative_to(root / "core").parts[0]
        graph.setdefault(src, {})
        for dst in INCLUDE.findall(f.read_text(errors="replace")):
            if dst != src:
                graph[src].setdefault(dst, []).append(str(f.relative_to(root)))
    return graph


def cycles(graph):
    """Strongly connected components with more than one folder (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    problems = []
    libs = libraries(root)
    for folder, ls in sorted(libs.items()):
        if len(ls) > 1:
            problems.append("core/%s straddles %s: move its files so the folder is wholly one side" % (folder, " and ".join(sorted(ls))))
    graph = folder_graph(root)
    side = {f: next(iter(ls)) for f, ls in libs.items() if len(ls) == 1}
    for src, dsts in sorted(graph.items()):
        for dst, files in sorted(dsts.items()):
            if side.get(src) == "mscore" and side.get(dst) == "msmodel":
                problems.append("torch-free core/%s includes torch-side core/%s (%s)" % (src, dst, ", ".join(files)))
    for comp in cycles(graph):
        edges = ["%s -> %s (%s)" % (a, b, graph[a][b][0]) for a in comp for b in comp if b in graph.get(a, {})]
        problems.append("include cycle between core folders %s: %s" % (", ".join(comp), "; ".join(edges)))
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root).as_posix()
        if f.suffix not in (".h", ".cpp") or rel.startswith(("build", "core/demo/", "tests/", ".")) or "/build" in rel:
            continue
        if rel in DEMO_ALLOWED:
            continue
        if re.search(r'#\s*include\s+"core/demo/', f.read_text(errors="replace")):
            problems.append("%s includes a core/demo header: a kit is the user's, not the demo's (docs/architecture.md)" % rel)
    for p in problems:
        print("check_layers: " + p)
    folders = len(graph)
    print("check_layers: %d core folders, %d torch-free, %d torch-side, %d include edges, %d problems"
          % (folders, sum(1 for s in side.values() if s == "mscore"), sum(1 for s in side.values() if s == "msmodel"),
             sum(len(d) for d in graph.values()), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
