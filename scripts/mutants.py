"""Mutation check of rmtfit.classical, rmtfit.comparison and rmtfit.phases with mutmut 3.

The repository is never mutated: ``prepare`` exports the committed tree (``git archive HEAD``)
into a work folder, writes the preset's ``[tool.mutmut]`` section into the copy's
``pyproject.toml``, and mutmut runs there (it mutates its own ``mutants/`` copy, runs each
mutant in a forked child, and only the tests that call the mutated function). ``summary`` reads
mutmut's result files and writes one record per mutant: file:line in the original source, the
line before and after, the status, and whether only a string literal changed (an error
message's wording, a keyword value such as ``kind="stable"``).

Usage (from the repository root; needs ``pip install mutmut`` (3.x))::

    python scripts/mutants.py run classical --work /tmp/mut/classical      # prepare + mutmut run
    python scripts/mutants.py summary classical --work /tmp/mut/classical --out /tmp/mut/classical.json
    python scripts/mutants.py summary classical --work /tmp/mut/classical --markdown

``run`` resumes an interrupted run (mutmut keeps its results in ``mutants/``); pass
``--fresh`` to start over from HEAD. Extra arguments after ``--`` go to ``mutmut run`` (for
example ``-- "rmtfit.classical._mp*"`` to run the mutants of one module).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> (the fast tests that exercise it)
PRESETS: dict[str, list[str]] = {
    "classical": ["tests/classical/"],
    "comparison": ["tests/comparison/", "tests/test_compare.py"],
    "phases": ["tests/test_phases.py", "tests/test_mutants_phases.py"],
}
# package -> the tests left out (-k): the MiniLM tests load a 60 s fixture again in every forked
# mutant; the warning-location test reads the call stack, which mutmut's trampolines lengthen
DESELECT = {
    "classical": "not minilm",
    "comparison": "not points_at_the_callers_line",
    "phases": "",
}
STATUS = {
    0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", 34: "skipped",
    35: "suspicious", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
    255: "timeout", -11: "segfault", -9: "segfault", None: "not checked",
}  # fmt: skip  # mutmut 3's exit-code meanings (mutmut.stats.status_by_exit_code)
_STRING = re.compile(r"""[rbfuRBFU]*("|')(?:\\.|(?!\1).)*?\1""")


def mutmut_config(package: str) -> str:
    tests = PRESETS[package]
    args = ["-m", "not slow", "-p", "no:cacheprovider"]
    if DESELECT[package]:
        args += ["-k", DESELECT[package]]
    return (
        "\n[tool.mutmut]\n"
        f'source_paths = ["rmtfit/{package}/"]\n'
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        f"pytest_add_cli_args = {json.dumps(args)}\n"
        'also_copy = ["tests/", "rmtfit/", "models/", "docs/"]\n'
    )


def prepare(package: str, work: Path) -> None:
    """Export HEAD into ``work`` (a fresh folder) and configure mutmut for ``package``."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "head.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), "HEAD"], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
    with open(work / "pyproject.toml", "a") as f:
        f.write(mutmut_config(package))


def run(package: str, work: Path, fresh: bool, extra: list[str]) -> int:
    if fresh or not (work / "pyproject.toml").exists():
        prepare(package, work)
    mutmut = shutil.which("mutmut") or str(Path(sys.executable).with_name("mutmut"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(work / "mutants")  # the mutated copy, not the editable install
    return subprocess.run([mutmut, "run", *extra], cwd=work, env=env).returncode


def _def_line(lines: list[str]) -> int:
    return next(
        i for i, ln in enumerate(lines) if ln.lstrip().startswith(("def FN(", "async def FN("))
    )


def summarise(work: Path) -> list[dict]:
    """One record per mutant, from mutmut's ``.meta`` (exit codes) and ``.spans`` files."""
    records = []
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        mutated = meta.with_suffix("")
        rel = mutated.relative_to(work / "mutants")
        spans = json.loads(Path(f"{mutated}.spans").read_text())["spans"]
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        text = mutated.read_text().splitlines()
        source = (work / rel).read_text().splitlines()
        for key, code in codes.items():
            name = key.rsplit(".", 1)[1]
            base = name.rsplit("__mutmut_", 1)[0]
            function = base.split("ǁ")[-1].removeprefix("x_")
            a, b = spans[f"{base}__mutmut_orig"]
            c, d = spans[name]
            orig = [ln.replace(f"{base}__mutmut_orig", "FN") for ln in text[a - 1 : b]]
            mut = [ln.replace(name, "FN") for ln in text[c - 1 : d]]
            d0 = _def_line(orig)
            head = orig[d0].replace("FN", function).strip()
            start = next((i for i, ln in enumerate(source) if ln.strip() == head), None)
            if start is None:  # a signature mutmut reformatted: find the def by name
                start = next(
                    i
                    for i, ln in enumerate(source)
                    if re.match(rf"\s*(async )?def {function}\(", ln)
                )
            ops = [o for o in difflib.SequenceMatcher(a=orig, b=mut, autojunk=False).get_opcodes()
                   if o[0] != "equal"]  # fmt: skip
            i1, i2, j1, j2 = ops[0][1:] if ops else (d0, d0, d0, d0)
            before = " ".join(ln.strip() for ln in orig[i1:i2]).replace("FN", function)
            after = " ".join(ln.strip() for ln in mut[j1:j2]).replace("FN", function)
            records.append({
                "key": key,
                "file": str(rel),
                "line": start + 1 + i1 - d0,
                "status": STATUS.get(code, f"exit {code}"),
                "before": before,
                "after": after,
                "string_only": bool(before and after)
                and _STRING.sub("S", before) == _STRING.sub("S", after),
            })  # fmt: skip
    return records


def markdown(records: list[dict]) -> str:
    count = Counter(r["status"] for r in records)
    strings = sum(r["string_only"] for r in records if r["status"] == "survived")
    lines = [
        f"mutants {len(records)}: " + ", ".join(f"{s} {n}" for s, n in sorted(count.items())),
        f"survived with only a string literal changed: {strings}",
        "",
        "| file:line | before | after | status |",
        "| --- | --- | --- | --- |",
    ]
    for r in records:
        if r["status"] in ("survived", "no tests", "timeout") and not r["string_only"]:
            cut = lambda s: s if len(s) <= 90 else s[:87] + "..."  # noqa: E731
            lines.append(
                f"| {r['file']}:{r['line']} | `{cut(r['before'])}` | `{cut(r['after'])}` | {r['status']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["prepare", "run", "summary"])
    p.add_argument("package", choices=sorted(PRESETS))
    p.add_argument("--work", type=Path, required=True, help="work folder (never the repository)")
    p.add_argument("--fresh", action="store_true", help="start over from HEAD")
    p.add_argument("--out", type=Path, help="summary: write the records as JSON")
    p.add_argument("--markdown", action="store_true", help="summary: print counts and survivors")
    args, extra = p.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    work = args.work.resolve()
    if work == ROOT or ROOT in work.parents:
        p.error(f"--work {work} is inside the repository; use a folder outside it")
    if args.command == "prepare":
        prepare(args.package, work)
        return 0
    if args.command == "run":
        return run(args.package, work, args.fresh, extra)
    records = summarise(work)
    if args.out:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(records, indent=1))
        os.replace(tmp, args.out)
    if args.markdown or not args.out:
        print(markdown(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
