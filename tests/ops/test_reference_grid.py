"""Pure-JAX AO values, density on the grid and potential matrix against PySCF's numint."""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyscf import dft, gto, scf

from qpt.ops.reference.grid import ao_values, density_on_grid, potential_matrix
from qpt.system.basis import basis_shells_from_mol

WATER = "O 0 0 0.22; H 0 1.43 -0.89; H 0 -1.43 -0.89"


class PointGrid(NamedTuple):
    """Stands in for qpt.system.Grid: anything with coords [G, 3] and weights [G]."""
    coords: np.ndarray
    weights: np.ndarray


def _mol(atom, basis, cart=False, spin=0):
    return gto.M(atom=atom, basis=basis, cart=cart, spin=spin, unit="Bohr", verbose=0)


def _random_points(count, seed=0):
    coords = np.random.default_rng(seed).normal(scale=1.5, size=(count, 3))
    return PointGrid(coords, np.ones(count))


def _random_symmetric(rng, *shape):
    a = rng.normal(size=shape)
    return (a + np.swapaxes(a, -1, -2)) / 2


@pytest.fixture(scope="module")
def water():
    """Water def2-svp with PySCF's level-1 grid and the minao density."""
    mol = _mol(WATER, "def2-svp")
    grids = dft.gen_grid.Grids(mol)
    grids.level = 1
    grids.build()
    return mol, basis_shells_from_mol(mol), PointGrid(grids.coords, grids.weights), grids, \
        scf.hf.init_guess_by_minao(mol)


@pytest.mark.parametrize("atom,basis,cart,spin", [
    (WATER, "sto-3g", False, 0),
    (WATER, "6-31g*", False, 0),
    ("O 0 0 0; H 0 1.4 1.1", "cc-pvtz", False, 1),  # f shells
    ("Ne 0 0 0", "cc-pvqz", False, 0),  # g shells
    (WATER, "def2-svp", True, 0),
    ("Ne 0 0 0", "cc-pvqz", True, 0),
])
def test_ao_values_match_eval_ao_deriv1(atom, basis, cart, spin):
    mol = _mol(atom, basis, cart, spin)
    coords = _random_points(30).coords
    reference = mol.eval_ao("GTOval_cart_deriv1" if cart else "GTOval_sph_deriv1", coords)
    values = ao_values(basis_shells_from_mol(mol), coords)
    assert values.shape == reference.shape == (4, 30, mol.nao)
    np.testing.assert_allclose(values, reference, rtol=0, atol=1e-10 * np.abs(reference).max())


def test_ao_values_without_derivatives():
    mol = _mol(WATER, "6-31g*")
    coords = _random_points(30).coords
    values = ao_values(basis_shells_from_mol(mol), coords, deriv=0)
    assert values.shape == (30, mol.nao)
    np.testing.assert_allclose(values, mol.eval_ao("GTOval_sph", coords), rtol=0, atol=1e-12)


def test_density_matches_eval_rho():
    block_size = 7  # several blocks, the last one padded
    mol = _mol("O 0 0 0; H 0 1.4 1.1", "cc-pvtz", spin=1)
    basis = basis_shells_from_mol(mol)
    grid = _random_points(50)
    rng = np.random.default_rng(1)
    D = _random_symmetric(rng, 3, mol.nao, mol.nao)
    ao = mol.eval_ao("GTOval_sph_deriv1", grid.coords)
    rho, grad = density_on_grid(basis, grid, D, block_size=block_size)
    assert rho.shape == (3, 50) and grad.shape == (3, 50, 3)
    for b in range(3):
        reference = dft.numint.eval_rho(mol, ao, D[b], xctype="GGA")
        np.testing.assert_allclose(rho[b], reference[0], rtol=0, atol=1e-10 * np.abs(reference[0]).max())
        np.testing.assert_allclose(grad[b], reference[1:4].T, rtol=0, atol=1e-10 * np.abs(reference[1:4]).max())


