"""The house of ../shared/DESIGN.md, checked: each layer imports only the layers below it.

Read from the source (ast), not by importing, so an import inside a function counts as much as one at the
top, and a break fails here before it is ever run. The C++ side: the math headers (csrc/include/qpt) include
neither XLA nor the CUDA runtime, and the CMake target that carries them has no XLA include path.
"""
import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "qpt"

# Lowest first. A module may import its own layer and any layer of a lower rank; the same rank is only
# allowed within one layer (ops and system are peers: neither knows the other).
RANKS = {
    "qpt": 0,  # the package root: x64 mode, version, lazy names
    "qpt.npz_file": 0,
    "qpt.ops": 1,
    "qpt.system": 2,
    "qpt.dft": 3,
    "qpt.model": 3,
    "qpt.data": 3,
    "qpt.train": 4,
    "qpt.eval": 5,
    "qpt.predict": 6,
    "qpt.commands": 7,
}
# `python -m qpt` is a command too.
ALIASES = {"qpt.__main__": "qpt.commands"}
# The lazy qpt.Predictor of the package root is resolved at attribute access, not at import.
ALLOWED = {("qpt", "qpt.predict")}


def layer_of(module: str) -> str:
    module = ALIASES.get(module, module)
    parts = module.split(".")
    for length in (2, 1):
        name = ".".join(parts[:length])
        if name in RANKS:
            return name
    raise KeyError(f"{module} belongs to no layer of tests/test_layering.py's RANKS: add it there")


def module_name(path: pathlib.Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path: pathlib.Path):
    """(line, module) for every qpt import in the file, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # `from qpt import ops` imports qpt.ops: resolve each imported name that is a subpackage.
            resolved = [f"{target}.{alias.name}" for alias in node.names
                        if (PACKAGE.parent / f"{target}.{alias.name}".replace(".", "/")).exists()
                        or (PACKAGE.parent / (f"{target}.{alias.name}".replace(".", "/") + ".py")).exists()]
            for name in resolved or [target]:
                yield node.lineno, name


def layering_breaks():
    breaks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        source_layer = layer_of(source)
        for line, target in imported_modules(path):
            if target.split(".")[0] != "qpt":
                continue
            target_layer = layer_of(target)
            if target_layer == source_layer or (source_layer, target_layer) in ALLOWED:
                continue
            if RANKS[target_layer] >= RANKS[source_layer]:
                breaks.append(f"{path.relative_to(ROOT)}:{line}: {source} ({source_layer}, rank "
                              f"{RANKS[source_layer]}) imports {target} ({target_layer}, rank {RANKS[target_layer]})")
    return breaks


def test_every_module_belongs_to_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_python_layers_import_only_lower_layers():
    breaks = layering_breaks()
    assert not breaks, "layering breaks (DESIGN.md, 'The house'):\n" + "\n".join(breaks)


def test_the_check_sees_a_break():
    # The check itself: a module of ops that imports system, and one of dft that imports train, are breaks.
    assert RANKS[layer_of("qpt.system.basis")] >= RANKS[layer_of("qpt.ops.grid")]
    assert RANKS[layer_of("qpt.train.trainer")] >= RANKS[layer_of("qpt.dft.energy")]
    assert RANKS[layer_of("qpt.model.tokens")] == RANKS[layer_of("qpt.dft.energy")]  # peers: both refused


HEADER_FORBIDDEN = re.compile(r'#\s*include\s*[<"](xla/|cuda_runtime|cuda\.h|pybind11|nanobind)')


@pytest.mark.parametrize("header", sorted((ROOT / "csrc" / "include" / "qpt").glob("*.h")), ids=lambda p: p.name)
def test_math_headers_include_no_xla_or_cuda_runtime(header):
    for number, line in enumerate(header.read_text().splitlines(), 1):
        assert not HEADER_FORBIDDEN.search(line), f"{header.relative_to(ROOT)}:{number}: {line.strip()}"


def test_math_header_target_carries_no_xla_include_path():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"target_include_directories\(\s*qpt_math\b([^)]*)\)", cmake)
    assert match, "CMakeLists.txt has no include directories for the qpt_math target"
    assert "XLA" not in match.group(1).upper() and "ffi" not in match.group(1), match.group(0)


def test_importing_the_ops_loads_no_molecule_layer_and_no_pyscf():
    import subprocess
    import sys
    probe = ("import sys, qpt.ops; "
             "print(sorted({m.split('.')[0] if not m.startswith('qpt.') else '.'.join(m.split('.')[:2]) "
             "for m in sys.modules if m.startswith(('pyscf', 'qpt.'))}))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip().splitlines()[-1] == "['qpt.ops']", loaded.stdout


def test_the_source_package_folder_does_not_shadow_the_built_module():
    # From the repository root, `python -m pytest` or `python -m qpt` puts the root first on sys.path, where
    # qpt_kernels/ holds only the Python sources; the compiled module must still be the built one.
    import subprocess
    import sys
    probe = ("import qpt_kernels, qpt_kernels._cpu as cpu; print(cpu.__file__); "
             "print(len(qpt_kernels.build_info()['targets']['cpu']))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    built, targets = result.stdout.strip().splitlines()[-2:]
    assert not pathlib.Path(built).is_relative_to(ROOT / "qpt_kernels") and int(targets) > 0, result.stdout
