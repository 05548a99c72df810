"""Every op lowers to its CUDA FFI target, for float32 and float64, forward, batched and through its VJP.

Checked without a GPU: jax.export lowers for platforms=["cuda"] on any machine (the CUDA custom calls are
named in the program, not run), so CI proves on every run that the CUDA half of the suite calls the CUDA
kernels with the dtypes and the number of calls the CPU half gets. What the kernels compute on a GPU is
the business of the [cuda] variants of the other tests here.
"""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyscf import gto
from pyscf.df import incore

import qpt_kernels
from qpt import ops
from qpt.system.basis import basis_shells_from_mol
from qpt.system.grid import Grid

# The export names its platform, so one run (in the CPU half) checks it; the [cuda] half has nothing to add.
pytestmark = pytest.mark.platforms("cpu")

WATER = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"
DTYPES = {"float32": jnp.float32, "float64": jnp.float64}
MLIR_TYPES = {"float32": "f32", "float64": "f64"}
FFI_TARGETS = ("qpt_jk_packed", "qpt_jk_direct", "qpt_jk_df", "qpt_density_on_grid", "qpt_potential_matrix")


def _water():
    mol = gto.M(atom=WATER, basis="sto-3g")
    grid = Grid.from_pyscf(mol, 0)
    grid = Grid(grid.coords[:64], grid.weights[:64], grid.level)
    d = np.random.default_rng(0).standard_normal((mol.nao, mol.nao))
    return mol, basis_shells_from_mol(mol), grid, d + d.T


def _cases(dtype):
    """op name -> (function of one array argument, that argument): each op with everything else fixed."""
    mol, shells, grid, d = _water()
    d = d.astype(dtype)
    eri = mol.intor("int2e", aosym="s8").astype(dtype)
    cderi = np.asarray(incore.cholesky_eri(mol, auxbasis="def2-universal-jkfit", verbose=0)).astype(dtype)
    v_rho = np.linspace(-1.0, 1.0, grid.size).astype(dtype)

    def potential(v):
        return ops.potential_matrix(shells, grid, v, jnp.stack([v, 2 * v, -v], axis=-1))

    overlap = mol.intor("int1e_ovlp")
    x = np.linalg.inv(np.linalg.cholesky(overlap)).T.astype(dtype)  # S^-1/2-like: X^T S X = 1
    return {
        "jk": (lambda a: ops.jk(eri, a), d),
        "coulomb": (lambda a: ops.coulomb(eri, a), d),
        "exchange": (lambda a: ops.exchange(eri, a), d),
        "jk_direct": (lambda a: ops.jk_direct(shells, a), d),
        "jk_df": (lambda a: ops.jk_df(cderi, a), d),
        "density_on_grid": (lambda a: ops.density_on_grid(shells, grid, a), d),
        "potential_matrix": (potential, v_rho),
        "density_matrix": (lambda a: ops.density_matrix(a, x, 3)[0], d),
    }


# The FFI targets each op's forward and its VJP must reach (density_matrix calls XLA's eigensolver only).
FORWARD_TARGETS = {"jk": {"qpt_jk_packed": 1}, "coulomb": {"qpt_jk_packed": 1}, "exchange": {"qpt_jk_packed": 1},
                   "jk_direct": {"qpt_jk_direct": 1}, "jk_df": {"qpt_jk_df": 1}, "density_on_grid": {"qpt_density_on_grid": 1},
                   "potential_matrix": {"qpt_potential_matrix": 1}, "density_matrix": {}}
VJP_TARGETS = {"jk": {"qpt_jk_packed": 2}, "coulomb": {"qpt_jk_packed": 2}, "exchange": {"qpt_jk_packed": 2},
               "jk_direct": {"qpt_jk_direct": 2},
               "jk_df": {"qpt_jk_df": 3},  # forward, then J of Jbar and K of Kbar in separate calls
               "density_on_grid": {"qpt_density_on_grid": 1, "qpt_potential_matrix": 1},
               "potential_matrix": {"qpt_potential_matrix": 1, "qpt_density_on_grid": 1}, "density_matrix": {}}


def _cuda_program(function, *args):
    """The StableHLO text of `function` lowered for CUDA (custom calls named, not checked for a GPU)."""
    checks = [jax.export.DisabledSafetyCheck.custom_call(name) for name in FFI_TARGETS]
    exported = jax.export.export(jax.jit(function), platforms=["cuda"], disabled_checks=checks)(*args)
    assert exported.platforms == ("cuda",)
    return exported.mlir_module()


