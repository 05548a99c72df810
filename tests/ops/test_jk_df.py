"""Density-fitted J/K: the fused kernel against PySCF's DF get_jk with the same factors, plus the
orbital path, batching, gradients and bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from pyscf import df, gto
from pyscf.df import df_jk

from qpt.ops import jk_df
from qpt.ops import reference

WATER = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"
WATER_MOVED = "O 0 0 0.13; H 0 0.78 -0.46; H 0 -0.74 -0.48"
ETHANOL = """C -0.0487 -0.3866 0.0; C 1.4203 0.0198 0.0; O -0.8161 0.8095 0.0;
H -0.3165 -0.9729 0.8837; H -0.3165 -0.9729 -0.8837; H 1.6626 0.6092 0.8847;
H 1.6626 0.6092 -0.8847; H 2.0447 -0.8741 0.0; H -1.7404 0.5331 0.0"""
JKFIT = "def2-universal-jkfit"


def in_core_df(mol, auxbasis):
    """PySCF's DF object with its cderi held in memory: PySCF writes it to a temporary HDF5 file instead when the
    process already uses more than max_memory (late in a long test run), and these tests read the array."""
    fit = df.DF(mol, auxbasis=auxbasis)
    fit.max_memory = 10**6  # MB
    return fit.build()


def _fitting(atom, basis="def2-svp", auxbasis=JKFIT):
    mol = gto.M(atom=atom, basis=basis)
    fit = in_core_df(mol, auxbasis)
    return mol, fit, np.asarray(fit._cderi)


def _random_symmetric(nao, seed=0, batch=()):
    d = np.random.default_rng(seed).standard_normal(batch + (nao, nao))
    return d + np.swapaxes(d, -1, -2)


def _occupied_density(nao, n_occ, seed=1, batch=()):
    """D = 2 C C^T for random orthonormal C [nao, n_occ], and its factor sqrt(2) C."""
    c = np.linalg.qr(np.random.default_rng(seed).standard_normal(batch + (nao, n_occ)))[0]
    return 2 * c @ np.swapaxes(c, -1, -2), np.sqrt(2) * c


def _pyscf_jk(fit, d):
    d = np.asarray(d, np.float64)
    flat = d.reshape(-1, d.shape[-1], d.shape[-1])
    j, k = df_jk.get_jk(fit, flat, hermi=1)
    return np.asarray(j).reshape(d.shape), np.asarray(k).reshape(d.shape)


@pytest.mark.parametrize("atom", [WATER, ETHANOL])
def test_general_density_matches_pyscf_float64(atom):
    _, fit, cderi = _fitting(atom)
    d = _random_symmetric(fit.mol.nao)
    j, k = jk_df(cderi, d)
    j_ref, k_ref = _pyscf_jk(fit, d)
    np.testing.assert_allclose(j, j_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, rtol=0, atol=1e-10)


def _low_rank_indefinite(nao, ranks, seed=2):
    """Symmetric [len(ranks), nao, nao] densities, each V diag(w) V^T of its rank with mixed-sign w: the
    shape of a VJP cotangent (rank about 2 n_occ, neither sign definite)."""
    rng = np.random.default_rng(seed)
    out = []
    for rank in ranks:
        v = np.linalg.qr(rng.standard_normal((nao, rank)))[0]
        w = rng.uniform(0.5, 2.0, rank) * rng.choice([-1.0, 1.0], rank)
        out.append((v * w) @ v.T)
    return np.stack(out)


def test_general_path_of_low_rank_densities_matches_pyscf():
    # The general path skips eigenvectors below round-off (sign 0, the kernel stops at the last non-zero
    # sign); a batch whose densities differ in rank, one of them full and one zero, must still be exact.
    _, fit, cderi = _fitting(ETHANOL)
    nao = fit.mol.nao
    d = np.concatenate([_low_rank_indefinite(nao, [3, 26]), _random_symmetric(nao, seed=5)[None],
                        np.zeros((1, nao, nao))])
    j, k = jax.jit(jk_df)(cderi, d)
    j_ref, k_ref = _pyscf_jk(fit, d)
    np.testing.assert_allclose(j, j_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, rtol=0, atol=1e-10)
    assert np.all(np.isfinite(k)) and not np.any(k[3])


@pytest.mark.parametrize("atom,n_occ", [(WATER, 5), (ETHANOL, 13)])
def test_orbital_path_matches_pyscf_float64(atom, n_occ):
    _, fit, cderi = _fitting(atom)
    d, factor = _occupied_density(fit.mol.nao, n_occ)
    j, k = jk_df(cderi, d, density_factor=factor)
    j_ref, k_ref = _pyscf_jk(fit, d)
    np.testing.assert_allclose(j, j_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, rtol=0, atol=1e-10)


def test_float32_error_bound():
    _, fit, cderi = _fitting(ETHANOL)
    d = _random_symmetric(fit.mol.nao)
    j_ref, k_ref = _pyscf_jk(fit, d)
    j, k = jk_df(cderi.astype(np.float32), d.astype(np.float32))
    assert j.dtype == jnp.float32 and k.dtype == jnp.float32
    assert np.max(np.abs(j - j_ref)) / np.max(np.abs(j_ref)) < 1e-5
    assert np.max(np.abs(k - k_ref)) / np.max(np.abs(k_ref)) < 1e-5
    occupied, factor = _occupied_density(fit.mol.nao, 13)
    j_ref, k_ref = _pyscf_jk(fit, occupied)
    j, k = jk_df(cderi.astype(np.float32), occupied.astype(np.float32), density_factor=factor.astype(np.float32))
    assert np.max(np.abs(j - j_ref)) / np.max(np.abs(j_ref)) < 1e-5
    assert np.max(np.abs(k - k_ref)) / np.max(np.abs(k_ref)) < 1e-5


def test_batch_of_densities_shares_one_set_of_factors():
    _, fit, cderi = _fitting(WATER)
    d = _random_symmetric(fit.mol.nao, batch=(2, 3))
    j, k = jk_df(cderi, d)
    j_ref, k_ref = _pyscf_jk(fit, d)
    assert j.shape == d.shape
    np.testing.assert_allclose(j, j_ref, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, atol=1e-10)
    occupied, factor = _occupied_density(fit.mol.nao, 5, batch=(3,))
    j, k = jk_df(cderi, occupied, density_factor=factor)
    j_ref, k_ref = _pyscf_jk(fit, occupied)
    np.testing.assert_allclose(k, k_ref, atol=1e-10)


def test_batch_of_conformers_each_with_its_factors():
    _, fit_a, cderi_a = _fitting(WATER)
    _, fit_b, cderi_b = _fitting(WATER_MOVED)
    d = _random_symmetric(fit_a.mol.nao, batch=(2,))
    j, k = jk_df(np.stack([cderi_a, cderi_b]), d)
    for fit, index in ((fit_a, 0), (fit_b, 1)):
        j_ref, k_ref = _pyscf_jk(fit, d[index])
        np.testing.assert_allclose(j[index], j_ref, atol=1e-10)
        np.testing.assert_allclose(k[index], k_ref, atol=1e-10)
    # One density against both geometries (cderi batch broadcast over a shared density).
    j, k = jk_df(np.stack([cderi_a, cderi_b]), d[0])
    np.testing.assert_allclose(k[1], _pyscf_jk(fit_b, d[0])[1], atol=1e-10)


def test_jit_and_vmap_agree_with_direct_call():
    _, fit, cderi = _fitting(WATER)
    d = _random_symmetric(fit.mol.nao, batch=(4,))
    direct = jk_df(cderi, d)
    over_densities = jax.jit(jax.vmap(lambda x: jk_df(cderi, x)))(d)
    over_both = jax.vmap(jk_df)(np.stack([cderi] * 4), d)
    for other in (over_densities, over_both):
        np.testing.assert_allclose(other[0], direct[0], atol=1e-12)
        np.testing.assert_allclose(other[1], direct[1], atol=1e-12)
    occupied, factor = _occupied_density(fit.mol.nao, 5, batch=(4,))
    mapped = jax.jit(jax.vmap(lambda x, f: jk_df(cderi, x, density_factor=f)))(occupied, factor)
    np.testing.assert_allclose(mapped[1], jk_df(cderi, occupied)[1], atol=1e-12)


def test_flags_switch_outputs_off():
    _, fit, cderi = _fitting(WATER)
    d = _random_symmetric(fit.mol.nao)
    j, k = jk_df(cderi, d)
    j_only, k_zero = jk_df(cderi, d, with_k=False)
    j_zero, k_only = jk_df(cderi, d, with_j=False)
    np.testing.assert_allclose(j_only, j, atol=1e-12)
    np.testing.assert_allclose(k_only, k, atol=1e-12)
    assert not np.any(k_zero) and not np.any(j_zero)


def test_reference_twin_matches_pyscf():
    _, fit, cderi = _fitting(WATER)
    d = _random_symmetric(fit.mol.nao)
    j_ref, k_ref = _pyscf_jk(fit, d)
    j, k = reference.jk_df(cderi, d)
    np.testing.assert_allclose(j, j_ref, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, atol=1e-10)
    occupied, factor = _occupied_density(fit.mol.nao, 5)
    _, k = reference.jk_df(cderi, occupied, density_factor=factor)
    np.testing.assert_allclose(k, _pyscf_jk(fit, occupied)[1], atol=1e-10)


def test_gradients_first_and_second_order():
    _, fit, cderi = _fitting(WATER, basis="6-31g", auxbasis="weigend")
    d = _random_symmetric(fit.mol.nao)
    weights = np.random.default_rng(3).standard_normal((2,) + d.shape)

    def make_loss(jk_function):
        def loss(x):
            x = (x + x.T) / 2
            j, k = jk_function(cderi, x)
            return jnp.sum(jnp.sin(j) * weights[0]) + jnp.sum(jnp.cos(k) * weights[1]) + jnp.sum(k * x)
        return loss

    loss = make_loss(jk_df)
    check_grads(loss, (d,), order=2, modes=["rev"])
    # First and second derivatives are the twin's (autodiff through einsum).
    twin_loss = make_loss(reference.jk_df)
    np.testing.assert_allclose(jax.grad(loss)(d), jax.grad(twin_loss)(d), atol=1e-9)
    np.testing.assert_allclose(jax.jacrev(jax.grad(loss))(d), jax.jacrev(jax.grad(twin_loss))(d), atol=1e-8)


def test_gradient_through_the_orbital_path_is_the_gradient_in_d():
    _, fit, cderi = _fitting(WATER, basis="6-31g", auxbasis="weigend")
    occupied, factor = _occupied_density(fit.mol.nao, 5)
    weights = np.random.default_rng(4).standard_normal(occupied.shape)

    def loss(x, f):
        return jnp.sum(jk_df(cderi, (x + x.T) / 2, density_factor=f)[1] * weights)

    grad_d, grad_f = jax.grad(loss, argnums=(0, 1))(occupied, factor)
    expected = jax.grad(lambda x: jnp.sum(jk_df(cderi, (x + x.T) / 2)[1] * weights))(occupied)
    np.testing.assert_allclose(grad_d, expected, atol=1e-10)
    assert not np.any(grad_f)


def test_gradient_of_batched_call_sums_over_broadcast_dims():
    _, fit, cderi = _fitting(WATER, basis="6-31g", auxbasis="weigend")
    d = _random_symmetric(fit.mol.nao)
    batched = jax.grad(lambda x: jnp.sum(jk_df(np.stack([cderi, cderi]), x)[1] ** 2))(d)
    single = jax.grad(lambda x: jnp.sum(jk_df(cderi, x)[1] ** 2))(d)
    np.testing.assert_allclose(batched, 2 * single, atol=1e-10)


def _bad_inputs():
    cderi = np.zeros((10, 28))
    d = np.eye(7)
    return [
        (lambda: jk_df(cderi, np.zeros((7, 6))), ValueError, "square"),
        (lambda: jk_df(np.zeros((10, 27)), d), ValueError, "cderi must be"),
        (lambda: jk_df(np.zeros(28), d), ValueError, "cderi must be"),
        (lambda: jk_df(cderi.astype(np.float32), d), TypeError, "one dtype"),
        (lambda: jk_df(cderi.astype(np.int32), d.astype(np.int32)), TypeError, "float32 or float64"),
        (lambda: jk_df(np.zeros((3, 10, 28)), np.zeros((2, 7, 7))), ValueError, "broadcast"),
        (lambda: jk_df(cderi, np.triu(np.ones((7, 7)))), ValueError, "symmetric"),
        (lambda: jk_df(cderi, d, density_factor=np.zeros((6, 2))), ValueError, "density_factor must be"),
        (lambda: jk_df(cderi, d, density_factor=np.zeros((7, 2))), ValueError, "D = F F"),
    ]


@pytest.mark.parametrize("make,error,match", _bad_inputs())
def test_bad_input_raises_before_the_kernel(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_kernel_rejects_inconsistent_shapes_itself():
    """Shapes the Python checks would stop, sent straight to the FFI target, come back as errors."""
    out = jax.ShapeDtypeStruct((4, 4), jnp.float64)
    call = jax.ffi.ffi_call("qpt_jk_df", (out, out))
    cases = [
        (np.zeros((3, 9)), np.zeros((4, 4)), np.zeros((4, 2)), np.zeros(2)),     # npair 9 != 10
        (np.zeros((3, 10)), np.zeros((4, 4)), np.zeros((4, 2)), np.zeros(3)),    # signs [3] for m = 2
        (np.zeros((3, 10)), np.zeros((4, 4)), np.zeros((5, 2)), np.zeros(2)),    # factor rows 5 != n
        (np.zeros((3, 10)), np.zeros((4, 4)), np.zeros((4, 2), np.float32), np.zeros(2)),  # mixed dtypes
        (np.zeros((2, 3, 10)), np.zeros((4, 4)), np.zeros((4, 2)), np.zeros(2)),  # batch dims differ
        (np.zeros((2, 3, 10)), np.zeros((3, 4, 4)), np.zeros((3, 4, 2)), np.zeros((3, 2))),  # 2 vs 3
    ]
    for arrays in cases:
        with pytest.raises(Exception, match="qpt jk_df"):
            jax.block_until_ready(call(*arrays, with_j=True, with_k=True))
    wrong_out = jax.ShapeDtypeStruct((5, 5), jnp.float64)
    with pytest.raises(Exception, match="qpt jk_df: output shape"):
        jax.block_until_ready(jax.ffi.ffi_call("qpt_jk_df", (wrong_out, wrong_out))(
            np.zeros((3, 10)), np.zeros((4, 4)), np.zeros((4, 2)), np.zeros(2), with_j=True, with_k=True))


def test_empty_auxiliary_set_gives_zeros():
    j, k = jk_df(np.zeros((0, 10)), np.eye(4))
    assert not np.any(j) and not np.any(k)


def test_cuda_lowering_exists():
    """The CUDA target lowers (checked without a GPU through jax.export)."""
    _, fit, cderi = _fitting(WATER, basis="sto-3g", auxbasis="weigend")
    d = _random_symmetric(fit.mol.nao)
    exported = jax.export.export(
        jax.jit(lambda x: jk_df(cderi, x)), platforms=["cuda"],
        disabled_checks=[jax.export.DisabledSafetyCheck.custom_call("qpt_jk_df")])(d)
    assert "qpt_jk_df" in exported.mlir_module()


@pytest.mark.cuda
def test_cuda_kernel_matches_pyscf():
    _, fit, cderi = _fitting(ETHANOL)
    d = _random_symmetric(fit.mol.nao)
    gpu = jax.devices("gpu")[0]
    j_ref, k_ref = _pyscf_jk(fit, d)
    j, k = jk_df(jax.device_put(cderi, gpu), jax.device_put(d, gpu))
    np.testing.assert_allclose(np.asarray(j), j_ref, atol=1e-10)
    np.testing.assert_allclose(np.asarray(k), k_ref, atol=1e-10)
    occupied, factor = _occupied_density(fit.mol.nao, 13)
    _, k = jk_df(jax.device_put(cderi, gpu), jax.device_put(occupied, gpu),
                 density_factor=jax.device_put(factor, gpu))
    np.testing.assert_allclose(np.asarray(k), _pyscf_jk(fit, occupied)[1], atol=1e-10)
