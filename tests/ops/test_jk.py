"""J/K from packed ERIs: the fused kernel against PySCF's get_jk, plus batching, gradients and bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from pyscf import gto, scf

from qpt.ops import jk, coulomb, exchange
from qpt.ops import reference

WATER = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"
AMMONIA = "N 0 0 0.1; H 0 0.94 -0.27; H 0.81 -0.47 -0.27; H -0.81 -0.47 -0.27"
ETHANOL = """C -0.0487 -0.3866 0.0; C 1.4203 0.0198 0.0; O -0.8161 0.8095 0.0;
H -0.3165 -0.9729 0.8837; H -0.3165 -0.9729 -0.8837; H 1.6626 0.6092 0.8847;
H 1.6626 0.6092 -0.8847; H 2.0447 -0.8741 0.0; H -1.7404 0.5331 0.0"""


def _case(atom, basis, seed=0, batch=()):
    mol = gto.M(atom=atom, basis=basis)
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(batch + (mol.nao, mol.nao))
    return mol, mol.intor("int2e", aosym="s8"), d + np.swapaxes(d, -1, -2)


def _pyscf_jk(mol, d):
    d = np.asarray(d, dtype=np.float64)
    j, k = scf.hf.get_jk(mol, d.reshape(-1, mol.nao, mol.nao), hermi=1)
    return np.asarray(j).reshape(d.shape), np.asarray(k).reshape(d.shape)


@pytest.mark.parametrize("atom,basis", [(WATER, "sto-3g"), (WATER, "6-31g*"), (AMMONIA, "def2-svp"),
                                        (ETHANOL, "sto-3g")])
def test_matches_pyscf_float64(atom, basis):
    mol, eri, d = _case(atom, basis)
    j, k = jk(eri, d)
    j_ref, k_ref = _pyscf_jk(mol, d)
    np.testing.assert_allclose(j, j_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, rtol=0, atol=1e-10)


def test_matches_pyscf_float32():
    mol, eri, d = _case(AMMONIA, "def2-svp")
    j, k = jk(eri.astype(np.float32), d.astype(np.float32))
    assert j.dtype == jnp.float32 and k.dtype == jnp.float32
    j_ref, k_ref = _pyscf_jk(mol, d)
    assert np.max(np.abs(j - j_ref)) / np.max(np.abs(j_ref)) < 1e-5
    assert np.max(np.abs(k - k_ref)) / np.max(np.abs(k_ref)) < 1e-5


def test_batch_of_densities_shares_one_set_of_integrals():
    mol, eri, d = _case(WATER, "6-31g*", batch=(2, 3))
    j, k = jk(eri, d)
    j_ref, k_ref = _pyscf_jk(mol, d)
    assert j.shape == d.shape
    np.testing.assert_allclose(j, j_ref, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, atol=1e-10)


def test_batch_of_conformers_each_with_its_integrals():
    mol_a, eri_a, d = _case(WATER, "6-31g", batch=(2,))
    mol_b = gto.M(atom="O 0 0 0.13; H 0 0.78 -0.46; H 0 -0.74 -0.48", basis="6-31g")
    eri = np.stack([eri_a, mol_b.intor("int2e", aosym="s8")])
    j, k = jk(eri, d)
    for mol, index in ((mol_a, 0), (mol_b, 1)):
        j_ref, k_ref = _pyscf_jk(mol, d[index])
        np.testing.assert_allclose(j[index], j_ref, atol=1e-10)
        np.testing.assert_allclose(k[index], k_ref, atol=1e-10)


def test_jit_and_vmap_agree_with_direct_call():
    mol, eri, d = _case(WATER, "6-31g", batch=(4,))
    direct = jk(eri, d)
    over_densities = jax.jit(jax.vmap(lambda x: jk(eri, x)))(d)
    over_both = jax.vmap(jk)(np.stack([eri] * 4), d)
    nested = jax.vmap(jax.vmap(lambda x: jk(eri, x)))(d.reshape(2, 2, mol.nao, mol.nao))
    for other in (over_densities, over_both):
        np.testing.assert_allclose(other[0], direct[0], atol=1e-12)
        np.testing.assert_allclose(other[1], direct[1], atol=1e-12)
    np.testing.assert_allclose(nested[1].reshape(d.shape), direct[1], atol=1e-12)


def test_flags_and_single_matrix_helpers():
    mol, eri, d = _case(WATER, "6-31g")
    j_ref, k_ref = _pyscf_jk(mol, d)
    j_only, zeros = jk(eri, d, with_k=False)
    assert not np.any(zeros)
    np.testing.assert_allclose(j_only, j_ref, atol=1e-10)
    np.testing.assert_allclose(coulomb(eri, d), j_ref, atol=1e-10)
    np.testing.assert_allclose(exchange(eri, d), k_ref, atol=1e-10)


def test_reference_twin_matches_pyscf():
    mol, eri, d = _case(WATER, "6-31g")
    j, k = reference.jk(eri, d)
    j_ref, k_ref = _pyscf_jk(mol, d)
    np.testing.assert_allclose(j, j_ref, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, atol=1e-10)


def test_gradients_first_and_second_order():
    _, eri, d = _case(WATER, "sto-3g")

    def loss(x):
        x = (x + x.T) / 2
        j, k = jk(eri, x)
        return jnp.sum(j * x) - 0.25 * jnp.sum(k * x) + jnp.sum(jnp.sin(k))

    check_grads(loss, (d,), order=2, modes=["rev"])
    check_grads(lambda x: jk(eri, (x + x.T) / 2), (d,), order=1, modes=["rev"])

    def loss_reference(x):
        x = (x + x.T) / 2
        j, k = reference.jk(eri, x)
        return jnp.sum(j * x) - 0.25 * jnp.sum(k * x) + jnp.sum(jnp.sin(k))

    np.testing.assert_allclose(jax.grad(loss)(d), jax.grad(loss_reference)(d), atol=1e-10)
    hessian = jax.jacrev(jax.grad(loss))  # reverse over reverse: custom_vjp has no forward mode
    np.testing.assert_allclose(hessian(d), jax.jacrev(jax.grad(loss_reference))(d), atol=1e-9)


def test_gradient_of_batched_call_sums_over_broadcast_dims():
    _, eri, d = _case(WATER, "sto-3g", batch=(3,))
    one = d[0]
    grad = jax.grad(lambda x: jnp.sum(jk(eri, jnp.broadcast_to(x, d.shape))[1] ** 2))(one)
    grad_ref = jax.grad(lambda x: 3 * jnp.sum(jk(eri, x)[1] ** 2))(one)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-12)


@pytest.mark.parametrize("make,error,match", [
    (lambda eri, d: (eri[:-1], d), ValueError, "8-fold packed"),
    (lambda eri, d: (eri, d[:, :-1]), ValueError, "square"),
    (lambda eri, d: (eri, d + np.triu(np.ones_like(d))), ValueError, "symmetric"),
    (lambda eri, d: (eri.astype(np.float32), d), TypeError, "one dtype"),
    (lambda eri, d: (eri.astype(np.int32), d.astype(np.int32)), TypeError, "float32 or float64"),
    (lambda eri, d: (np.stack([eri] * 2), np.stack([d] * 3)), ValueError, "broadcast"),
])
def test_bad_input_raises_before_the_kernel(make, error, match):
    _, eri, d = _case(WATER, "sto-3g")
    with pytest.raises(error, match=match):
        jk(*make(eri, d))


def test_kernel_rejects_inconsistent_shapes_itself():
    """The C++ handler checks shapes again and returns an error instead of reading out of bounds."""
    _, eri, d = _case(WATER, "sto-3g")
    out = jax.ShapeDtypeStruct(d.shape, d.dtype)
    call = jax.ffi.ffi_call("qpt_jk_packed", (out, out))
    with pytest.raises(Exception, match="8-fold packed"):
        jax.block_until_ready(call(eri[:-5], d, with_j=True, with_k=True))