def test_density_uses_symmetric_part():
    mol = _mol(WATER, "sto-3g")
    basis, grid = basis_shells_from_mol(mol), _random_points(20)
    D = np.random.default_rng(2).normal(size=(mol.nao, mol.nao))
    for got, want in zip(density_on_grid(basis, grid, D), density_on_grid(basis, grid, (D + D.T) / 2)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_potential_matrix_matches_pyscf_nr_rks_pbe(water):
    mol, basis, grid, grids, D = water
    ni = dft.numint.NumInt()
    _, _, reference = ni.nr_rks(mol, grids, "pbe", D)
    rho, grad = density_on_grid(basis, grid, D)
    rho_pyscf = np.concatenate([np.asarray(rho)[None], np.asarray(grad).T])
    vxc = ni.eval_xc_eff("pbe", rho_pyscf, deriv=1, xctype="GGA")[1]
    # eval_xc_eff's GGA vxc is (de/drho, 2 de/dsigma grad_rho): exactly the weighted-potential convention.
    w = grids.weights
    V = potential_matrix(basis, grid, w * vxc[0], (w * vxc[1:4]).T)
    np.testing.assert_allclose(V, reference, rtol=0, atol=1e-10 * np.abs(reference).max())
    np.testing.assert_array_equal(V, np.asarray(V).T)


def test_potential_matrix_is_transpose_of_density():
    block_size = 13  # several blocks, the last one padded
    mol = _mol(WATER, "6-31g*")
    basis, grid = basis_shells_from_mol(mol), _random_points(60)
    rng = np.random.default_rng(3)
    D = _random_symmetric(rng, 2, mol.nao, mol.nao)
    v_rho, v_grad = rng.normal(size=(2, 60)), rng.normal(size=(2, 60, 3))
    rho, grad = density_on_grid(basis, grid, D, block_size=block_size)
    V = potential_matrix(basis, grid, v_rho, v_grad, block_size=block_size)
    assert V.shape == (2, mol.nao, mol.nao)
    left = np.sum(v_rho * rho, axis=1) + np.sum(v_grad * grad, axis=(1, 2))
    right = np.sum(np.asarray(V) * D, axis=(1, 2))
    np.testing.assert_allclose(left, right, rtol=1e-12)
    np.testing.assert_allclose(V[1], potential_matrix(basis, grid, v_rho[1], v_grad[1]), rtol=1e-12, atol=1e-12)


def test_float32_relative_error(water):
    _, basis, grid, _, D = water
    rng = np.random.default_rng(4)
    rho64, grad64 = density_on_grid(basis, grid, D)
    rho32, grad32 = density_on_grid(basis, grid, D.astype(np.float32))
    assert rho32.dtype == grad32.dtype == jnp.float32
    assert np.abs(rho32 - rho64).max() / np.abs(rho64).max() < 1e-5
    assert np.abs(grad32 - grad64).max() / np.abs(grad64).max() < 1e-5
    v_rho = grid.weights * rng.normal(size=grid.weights.shape)
    v_grad = grid.weights[:, None] * rng.normal(size=grid.coords.shape)
    V64 = potential_matrix(basis, grid, v_rho, v_grad)
    V32 = potential_matrix(basis, grid, v_rho.astype(np.float32), v_grad.astype(np.float32))
    assert V32.dtype == jnp.float32
    assert np.abs(V32 - V64).max() / np.abs(V64).max() < 1e-5


def test_jit_vmap_grad():
    mol = _mol(WATER, "6-31g*")
    basis, grid = basis_shells_from_mol(mol), _random_points(40)
    rng = np.random.default_rng(5)
    D = _random_symmetric(rng, 3, mol.nao, mol.nao)
    v_rho, v_grad = rng.normal(size=40), rng.normal(size=(40, 3))
    batched = density_on_grid(basis, grid, D, block_size=16)

    jitted = jax.jit(lambda b, g, d: density_on_grid(b, g, d, block_size=16))
    mapped = jax.vmap(lambda d: density_on_grid(basis, grid, d, block_size=16))
    for got in (jitted(basis, grid, D), mapped(D)):
        for x, y in zip(got, batched):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)

    V = potential_matrix(basis, grid, v_rho, v_grad, block_size=16)
    V_mapped = jax.vmap(lambda a, b: potential_matrix(basis, grid, a, b, block_size=16))(
        np.stack([v_rho, 2 * v_rho]), np.stack([v_grad, 2 * v_grad]))
    np.testing.assert_allclose(V_mapped[1], 2 * V, rtol=1e-12, atol=1e-12)

    def contracted(d):
        rho, grad = density_on_grid(basis, grid, d, block_size=16)
        return jnp.sum(v_rho * rho) + jnp.sum(v_grad * grad)

    # The gradient of a linear functional of the density is the potential matrix.
    np.testing.assert_allclose(jax.jit(jax.grad(contracted))(D[0]), V, rtol=1e-10, atol=1e-10)


