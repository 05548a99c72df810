"""Integral-direct J/K against PySCF's get_jk (libcint + libcvhf), plus batching, gradients and bad input."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from pyscf import gto, scf

from qpt.ops import jk, jk_direct
from qpt.system import Molecule
from qpt.system.basis import basis_shells_from_mol

WATER = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"
WATER_B = "O 0 0 0.13; H 0 0.78 -0.46; H 0 -0.74 -0.48"


@functools.lru_cache(maxsize=None)
def _mol(atom, basis):
    if atom == "uracil":
        return Molecule.from_catalog("uracil").to_pyscf(basis)
    return gto.M(atom=atom, basis=basis)


def _case(atom, basis, seed=0, batch=()):
    mol = _mol(atom, basis)
    d = np.random.default_rng(seed).standard_normal(batch + (mol.nao, mol.nao))
    return mol, basis_shells_from_mol(mol), d + np.swapaxes(d, -1, -2)


def _pyscf_jk(mol, d):
    d = np.asarray(d, dtype=np.float64)
    j, k = scf.hf.get_jk(mol, d.reshape(-1, mol.nao, mol.nao), hermi=1)
    return np.asarray(j).reshape(d.shape), np.asarray(k).reshape(d.shape)


# water def2-tzvp has f functions on O; the density is random (not positive), which hides no term.
@pytest.mark.parametrize("atom,basis", [(WATER, "def2-svp"), (WATER, "def2-tzvp"), ("uracil", "def2-svp")])
def test_matches_pyscf_float64(atom, basis):
    mol, shells, d = _case(atom, basis)
    j, k = jk_direct(shells, d)
    j_ref, k_ref = _pyscf_jk(mol, d)
    np.testing.assert_allclose(j, j_ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(k, k_ref, rtol=0, atol=1e-9)


def test_cartesian_basis_matches_pyscf():
    mol = gto.M(atom=WATER, basis="6-31g**", cart=True)
    d = np.random.default_rng(3).standard_normal((mol.nao, mol.nao))
    d = d + d.T
    j, k = jk_direct(basis_shells_from_mol(mol), d)
    j_ref, k_ref = _pyscf_jk(mol, d)
    np.testing.assert_allclose(j, j_ref, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, atol=1e-10)


def test_float32_rounds_the_float64_result():
    mol, shells, d = _case(WATER, "def2-svp")
    j, k = jk_direct(shells, d.astype(np.float32))
    assert j.dtype == jnp.float32 and k.dtype == jnp.float32
    j_ref, k_ref = _pyscf_jk(mol, d.astype(np.float32))
    assert np.max(np.abs(j - j_ref)) / np.max(np.abs(j_ref)) < 1e-6
    assert np.max(np.abs(k - k_ref)) / np.max(np.abs(k_ref)) < 1e-6


def test_screening_threshold_bounds_the_change():
    mol, shells, d = _case("uracil", "def2-svp", seed=1)
    exact = jk_direct(shells, d, screening_threshold=0.0)
    loose = jk_direct(shells, d, screening_threshold=1e-8)
    j_ref, k_ref = _pyscf_jk(mol, d)
    np.testing.assert_allclose(exact[0], j_ref, atol=1e-9)
    np.testing.assert_allclose(exact[1], k_ref, atol=1e-9)
    # Screening must skip something at 1e-8 for uracil, and change J/K by little.
    assert np.max(np.abs(loose[1] - exact[1])) > 0
    assert np.max(np.abs(loose[0] - exact[0])) < 1e-5
    assert np.max(np.abs(loose[1] - exact[1])) < 1e-5


# The CUDA kernel adds each quartet's contributions to J and K with float64 atomics in whatever order the
# threads arrive (csrc/cuda/jk_direct_cuda.cu), so on a GPU two calls agree to round-off, not bit for bit:
# sums of M terms in two orders differ by at most 2(M-1)u sum|term| (u = 1.1e-16), expected far below 1e-12
# of max|J| for these sizes (not yet measured on a GPU). A lost or doubled quartet, or a screening decision
# that changed, is far larger.
GPU_ROUND_OFF = 1e-12


def _assert_same_result(platform, result, expected):
    """Bitwise on the CPU (fixed reduction order), to GPU_ROUND_OFF of the largest entry on a GPU."""
    for got, want in zip(result, expected):
        if platform == "cpu":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=GPU_ROUND_OFF * np.max(np.abs(want)))


def test_scaling_the_density_scales_the_result_exactly(platform):
    """Density-weighted screening is relative to max|D|, so the op stays linear (the VJP relies on it)."""
    _, shells, d = _case("uracil", "def2-svp", seed=2)
    j, k = jk_direct(shells, d, screening_threshold=1e-8)
    for scale in (2.0 ** -40, 2.0 ** 30):
        scaled = jk_direct(shells, scale * d, screening_threshold=1e-8)
        _assert_same_result(platform, scaled, (scale * np.asarray(j), scale * np.asarray(k)))


def test_results_are_reproducible(platform):
    _, shells, d = _case(WATER, "def2-tzvp")
    first = jk_direct(shells, d)
    for _ in range(3):
        _assert_same_result(platform, jk_direct(shells, d), first)


def test_batch_of_densities_and_of_conformers():
    mol_a, shells, d = _case(WATER, "6-31g*", batch=(2, 3))
    j, k = jk_direct(shells, d)
    j_ref, k_ref = _pyscf_jk(mol_a, d)
    np.testing.assert_allclose(j, j_ref, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, atol=1e-10)

    mol_b = gto.M(atom=WATER_B, basis="6-31g*")
    shells_b = basis_shells_from_mol(mol_b)
    both = jax.tree.map(lambda a, b: np.stack([a, b]), shells, shells_b)
    j, k = jk_direct(both, d[0, :2])
    for mol, index in ((mol_a, 0), (mol_b, 1)):
        j_ref, k_ref = _pyscf_jk(mol, d[0, index])
        np.testing.assert_allclose(j[index], j_ref, atol=1e-10)
        np.testing.assert_allclose(k[index], k_ref, atol=1e-10)


def test_jit_and_vmap_agree_with_direct_call():
    _, shells, d = _case(WATER, "6-31g", batch=(4,))
    direct = jk_direct(shells, d)
    over_densities = jax.jit(jax.vmap(lambda x: jk_direct(shells, x)))(d)
    stacked = jax.tree.map(lambda a: np.stack([a] * 4), shells)
    over_both = jax.vmap(jk_direct)(stacked, d)
    for other in (over_densities, over_both):
        np.testing.assert_allclose(other[0], direct[0], atol=1e-12)
        np.testing.assert_allclose(other[1], direct[1], atol=1e-12)


def test_flags_and_agreement_with_packed_eri_path():
    mol, shells, d = _case(WATER, "6-31g")
    j_only, zeros = jk_direct(shells, d, with_k=False)
    zeros_too, k_only = jk_direct(shells, d, with_j=False)
    assert not np.any(zeros) and not np.any(zeros_too)
    j_packed, k_packed = jk(mol.intor("int2e", aosym="s8"), d)
    np.testing.assert_allclose(j_only, j_packed, atol=1e-11)
    np.testing.assert_allclose(k_only, k_packed, atol=1e-11)


def test_gradients_first_and_second_order():
    mol, shells, d = _case(WATER, "sto-3g")
    eri = mol.intor("int2e", aosym="s8")

    def loss(op, x):
        x = (x + x.T) / 2
        j, k = op(x)
        return jnp.sum(j * x) - 0.25 * jnp.sum(k * x) + jnp.sum(jnp.sin(k))

    direct = functools.partial(loss, lambda x: jk_direct(shells, x))
    packed = functools.partial(loss, lambda x: jk(eri, x))
    check_grads(direct, (d,), order=2, modes=["rev"])
    check_grads(lambda x: jk_direct(shells, (x + x.T) / 2), (d,), order=1, modes=["rev"])
    np.testing.assert_allclose(jax.grad(direct)(d), jax.grad(packed)(d), atol=1e-10)
    # The basis is a constant to autodiff: its cotangent is zero.
    basis_grad = jax.grad(lambda b: jnp.sum(jk_direct(b, d)[1] ** 2))(shells)
    assert not np.any(basis_grad.centers) and not np.any(basis_grad.coefficients)


@pytest.mark.parametrize("make,error,match", [
    (lambda b, d: (b, d[:, :-1]), ValueError, "D must be"),
    (lambda b, d: (b, d + np.triu(np.ones_like(d))), ValueError, "symmetric"),
    (lambda b, d: (b, d.astype(np.int32)), TypeError, "float32 or float64"),
    (lambda b, d: (b.centers, d), TypeError, "BasisShells"),
    (lambda b, d: (jax.tree.map(lambda a: np.stack([a] * 2), b), np.stack([d] * 3)), ValueError, "broadcast"),
    (lambda b, d: (jax.tree.map(lambda a: a[..., :-1], b), d), ValueError, "basis"),
])
def test_bad_input_raises_before_the_kernel(make, error, match):
    _, shells, d = _case(WATER, "sto-3g")
    with pytest.raises(error, match=match):
        jk_direct(*make(shells, d))


@pytest.mark.parametrize("threshold", [-1.0, float("nan"), True, "1e-10"])
def test_bad_threshold_raises(threshold):
    _, shells, d = _case(WATER, "sto-3g")
    with pytest.raises(ValueError, match="screening_threshold"):
        jk_direct(shells, d, screening_threshold=threshold)


def test_g_functions_are_rejected():
    mol = gto.M(atom="Ne 0 0 0", basis="cc-pvqz")
    shells = basis_shells_from_mol(mol)
    with pytest.raises(ValueError, match="l <= 3"):
        jk_direct(shells, np.eye(mol.nao))


def test_shells_with_too_many_primitives_are_rejected():
    mol = gto.M(atom="He 0 0 0", basis={"He": [[0] + [[2.0 ** e, 1.0] for e in range(-4, 14)]]})
    shells = basis_shells_from_mol(mol)
    with pytest.raises(ValueError, match="primitives"):
        jk_direct(shells, np.eye(mol.nao))


def test_kernel_rejects_inconsistent_shapes_itself():
    """The C++ handler checks the call again and returns an error instead of reading out of bounds."""
    _, shells, d = _case(WATER, "sto-3g")
    out = jax.ShapeDtypeStruct(d.shape, d.dtype)
    call = jax.ffi.ffi_call("qpt_jk_direct", (out, out))
    table = np.zeros(1000)
    attributes = dict(angular=np.asarray(shells.angular, dtype=np.int64),
                      prim_offsets=np.asarray(shells.prim_offsets, dtype=np.int64), spherical=True,
                      threshold=1e-13, with_j=True, with_k=True)
    with pytest.raises(Exception, match="cart -> spherical table"):
        jax.block_until_ready(call(shells.centers, shells.exponents, shells.coefficients, table, d, **attributes))
    from qpt.ops._basis_args import sph_table
    with pytest.raises(Exception, match="exponents"):
        jax.block_until_ready(call(shells.centers, shells.exponents[:-1], shells.coefficients,
                                   sph_table("float64"), d, **attributes))
    bad = dict(attributes, angular=np.asarray([4] * len(shells.angular), dtype=np.int64))
    with pytest.raises(Exception, match=r"supports l = 0\.\.3"):
        jax.block_until_ready(call(shells.centers, shells.exponents, shells.coefficients,
                                   sph_table("float64"), d, **bad))


@pytest.mark.platforms("cuda")
def test_cuda_kernel_matches_cpu_and_pyscf():
    mol, shells, d = _case(WATER, "def2-tzvp", batch=(2,))
    gpu, cpu = jax.devices("gpu")[0], jax.devices("cpu")[0]
    on_gpu = jax.device_put((shells, d), gpu)
    j, k = jk_direct(*on_gpu)
    j_cpu, k_cpu = jk_direct(*jax.device_put((shells, d), cpu))
    j_ref, k_ref = _pyscf_jk(mol, d)
    np.testing.assert_allclose(np.asarray(j), j_ref, atol=1e-9)
    np.testing.assert_allclose(np.asarray(k), k_ref, atol=1e-9)
    np.testing.assert_allclose(np.asarray(j), np.asarray(j_cpu), atol=1e-11)
    np.testing.assert_allclose(np.asarray(k), np.asarray(k_cpu), atol=1e-11)
    j32, _ = jk_direct(shells, jax.device_put(d.astype(np.float32), gpu))
    assert np.max(np.abs(np.asarray(j32) - j_ref)) / np.max(np.abs(j_ref)) < 1e-6
    grad = jax.grad(lambda x: jnp.sum(jk_direct(on_gpu[0], x)[1] ** 2))(on_gpu[1])
    grad_cpu = jax.grad(lambda x: jnp.sum(jk_direct(shells, x)[1] ** 2))(jax.device_put(d, cpu))
    np.testing.assert_allclose(np.asarray(grad), np.asarray(grad_cpu), rtol=1e-9, atol=1e-9)
