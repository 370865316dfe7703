#!/usr/bin/python3
"""Regenerate the 8-task CLIP benchmark's class-name files and kit files from FusionBench.

Reads fusion_bench/tasks/clip_classification/<module>.py of a FusionBench source tree
(https://github.com/tanganke/fusion_bench) and writes, next to this script:

  classes/<task>.txt       one class name per line, in label order (UTF-8, trailing newline)
  kit-fusionbench.yaml     kit for FusionBench's Hugging Face CLIP experts, zero-shot heads made
                           from the class files and each data set's own FusionBench templates
  kit-task-vectors.yaml    kit for the task-vectors release (Ilharco et al.), its pickled heads

Nothing in the FusionBench tree is imported or run: each module is parsed with `ast`. The class
names are the module-level `classnames = [...]` list of string constants; the templates are the
module-level `templates = [lambda c: f"...{c}...", ...]` list, each f-string turned into a
string with `{}` where the class name goes (the rest kept exactly).

Usage:
  /usr/bin/python3 make_classes.py PATH [--rev REV] [--out DIR] [--check]

PATH is a FusionBench checkout (the folder holding fusion_bench/) or a git directory (bare
repository or .git folder; the files are read with `git show REV:...`, REV default HEAD).
--check compares with the files already in DIR instead of writing (exit 1 on any difference).
"""

import argparse
import ast
import os
import subprocess
import sys

MODULE_DIR = "fusion_bench/tasks/clip_classification"

# (kit task name, FusionBench module, task-vectors release folder name, expected class count)
TASKS = [
    ("sun397", "sun397", "SUN397", 397),
    ("cars", "stanford_cars", "Cars", 196),
    ("resisc45", "resisc45", "RESISC45", 45),
    ("eurosat", "eurosat", "EuroSAT", 10),
    ("svhn", "svhn", "SVHN", 10),
    ("gtsrb", "gtsrb", "GTSRB", 43),
    ("mnist", "mnist", "MNIST", 10),
    ("dtd", "dtd", "DTD", 47),
]

REPO_URL = "https://github.com/tanganke/fusion_bench"
TV_URL = "https://github.com/mlfoundations/task_vectors"


