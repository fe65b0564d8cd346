"""The import rules of docs/ARCHITECTURE.md, read from the source: a module imports only lower layers.

Every ``import`` counts, inside functions and ``TYPE_CHECKING`` blocks too: an import moved into a function
to dodge a cycle still ties the two layers together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top. A package may import its own modules and those of any lower layer; packages in one
#: layer do not import each other.
LAYERS: list[set[str]] = [
    {"asr", "asr.errors"},
    {"asr.files"},
    {"asr.text", "asr.results", "asr.published"},
    {"asr.data"},
    {"asr.models", "asr.lm", "asr.scoring", "data_prep"},
    {"asr.objectives"},
    {"asr.training", "asr.export"},
    {"asr.decoding"},
    {"asr.semi", "asr.mdd"},
    {"apps"},
    {"asr.cli"},
]
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}
#: Packages whose modules must not import one another (each objective stands alone), except the shared parts.
SIBLINGS_APART = {
    "asr.objectives": {
        "asr.objectives.base",
        "asr.objectives.masking",
        "asr.objectives.ema",
        "asr.objectives.kmeans",  # HuBERT's targets
    }
}


def package_of(module: str) -> str:
    """The layer unit of a module name: ``asr.x`` for ``asr.x.y``, the top folder for the others."""
    parts = module.split(".")
    if parts[0] == "asr":
        return ".".join(parts[:2])
    return parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a project module in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path).split(".")
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_package else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
                # ``from . import x`` names submodules
                found += (
                    [(node.lineno, name)]
                    if node.module
                    else [(node.lineno, f"{name}.{a.name}") for a in node.names]
                )
            elif node.module:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if package_of(name) in RANK]


def project_modules() -> list[Path]:
    return sorted(p for top in ("asr", "apps", "data_prep") for p in (ROOT / top).rglob("*.py"))


def violations(path: Path) -> list[str]:
    """The imports of ``path`` that break :data:`LAYERS` or :data:`SIBLINGS_APART`, one line each."""
    me = module_name(path)
    mine = package_of(me)
    problems = []
    for line, name in imports(path):
        theirs = package_of(name)
        where = f"{path.relative_to(ROOT)}:{line} imports {name}"
        if theirs != mine and RANK[theirs] >= RANK[mine]:
            problems.append(f"{where}: layer of {theirs} is not below {mine}")
        shared = SIBLINGS_APART.get(mine, set())
        if theirs == mine and mine in SIBLINGS_APART and me not in shared and name not in shared:
            if name.startswith(mine + ".") and name != me and me != mine:
                problems.append(f"{where}: modules of {mine} import only its shared parts {sorted(shared)}")
    return problems


def test_every_project_package_has_a_layer():
    unknown = {package_of(module_name(p)) for p in project_modules()} - set(RANK)
    assert not unknown, f"give these packages a layer in LAYERS (and docs/ARCHITECTURE.md): {sorted(unknown)}"


def test_no_module_imports_a_higher_layer():
    problems = [problem for path in project_modules() for problem in violations(path)]
    assert not problems, "import rules broken:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from asr.training.checkpoint import plain\n", "layer of asr.training is not below asr.models"),
        ("def f():\n    from asr.semi import online_ensemble\n", "layer of asr.semi is not below asr.models"),
        ("from ..mdd import diagnosis\n", "layer of asr.mdd is not below asr.models"),
        ("import asr.files\nfrom asr.text import phones\n", None),
    ],
)
def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch, source, expected):
    """The checker itself: an upward import, nested or relative, is reported; downward ones are not."""
    fake_root = tmp_path
    module = fake_root / "asr" / "models" / "fake.py"
    module.parent.mkdir(parents=True)
    module.write_text(source)
    monkeypatch.setattr(f"{__name__}.ROOT", fake_root)
    found = violations(module)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


def test_objectives_do_not_import_each_other(tmp_path, monkeypatch):
    module = tmp_path / "asr" / "objectives" / "hubert.py"
    module.parent.mkdir(parents=True)
    module.write_text("from asr.objectives.wav2vec2 import Wav2Vec2Objective\nfrom .masking import x\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    found = violations(module)
    assert len(found) == 1 and "asr.objectives.wav2vec2" in found[0], found
