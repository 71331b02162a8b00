"""The project's fixed rules, enforced: core never imports streamlit, pins are exact, the README's commands are CI's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_streamlit() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py") if "streamlit" in _imports(p)]
    assert offenders == []


def test_only_llm_module_imports_litellm() -> None:
    importers = {p.name for p in (ROOT / "core").rglob("*.py") if "litellm" in _imports(p)}
    assert importers == {"llm.py"}


def test_requirements_pin_exact_versions() -> None:
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    loose = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+\-]+", line)]
    assert loose == []
    pins = dict(line.split("==") for line in lines)
    assert pins["torch"] == "2.13.0"
    assert pins["litellm"] not in {"1.82.7", "1.82.8"}


def test_readme_quick_start_has_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("## Quick start") < 400, "Quick start must sit near the top"
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```(?:bash|sh)\n(.*?)\n```", section, flags=re.S)
    assert len(commands) == 2
    assert "streamlit run app.py" in commands[0]
    assert "pytest" in commands[1] and "ruff" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