class Source:
    """A FusionBench tree: a checkout (work tree) or a git directory read at a revision."""

    def __init__(self, path, rev):
        self.path = os.path.abspath(path)
        self.rev = rev
        self.worktree = os.path.isdir(os.path.join(self.path, "fusion_bench"))
        if self.worktree:
            self.commit = self._git(["-C", self.path, "rev-parse", "HEAD"], quiet=True)
            if self.commit and self._git(["-C", self.path, "status", "--porcelain", "--", MODULE_DIR], quiet=True):
                self.commit += " (with local changes)"
        else:
            self.commit = self._git(["--git-dir", self.path, "rev-parse", rev + "^{commit}"])
            if not self.commit:
                sys.exit(f"{path}: neither a FusionBench checkout nor a git directory holding revision {rev}")

    @staticmethod
    def _git(args, quiet=False):
        try:
            r = subprocess.run(["git"] + args, capture_output=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None if quiet else ""
        return r.stdout.decode("utf-8").strip()

    def read(self, relpath):
        if self.worktree:
            with open(os.path.join(self.path, relpath), "rb") as f:
                return f.read().decode("utf-8")
        try:
            r = subprocess.run(["git", "--git-dir", self.path, "show", f"{self.commit}:{relpath}"],
                               capture_output=True, check=True)
        except subprocess.CalledProcessError as e:
            sys.exit(f"{relpath}: not in {self.path} at {self.commit}: {e.stderr.decode().strip()}")
        return r.stdout.decode("utf-8")


def module_assignment(tree, name, where):
    """The value of the last module-level `name = ...` (plain or annotated assignment)."""
    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            value = node.value
    if value is None:
        sys.exit(f"{where}: no module-level `{name} = ...`")
    return value


def string_list(node, where):
    if not isinstance(node, (ast.List, ast.Tuple)):
        sys.exit(f"{where}: classnames is not a literal list")
    out = []
    for i, e in enumerate(node.elts):
        if not (isinstance(e, ast.Constant) and isinstance(e.value, str)):
            sys.exit(f"{where}: classnames[{i}] is not a string constant")
        out.append(e.value)
    return out


def template_text(lam, where):
    """`lambda c: f"...{c}..."` (or "..." + c + "...", or "...{}...".format(c)) -> "...{}..."."""
    if not isinstance(lam, ast.Lambda) or len(lam.args.args) != 1:
        sys.exit(f"{where}: not a one-argument lambda")
    arg = lam.args.args[0].arg
    body = lam.body

    def is_arg(n):
        return isinstance(n, ast.Name) and n.id == arg

    def const(s):
        if "{" in s or "}" in s:
            sys.exit(f"{where}: literal brace in the template text {s!r}")
        return s

    parts = []
    if isinstance(body, ast.JoinedStr):
        for v in body.values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                parts.append(const(v.value))
            elif isinstance(v, ast.FormattedValue) and is_arg(v.value) and v.conversion == -1 and v.format_spec is None:
                parts.append("{}")
            else:
                sys.exit(f"{where}: f-string part {ast.dump(v)} is neither text nor {{{arg}}}")
    elif (isinstance(body, ast.Call) and isinstance(body.func, ast.Attribute) and body.func.attr == "format"
          and isinstance(body.func.value, ast.Constant) and isinstance(body.func.value.value, str)
          and len(body.args) == 1 and is_arg(body.args[0]) and not body.keywords
          and body.func.value.value.count("{}") == 1):
        parts.append(body.func.value.value)
    else:
        def flatten(n):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
                flatten(n.left)
                flatten(n.right)
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                parts.append(const(n.value))
            elif is_arg(n):
                parts.append("{}")
            else:
                sys.exit(f"{where}: template body {ast.dump(n)} not understood")
        flatten(body)
    text = "".join(parts)
    if text.count("{}") != 1:
        sys.exit(f"{where}: template {text!r} does not hold the class name exactly once")
    return text


def extract(src, module):
    relpath = f"{MODULE_DIR}/{module}.py"
    tree = ast.parse(src.read(relpath), filename=relpath)
    names = string_list(module_assignment(tree, "classnames", relpath), relpath)
    tnode = module_assignment(tree, "templates", relpath)
    if not isinstance(tnode, (ast.List, ast.Tuple)):
        sys.exit(f"{relpath}: templates is not a literal list")
    templates = [template_text(t, f"{relpath}: templates[{i}]") for i, t in enumerate(tnode.elts)]
    return relpath, names, templates


def yaml_quoted(s):
    """A YAML double-quoted scalar."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def header(src, modules, form):
    lines = [
        f"# The merging literature's 8-task CLIP benchmark (ViT-B/32): {form}.",
        "# Generated by docs/kits/clip8/make_classes.py; edit the paths, not the class lists.",
        "#",
        f"# Class names (classes/<task>.txt) and prompt templates: FusionBench, {REPO_URL}",
        f"#   commit {src.commit}",
    ]
    lines += [f"#   {m}" for m in modules]
    lines += [
        "#   (the module-level `classnames` and `templates` lists, read with Python's ast, not run).",
        "# The data sets' label order is the class files' order: label i is line i + 1 of",
        "# classes/<task>.txt. An ImageFolder's labels are its sorted folder names, so name the",
        "# folders so that they sort in that order (e.g. 000-abbey, 001-airplane_cabin, ...), or use",
        "# a CSV list `path,label` with integer labels.",
        "#",
        "# Every model and data path below is a PLACEHOLDER: replace it with where your copy lies",
        "# (relative paths are resolved against this file's folder).",
    ]
    return "\n".join(lines) + "\n"


def kit_fusionbench(src, results):
    modules = [relpath for _, relpath, _, _ in results]
    y = [header(src, modules, "FusionBench's Hugging Face experts (tanganke/clip-vit-base-patch32_<task>)")]
    y.append("# The base is openai/clip-vit-base-patch32 (a CLIPModel with its text tower; vocab.json and\n"
             "# merges.txt beside it): the zero-shot heads are made from the class names and each data\n"
             "# set's own FusionBench templates with its text tower, as FusionBench makes them.\n")
    y.append("kit: 1\nname: clip-vit-b32-tall8\n")
    y.append("base: openai-clip-vit-base-patch32/model.safetensors\npreprocess: clip\ntasks:\n")
    for task, _, names, templates in results:
        y.append(f"  - name: {task}\n")
        y.append(f"    expert: experts/{task}/model.safetensors\n")
        y.append(f"    images: data/{task}/train\n")
        y.append(f"    eval: data/{task}/test\n")
        y.append("    head:\n")
        y.append(f"      classes: classes/{task}.txt   # {len(names)} classes\n")
        y.append("      templates:\n")
        for t in templates:
            y.append(f"        - {yaml_quoted(t)}\n")
    return "".join(y)


def kit_task_vectors(src, results):
    modules = [relpath for _, relpath, _, _ in results]
    y = [header(src, modules, "the task-vectors release (Ilharco et al., ICLR 2023)")]
    y.append(f"# Checkpoints: {TV_URL} (README, \"Checkpoints\"). The release keeps per model\n"
             "# <model>/zeroshot.pt, <model>/<Dataset>/finetuned.pt and <model>/head_<Dataset>.pt (its\n"
             "# README's code loads them from checkpoints/<model>/...); the task_vectors/ViT-B-32/ prefix\n"
             "# below is a placeholder for where you put the download. The .pt files are whole pickled\n"
             "# modules (ImageEncoder, ClassificationHead): pickle_allow reads their classes as inert\n"
             "# placeholders, nothing in them is run. The heads already are the class-name classifiers,\n"
             "# their rows in the task-vectors code's label order (sorted folder names, or its own\n"
             "# lists), the class files' order for these 8 as far as checked; the class files are listed\n"
             "# per task for reference. To make the heads from class names instead, give a task\n"
             "#   head: {classes: classes/<task>.txt, templates: [...]}\n"
             "# and a CLIP text tower (text_tower:), as in kit-fusionbench.yaml.\n")
    y.append("kit: 1\nname: task-vectors-vit-b32\n")
    y.append("base: task_vectors/ViT-B-32/zeroshot.pt\n")
    y.append("pickle_allow: [src.*, open_clip.*, torchvision.*]\npreprocess: clip\ntasks:\n")
    for task, _, names, _ in results:
        tv = next(t[2] for t in TASKS if t[0] == task)
        y.append(f"  - name: {task}   # classes/{task}.txt: {len(names)} classes\n")
        y.append(f"    expert: task_vectors/ViT-B-32/{tv}/finetuned.pt\n")
        y.append(f"    images: data/{task}/train\n")
        y.append(f"    eval: data/{task}/test\n")
        y.append(f"    head: task_vectors/ViT-B-32/head_{tv}.pt\n")
    return "".join(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="FusionBench checkout or git directory")
    ap.add_argument("--rev", default="HEAD", help="revision to read from a git directory (default HEAD)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output folder (default: this script's)")
    ap.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    a = ap.parse_args()

    src = Source(a.path, a.rev)
    if not src.commit:
        src.commit = "unknown (not a git checkout)"
    results = []
    files = {}
    for task, module, _, expected in TASKS:
        relpath, names, templates = extract(src, module)
        if len(names) != expected:
            sys.exit(f"{relpath}: {len(names)} class names, expected {expected}")
        if len(set(names)) != len(names):
            sys.exit(f"{relpath}: repeated class names")
        for n in names:
            if not n or n != n.strip() or "\n" in n or "\r" in n:
                sys.exit(f"{relpath}: class name {n!r} is empty, padded or spans lines")
        if names[0].startswith("["):
            sys.exit(f"{relpath}: first class name {names[0]!r} would read as a list")
        if not templates:
            sys.exit(f"{relpath}: no templates")
        results.append((task, relpath, names, templates))
        files[os.path.join("classes", task + ".txt")] = "".join(n + "\n" for n in names)
    files["kit-fusionbench.yaml"] = kit_fusionbench(src, results)
    files["kit-task-vectors.yaml"] = kit_task_vectors(src, results)

    bad = 0
    for rel, text in files.items():
        path = os.path.join(a.out, rel)
        if a.check:
            try:
                with open(path, encoding="utf-8", newline="") as f:
                    same = f.read() == text
            except OSError:
                same = False
            if not same:
                print(f"differs: {path}")
                bad += 1
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    for task, relpath, names, templates in results:
        print(f"{task:9s} {len(names):4d} classes {len(templates):3d} templates  ({relpath})")
    print(f"source: {REPO_URL} commit {src.commit}")
    if a.check:
        print("all files match" if not bad else f"{bad} file(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