def _qpt_calls(text):
    """[(target, result element types)] of every qpt FFI custom call in the program, in program order."""
    calls = []
    for line in text.splitlines():
        match = re.search(r"stablehlo\.custom_call @(qpt_\w+)\(.*\)\s*(\{.*\})?\s*:\s*\(.*\)\s*->\s*(.*)$", line)
        if match:
            calls.append((match.group(1), set(re.findall(r"x(f\d\d)>", match.group(3)))))
    return calls


def _counts(calls):
    names = [name for name, _ in calls]
    return {name: names.count(name) for name in set(names)}


def _scalar_loss(function):
    """A scalar of every output, weighted so no cotangent is zero or symmetric by accident."""
    def loss(a):
        leaves = jax.tree_util.tree_leaves(function(a))
        return sum(jnp.sum(jnp.sin(leaf) * jnp.arange(1, leaf.size + 1, dtype=leaf.dtype).reshape(leaf.shape))
                   for leaf in leaves)
    return loss


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("op", list(FORWARD_TARGETS))
def test_forward_lowers_to_the_cuda_target_in_the_inputs_dtype(op, dtype):
    function, argument = _cases(DTYPES[dtype])[op]
    calls = _qpt_calls(_cuda_program(function, argument))
    assert _counts(calls) == FORWARD_TARGETS[op]
    for name, types in calls:
        assert types == {MLIR_TYPES[dtype]}, (name, types)  # no silent up- or down-cast around the kernel


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("op", list(FORWARD_TARGETS))
def test_vjp_lowers_to_the_cuda_targets(op, dtype):
    function, argument = _cases(DTYPES[dtype])[op]
    calls = _qpt_calls(_cuda_program(jax.grad(_scalar_loss(function)), argument))
    assert _counts(calls) == VJP_TARGETS[op]
    for name, types in calls:
        assert types == {MLIR_TYPES[dtype]}, (name, types)


@pytest.mark.parametrize("op", ["jk", "jk_direct", "jk_df", "density_on_grid", "potential_matrix"])
def test_second_order_and_batches_stay_on_the_cuda_targets(op):
    """grad of grad, and vmap over a batch of 3: still the CUDA kernels, and one call per direction for the
    whole batch (a per-item loop would multiply the calls)."""
    function, argument = _cases(jnp.float64)[op]
    loss = _scalar_loss(function)
    second = _counts(_qpt_calls(_cuda_program(lambda a: jax.grad(lambda b: jnp.sum(jax.grad(loss)(b) ** 2))(a),
                                              argument)))
    assert set(second) <= set(FFI_TARGETS) and sum(second.values()) >= 3, second
    batch = jnp.stack([argument, 0.5 * argument, -argument])
    text = _cuda_program(jax.vmap(function), batch)
    assert "stablehlo.while" not in text
    assert _counts(_qpt_calls(text)) == FORWARD_TARGETS[op]
    assert _counts(_qpt_calls(_cuda_program(jax.grad(lambda b: jnp.sum(jax.vmap(loss)(b))), batch))) \
        == VJP_TARGETS[op]


def test_density_matrix_lowers_to_the_gpu_eigensolver():
    function, argument = _cases(jnp.float64)["density_matrix"]
    text = _cuda_program(function, argument)
    targets = set(re.findall(r"stablehlo\.custom_call @([\w.]+)", text))
    assert targets and all(re.search("cusolver|syevd|eigh", name) for name in targets), targets
    assert not any(name.startswith("lapack") for name in targets)


def test_every_target_the_ops_lower_to_is_registered_for_cuda():
    info = qpt_kernels.build_info()
    if not info["cuda_compiled"]:
        pytest.skip(f"this build has no CUDA module ({info.get('cuda_import_error', 'built without nvcc')})")
    assert set(FFI_TARGETS) <= set(info["targets"]["CUDA"])


def test_every_public_op_has_a_case_here():
    """A new op in qpt.ops must be added to the cases above, so its CUDA lowering is checked too."""
    # screening_statistics counts the screening's work on the CPU; tabulate_grid is a CPU feature (a GPU
    # evaluates AOs on the fly; it refuses other platforms, tests/ops/test_tabulated_grid.py); both by design.
    host_side = {"screening_statistics", "tabulate_grid"}
    not_ops = {"BasisShells", "TabulatedGrid", "tabulated_grid_bytes"}  # the basis, a table and its size
    assert set(ops.__all__) - host_side - not_ops == set(FORWARD_TARGETS)
