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


FRONT_ENDS = {"app", "pages", "ui", "cli", "api", "streamlit", "streamlit_authenticator", "argparse", "fastapi"}
LAUNCHER = ROOT / "core" / "__main__.py"  # `python -m core` starts the CLI: the one file of core that names it


def test_core_never_imports_a_front_end_or_parses_arguments() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & FRONT_ENDS)
        for p in (ROOT / "core").rglob("*.py")
        if p != LAUNCHER and _imports(p) & FRONT_ENDS
    }
    assert offenders == {}
    assert _imports(LAUNCHER) & FRONT_ENDS == {"cli"}


def test_core_builds_no_html_and_names_no_cli_command() -> None:
    markup = re.compile(r"<(div|span|mark|b|br|p|a|img|table)\b|html\.escape|from html import")
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "core").rglob("*.py")
        if p != LAUNCHER and (markup.search(text := p.read_text(encoding="utf-8")) or "python -m core" in text)
    ]
    assert offenders == []


def test_files_stay_short() -> None:
    long_core = {str(p.relative_to(ROOT)): n for p in (ROOT / "core").rglob("*.py") if (n := _lines(p)) > 450}
    long_pages = {str(p.relative_to(ROOT)): n for p in (ROOT / "pages").glob("*.py") if (n := _lines(p)) > 110}
    assert long_core == {} and long_pages == {}


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


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
    pins = {name.split("[")[0]: version for name, version in (line.split("==") for line in lines)}
    assert pins["torch"] == "2.13.0"
    assert pins["litellm"] not in {"1.82.7", "1.82.8"}


def test_readme_quick_start_has_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("## Quick start") < 400, "Quick start must sit near the top"
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```(?:bash|sh)\n(.*?)\n```", section, flags=re.S)
    assert len(commands) == 2
    assert "streamlit run server.py" in commands[0]  # the app with its security headers and cookie routes
    assert "pytest" in commands[1] and "ruff" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
