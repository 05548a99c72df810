"""BasisShells against PySCF's own AO evaluation, with an independent numpy evaluator written here."""
import jax
import numpy as np
import pytest
from pyscf import gto

from qpt.ops.basis import BasisShells, cart_to_sph_matrix, cartesian_powers
from qpt.system.basis import basis_shells_from_mol

WATER = "O 0 0 0.22; H 0 1.43 -0.89; H 0 -1.43 -0.89"


def _mol(atom, basis, cart=False, spin=0):
    return gto.M(atom=atom, basis=basis, cart=cart, spin=spin, unit="Bohr", verbose=0)


def _numpy_ao_values(basis: BasisShells, coords):
    """AO values [G, N], one shell at a time, straight from the BasisShells definition."""
    out = np.zeros((len(coords), basis.nao))
    for shell, l in enumerate(basis.angular):
        offset = coords - basis.centers[shell]
        prims = slice(basis.prim_offsets[shell], basis.prim_offsets[shell + 1])
        radial = np.exp(-np.outer(np.sum(offset**2, axis=1), basis.exponents[prims])) @ basis.coefficients[prims]
        cartesian = np.prod(offset[:, None, :] ** cartesian_powers(l)[None], axis=2) * radial[:, None]
        if basis.spherical:
            cartesian = cartesian @ cart_to_sph_matrix(l)
        out[:, basis.ao_offsets[shell]:basis.ao_offsets[shell + 1]] = cartesian
    return out


CASES = [
    (WATER, "sto-3g", False, 0),
    (WATER, "6-31g*", False, 0),
    (WATER, "def2-svp", False, 0),
    ("O 0 0 0; H 0 1.4 1.1", "cc-pvtz", False, 1),  # f shells and general contractions
    ("Ne 0 0 0", "cc-pvqz", False, 0),  # g shells
    (WATER, "6-31g*", True, 0),
    ("Ne 0 0 0", "cc-pvqz", True, 0),
]


@pytest.mark.parametrize("atom,basis,cart,spin", CASES)
def test_ao_values_match_pyscf(atom, basis, cart, spin):
    mol = _mol(atom, basis, cart, spin)
    shells = basis_shells_from_mol(mol)
    coords = np.random.default_rng(0).normal(scale=1.5, size=(40, 3))
    reference = mol.eval_ao("GTOval_cart" if cart else "GTOval_sph", coords)
    assert shells.nao == mol.nao_nr(cart=cart) == reference.shape[1]
    assert shells.spherical == (not cart)
    np.testing.assert_allclose(_numpy_ao_values(shells, coords), reference, rtol=0, atol=1e-12)


def test_cartesian_components_match_pyscf_cart_for_spherical_mol():
    mol = _mol("O 0 0 0; H 0 1.4 1.1", "cc-pvtz", spin=1)
    shells = basis_shells_from_mol(mol)
    cart_mol = _mol("O 0 0 0; H 0 1.4 1.1", "cc-pvtz", cart=True, spin=1)
    cart_shells = basis_shells_from_mol(cart_mol)
    np.testing.assert_array_equal(shells.coefficients, cart_shells.coefficients)
    np.testing.assert_array_equal(shells.angular, cart_shells.angular)


def test_layout_and_properties():
    mol = _mol("O 0 0 0; H 0 1.4 1.1", "cc-pvtz", spin=1)
    shells = basis_shells_from_mol(mol)
    # general contractions are expanded: one shell per contraction
    assert shells.nshell == int(sum(mol.bas_nctr(i) for i in range(mol.nbas)))
    assert shells.nprim == len(shells.exponents) == len(shells.coefficients) == sum(shells.shell_nprim)
    assert shells.centers.shape == (shells.nshell, 3)
    assert shells.max_l == 3
    assert shells.ao_offsets[-1] == shells.nao == mol.nao
    for field in ("angular", "prim_offsets", "ao_offsets"):
        assert isinstance(getattr(shells, field), tuple)
    hash((shells.angular, shells.prim_offsets, shells.ao_offsets, shells.spherical, shells.nao))


def test_pytree_arrays_are_children_layout_is_static():
    shells = basis_shells_from_mol(_mol(WATER, "sto-3g"))
    leaves, treedef = jax.tree_util.tree_flatten(shells)
    assert len(leaves) == 3
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(shells)[0]]
    assert paths == [".centers", ".exponents", ".coefficients"]
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert rebuilt.angular == shells.angular and rebuilt.nao == shells.nao

    @jax.jit
    def shifted_centers(basis):
        assert isinstance(basis.nao, int)  # static under jit
        return basis.centers + 1.0

    np.testing.assert_allclose(shifted_centers(shells), shells.centers + 1.0)


def _harmonic_defect(coefficients, powers):
    """Largest coefficient of the Laplacian of the polynomial sum_c coefficients[c] x^a y^b z^c."""
    laplacian = {}
    for coefficient, power in zip(coefficients, powers):
        for axis in range(3):
            if power[axis] >= 2:
                lowered = tuple(int(p) - 2 * (i == axis) for i, p in enumerate(power))
                laplacian[lowered] = laplacian.get(lowered, 0.0) + coefficient * power[axis] * (power[axis] - 1)
    return max((abs(v) for v in laplacian.values()), default=0.0)


@pytest.mark.parametrize("l", range(5))
def test_cart_to_sph_columns_are_independent_harmonic_polynomials(l):
    matrix = cart_to_sph_matrix(l)
    assert matrix.shape == ((l + 1) * (l + 2) // 2, 2 * l + 1)
    assert np.linalg.matrix_rank(matrix) == 2 * l + 1
    powers = cartesian_powers(l)
    for column in matrix.T:
        assert _harmonic_defect(column, powers) < 1e-12 * np.abs(column).max()
    if l <= 1:  # s and p: libcint's factors sit in the cartesian functions; p order px, py, pz
        np.testing.assert_array_equal(matrix, np.eye(2 * l + 1))


def test_cart_to_sph_is_read_only_and_checks_l():
    with pytest.raises(ValueError):
        cart_to_sph_matrix(2)[0, 0] = 1.0
    for bad in (-1, 5, 1.0, True):
        with pytest.raises(ValueError, match="angular momentum"):
            cart_to_sph_matrix(bad)


def test_cartesian_powers_pyscf_order():
    assert cartesian_powers(2).tolist() == [[2, 0, 0], [1, 1, 0], [1, 0, 1], [0, 2, 0], [0, 1, 1], [0, 0, 2]]


def test_bad_inputs():
    with pytest.raises(TypeError, match="pyscf.gto.Mole"):
        basis_shells_from_mol("water")
    with pytest.raises(ValueError, match="nao"):
        BasisShells(np.zeros((1, 3)), np.ones(1), np.ones(1), (0,), (0, 1), (0, 1), True, 2)
    with pytest.raises(ValueError, match="spans"):
        BasisShells(np.zeros((1, 3)), np.ones(1), np.ones(1), (1,), (0, 1), (0, 1), True, 1)


@pytest.mark.parametrize("l", range(5))
def test_the_ops_spherical_table_is_pyscfs_transform(l):
    # qpt.ops holds the transform as data (no PySCF below the system layer); it must be PySCF's, bit for bit.
    np.testing.assert_array_equal(cart_to_sph_matrix(l), np.asarray(gto.mole.cart2sph(l, normalized="sp")))