def test_reverse_and_forward_derivatives_in_grid_points():
    mol = _mol(WATER, "sto-3g")
    basis, grid = basis_shells_from_mol(mol), _random_points(10)
    D = _random_symmetric(np.random.default_rng(6), mol.nao, mol.nao)

    def total_density(coords):
        return jnp.sum(density_on_grid(basis, PointGrid(coords, grid.weights), D, block_size=4)[0])

    grad_rho = density_on_grid(basis, grid, D)[1]
    np.testing.assert_allclose(jax.grad(total_density)(grid.coords), grad_rho, rtol=1e-10, atol=1e-12)
    direction = np.random.default_rng(7).normal(size=grid.coords.shape)
    _, forward = jax.jvp(total_density, (jnp.asarray(grid.coords),), (jnp.asarray(direction),))
    np.testing.assert_allclose(forward, np.sum(grad_rho * direction), rtol=1e-10)


def test_bad_inputs_raise():
    mol = _mol(WATER, "sto-3g")
    basis, grid = basis_shells_from_mol(mol), _random_points(10)
    n = mol.nao
    D = np.eye(n)
    v_rho, v_grad = np.zeros(10), np.zeros((10, 3))
    with pytest.raises(TypeError, match="BasisShells"):
        density_on_grid(mol, grid, D)
    with pytest.raises(TypeError, match="coords"):
        density_on_grid(basis, grid.coords, D)
    with pytest.raises(ValueError, match=r"\[G, 3\]"):
        density_on_grid(basis, PointGrid(np.zeros((10, 2)), np.ones(10)), D)
    with pytest.raises(ValueError, match="weights"):
        density_on_grid(basis, PointGrid(grid.coords, np.ones(9)), D)
    with pytest.raises(ValueError, match="no points"):
        density_on_grid(basis, PointGrid(np.zeros((0, 3)), np.ones(0)), D)
    with pytest.raises(ValueError, match="D must be"):
        density_on_grid(basis, grid, np.eye(n + 1))
    with pytest.raises(ValueError, match="D must be"):
        density_on_grid(basis, grid, np.ones(n))
    with pytest.raises(TypeError, match="float32 or float64"):
        density_on_grid(basis, grid, np.eye(n, dtype=np.int32))
    with pytest.raises(ValueError, match="block_size"):
        density_on_grid(basis, grid, D, block_size=0)
    with pytest.raises(ValueError, match="v_rho"):
        potential_matrix(basis, grid, np.zeros(11), np.zeros((11, 3)))
    with pytest.raises(ValueError, match="v_grad"):
        potential_matrix(basis, grid, v_rho, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="v_grad"):
        potential_matrix(basis, grid, np.zeros((2, 10)), v_grad)
    with pytest.raises(TypeError, match="share one dtype"):
        potential_matrix(basis, grid, v_rho.astype(np.float32), v_grad)
    with pytest.raises(ValueError, match="deriv"):
        ao_values(basis, grid.coords, deriv=2)
