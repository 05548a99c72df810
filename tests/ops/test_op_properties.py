"""Property-based tests (hypothesis) of every op on random inputs (issue 20): random bases, geometries, shapes,
dtypes and values, NaN/inf/negative/huge included. What must hold: a clear exception, or a correct result
(checked against PySCF/libcint or the pure-JAX twin), or NaN where NaN went in; never a crash, a hang or a
finite wrong answer. The examples are derandomised (tests/conftest.py), so CI runs the same cases every time;
`pytest --hypothesis-profile=explore` runs more, new ones."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pyscf import gto, scf

from qpt import ops
from qpt.ops import reference
from qpt.ops.jk import packed_eri_length
from qpt.system.basis import basis_shells_from_mol
from qpt.system.grid import Grid

EXCEPTIONS = (ValueError, TypeError, jax.errors.JaxRuntimeError)


@st.composite
def molecules(draw, max_atoms=3, max_l=2):
    """A small PySCF Mole with a random basis: 1-3 atoms, 1-3 shells each (l <= max_l, 1-3 primitives with
    exponents log-uniform in [0.05, 50] and random signed coefficients), atoms at least 1 bohr apart."""
    n_atoms = draw(st.integers(1, max_atoms))
    positions = np.array([draw(st.tuples(*[st.floats(-2.5, 2.5)] * 3)) for _ in range(n_atoms)])
    if n_atoms > 1:
        distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)[np.triu_indices(n_atoms, 1)]
        assume(distances.min() > 1.0)
    atoms, basis = [], {}
    for a, position in enumerate(positions):
        label = f"H{a + 1}"
        shells = []
        for _ in range(draw(st.integers(1, 3))):
            l = draw(st.integers(0, max_l))
            nprim = draw(st.integers(1, 3))
            exponents = sorted({round(10 ** draw(st.floats(-1.3, 1.7)), 6) for _ in range(nprim)}, reverse=True)
            shells.append([l] + [[e, draw(st.floats(0.2, 1.0)) * draw(st.sampled_from([-1, 1]))]
                                 for e in exponents])
        atoms.append((label, tuple(position)))
        basis[label] = shells
    mol = gto.M(atom=atoms, basis=basis, unit="Bohr", spin=n_atoms % 2, verbose=0)
    assume(mol.nao <= 40)
    return mol


def _symmetric(rng, n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a + np.swapaxes(a, -1, -2)


def _grid(rng, npoint):
    coords = rng.uniform(-4.0, 4.0, (npoint, 3))
    return Grid(coords, np.full(npoint, 0.1), 0)


def _ao_values(mol, coords):
    return mol.eval_gto("GTOval_sph_deriv1", coords)  # [4, G, N]: value, d/dx, d/dy, d/dz


@given(molecules(), st.integers(0, 2**31 - 1))
def test_jk_direct_equals_libcint_on_random_bases(mol, seed):
    D = _symmetric(np.random.default_rng(seed), mol.nao)
    J, K = ops.jk_direct(basis_shells_from_mol(mol), jnp.asarray(D), screening_threshold=0.0)
    J_ref, K_ref = scf.hf.get_jk(mol, D, hermi=1)
    scale = max(1.0, np.abs(J_ref).max(), np.abs(K_ref).max())
    np.testing.assert_allclose(J, J_ref, atol=1e-10 * scale)
    np.testing.assert_allclose(K, K_ref, atol=1e-10 * scale)


@given(molecules(), st.integers(0, 2**31 - 1), st.integers(1, 60))
def test_grid_ops_equal_pyscf_ao_values_on_random_bases(mol, seed, npoint):
    rng = np.random.default_rng(seed)
    basis, grid = basis_shells_from_mol(mol), _grid(rng, npoint)
    ao = _ao_values(mol, grid.coords)
    D = _symmetric(rng, mol.nao)
    rho, grad = ops.density_on_grid(basis, grid, jnp.asarray(D), screening_threshold=0.0)
    np.testing.assert_allclose(rho, np.einsum("gi,ij,gj->g", ao[0], D, ao[0]), atol=1e-10)
    np.testing.assert_allclose(grad, 2 * np.einsum("xgi,ij,gj->gx", ao[1:], D, ao[0]), atol=1e-10)
    v_rho, v_grad = rng.standard_normal(npoint), rng.standard_normal((npoint, 3))
    V = ops.potential_matrix(basis, grid, jnp.asarray(v_rho), jnp.asarray(v_grad), screening_threshold=0.0)
    half = np.einsum("g,gi,gj->ij", v_rho, ao[0], ao[0]) / 2 + np.einsum("gx,xgi,gj->ij", v_grad, ao[1:], ao[0])
    np.testing.assert_allclose(V, half + half.T, atol=1e-10)


BAD = {"exponents": [np.nan, np.inf, -np.inf, 0.0, -1.0, -1e300],
       "coefficients": [np.nan, np.inf, -np.inf],
       "centers": [np.nan, np.inf, -np.inf]}


@given(molecules(max_atoms=2), st.sampled_from(sorted(BAD)), st.data(), st.booleans())
def test_bad_basis_values_raise_in_every_basis_op(mol, field, data, under_jit):
    basis = basis_shells_from_mol(mol)
    values = np.array(getattr(basis, field))
    flat = values.reshape(-1)
    flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(st.sampled_from(BAD[field]))
    bad = dataclasses.replace(basis, **{field: values})
    D = jnp.asarray(_symmetric(np.random.default_rng(0), mol.nao))
    grid = _grid(np.random.default_rng(1), 8)
    calls = [lambda b: ops.jk_direct(b, D)[0], lambda b: ops.density_on_grid(b, grid, D)[0],
             lambda b: ops.potential_matrix(b, grid, jnp.ones(8), jnp.zeros((8, 3)))]
    for call in calls:
        with pytest.raises(EXCEPTIONS, match=field[:-1] if field != "centers" else "cent"):
            jax.block_until_ready((jax.jit(call) if under_jit else call)(bad))


@given(molecules(max_atoms=2), st.integers(0, 2**31 - 1), st.floats(1e-3, 1e3))
def test_huge_and_tiny_density_values_stay_finite_and_linear(mol, seed, scale):
    # J/K are linear in D: scaling D scales J/K exactly (to round-off), whatever the magnitude.
    basis = basis_shells_from_mol(mol)
    D = _symmetric(np.random.default_rng(seed), mol.nao)
    J1, K1 = ops.jk_direct(basis, jnp.asarray(D), screening_threshold=0.0)
    J2, K2 = ops.jk_direct(basis, jnp.asarray(scale * D), screening_threshold=0.0)
    for a, b in ((J1, J2), (K1, K2)):
        assert np.all(np.isfinite(b))
        np.testing.assert_allclose(b, scale * np.asarray(a), atol=1e-9 * scale * max(1.0, np.abs(a).max()))


@given(st.integers(1, 7), st.integers(0, 2**31 - 1), st.sampled_from([np.float64, np.float32]),
       st.sampled_from([None, np.nan, np.inf, 1e200]))
def test_packed_jk_matches_its_pure_jax_twin_or_propagates_nan(nao, seed, dtype, special):
    rng = np.random.default_rng(seed)
    eri = rng.standard_normal(packed_eri_length(nao)).astype(dtype)
    D = _symmetric(rng, nao).astype(dtype)
    if special is not None:
        with np.errstate(over="ignore"):
            D[0, 0] = special  # 1e200 overflows float32 to inf
    J, K = ops.jk(jnp.asarray(eri), jnp.asarray(D))
    J_ref, K_ref = reference.jk(jnp.asarray(eri), jnp.asarray(D))
    if np.all(np.isfinite(D)):
        tolerance = 1e-10 if dtype == np.float64 else 1e-4
        np.testing.assert_allclose(J, J_ref, rtol=tolerance, atol=tolerance * np.abs(J_ref).max())
        np.testing.assert_allclose(K, K_ref, rtol=tolerance, atol=tolerance * np.abs(K_ref).max())
    else:
        assert not np.all(np.isfinite(J)) and not np.all(np.isfinite(K))
    assert J.dtype == dtype and K.dtype == dtype


SHAPES = st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple)
DTYPES = st.sampled_from([np.float64, np.float32, np.float16, np.int32, np.complex64, np.bool_])


@given(st.integers(1, 5), SHAPES, SHAPES, DTYPES, DTYPES)
def test_packed_jk_of_arbitrary_shapes_raises_or_is_correct(nao, eri_shape, d_shape, eri_dtype, d_dtype):
    eri, D = np.ones(eri_shape, eri_dtype), np.ones(d_shape, d_dtype)
    try:
        J, K = ops.jk(eri, D)
    except (ValueError, TypeError):
        return
    # Accepted: then the shapes were valid and the result is the pure-JAX twin's.
    J_ref, K_ref = reference.jk(jnp.asarray(eri), jnp.asarray(D))
    np.testing.assert_allclose(J, J_ref, rtol=1e-5)
    np.testing.assert_allclose(K, K_ref, rtol=1e-5)


@given(molecules(max_atoms=2), SHAPES, DTYPES, st.booleans())
def test_basis_ops_of_arbitrary_density_shapes_raise_or_are_correct(mol, d_shape, d_dtype, under_jit):
    basis = basis_shells_from_mol(mol)
    D = np.ones(d_shape, d_dtype)
    grid = _grid(np.random.default_rng(2), 5)
    for op, twin in ((lambda b, d: ops.density_on_grid(b, grid, d)[0],
                      lambda b, d: reference.density_on_grid(b, grid, d)[0]),
                     (lambda b, d: ops.jk_direct(b, d, screening_threshold=0.0)[0], None)):
        try:
            result = (jax.jit(op) if under_jit else op)(basis, D)
        except EXCEPTIONS:
            continue
        assert D.shape[-2:] == (mol.nao, mol.nao) and np.issubdtype(D.dtype, np.floating)
        if twin is not None:
            np.testing.assert_allclose(result, twin(basis, jnp.asarray(D)), rtol=1e-4, atol=1e-8)


@given(st.integers(2, 6), st.integers(-1, 7), st.integers(0, 2**31 - 1),
       st.sampled_from([None, np.nan, np.inf]))
def test_density_matrix_raises_is_correct_or_propagates_nan(n, n_occ, seed, special):
    rng = np.random.default_rng(seed)
    F = _symmetric(rng, n)
    if special is not None:
        F[0, 0] = special
    X = np.linalg.inv(np.linalg.cholesky(np.eye(n) + 0.1 * _symmetric(rng, n) ** 2 / n)).T
    try:
        D, eps, C = ops.density_matrix(jnp.asarray(F), jnp.asarray(X), n_occ)
    except EXCEPTIONS:
        assert not 1 <= n_occ <= n - 1 or special is not None
        return
    assert 1 <= n_occ <= n - 1
    if special is None:
        D_ref = reference.density_matrix(jnp.asarray(F), jnp.asarray(X), n_occ)[0]
        np.testing.assert_allclose(D, D_ref, atol=1e-8)
    else:
        assert not np.all(np.isfinite(D))


@given(molecules(max_atoms=2), st.floats(0.0, 1e-6), st.integers(1, 40))
def test_screening_statistics_are_counts(mol, threshold, npoint):
    stats = ops.screening_statistics(basis_shells_from_mol(mol), _grid(np.random.default_rng(3), npoint),
                                     screening_threshold=threshold)
    for name, value in stats.items():
        assert np.isfinite(value) and value >= 0, (name, value)
