import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyscf import dft, gto
from pyscf.scf.hf import init_guess_by_minao

from qpt.system import BasisShells, Grid, Molecule, System

# (molecule, basis, grid level, spherical): every basis the project uses, both AO conventions,
# and molecules with C, N, O, H; kept small so the whole file runs in seconds.
CASES = [
    ("water", "sto-3g", 0, True),
    ("water", "6-31g*", 1, True),
    ("water", "6-31g*", 0, False),
    ("water", "def2-svp", 0, True),
    ("ethanol", "sto-3g", 0, True),
    ("ethanol", "6-31g*", 0, True),
    ("uracil", "sto-3g", 0, True),
]


@pytest.fixture(scope="module", params=CASES, ids=lambda case: "-".join(map(str, case)))
def built(request):
    name, basis, level, spherical = request.param
    molecule = Molecule.from_catalog(name)
    system = System.from_molecule(molecule, basis=basis, grid_level=level, spherical=spherical)
    # The reference Mole is built directly, not through Molecule.to_pyscf.
    mol = gto.M(atom=[(s, tuple(p)) for s, p in zip(molecule.symbols, molecule.coordinates)],
                unit="Bohr", basis=basis, cart=not spherical, verbose=0)
    return system, mol, level


@pytest.fixture(scope="module")
def water():
    return System.from_molecule("water", basis="sto-3g", grid_level=0)


def test_one_electron_integrals_match_pyscf(built):
    system, mol, _ = built
    tol = dict(rtol=0, atol=1e-12)
    np.testing.assert_allclose(system.overlap, mol.intor("int1e_ovlp"), **tol)
    np.testing.assert_allclose(system.kinetic, mol.intor("int1e_kin"), **tol)
    np.testing.assert_allclose(system.nuclear, mol.intor("int1e_nuc"), **tol)
    np.testing.assert_allclose(system.core_hamiltonian, mol.intor("int1e_kin") + mol.intor("int1e_nuc"), **tol)
    np.testing.assert_allclose(system.nuclear_repulsion, mol.energy_nuc(), rtol=1e-14, atol=0)
    assert system.nuclear_repulsion.shape == ()


def test_eri_match_pyscf_packed_s8(built):
    system, mol, _ = built
    npair = mol.nao * (mol.nao + 1) // 2
    assert system.eri.shape == (npair * (npair + 1) // 2,)
    np.testing.assert_allclose(system.eri, mol.intor("int2e", aosym="s8"), rtol=0, atol=1e-12)


def test_grid_is_what_pyscf_rks_uses(built):
    system, mol, level = built
    mf = dft.RKS(mol)
    mf.grids.level = level
    mf.grids.build(with_non0tab=True)  # as RKS.initialize_grids does
    assert isinstance(system.grid, Grid) and system.grid.level == system.grid_level == level
    np.testing.assert_array_equal(system.grid.coords, mf.grids.coords)
    np.testing.assert_array_equal(system.grid.weights, mf.grids.weights)


def test_minao_density_and_orthogonalizer(built):
    system, mol, _ = built
    np.testing.assert_allclose(system.minao_density, init_guess_by_minao(mol), rtol=0, atol=1e-12)
    x = system.orthogonalizer
    np.testing.assert_allclose(x.T @ system.overlap @ x, np.eye(mol.nao), rtol=0, atol=1e-10)
    assert np.allclose(np.triu(x), x), "X = inv(L).T is upper triangular"


def test_metadata(built):
    system, mol, _ = built
    assert system.nao == mol.nao
    assert system.n_electrons == mol.nelectron and system.n_occ == mol.nelectron // 2
    assert (system.charge, system.spin) == (0, 0)
    assert system.symbols == tuple(mol.atom_symbol(i) for i in range(mol.natm))
    np.testing.assert_array_equal(system.atom_coords, mol.atom_coords())
    np.testing.assert_array_equal(system.atom_charges, mol.atom_charges())
    assert isinstance(system.basis, BasisShells) and system.basis.nao == mol.nao
    assert system.basis.spherical == (not mol.cart)


def test_charged_closed_shell_system():
    # OH- : 10 electrons, closed shell with a charge.
    hydroxide = Molecule.from_atoms([("O", (0, 0, 0)), ("H", (0, 0, 0.97))], charge=-1)
    system = System.from_molecule(hydroxide, basis="sto-3g", grid_level=0)
    assert (system.charge, system.n_electrons, system.n_occ) == (-1, 10, 5)


def test_save_load_round_trip_is_exact(built, tmp_path):
    system, _, _ = built
    path = tmp_path / "system.npz"
    system.save(path)
    loaded = System.load(path)
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(system)
    for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(system)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    with np.load(path, allow_pickle=False) as file:
        assert all(file[name].dtype != object for name in file.files)
    assert os.listdir(tmp_path) == ["system.npz"], "no temporary file left behind"


def test_save_keeps_the_given_file_name(water, tmp_path):
    path = tmp_path / "water.qpt"
    water.save(str(path))
    water.save(path)  # overwrite in place
    assert os.listdir(tmp_path) == ["water.qpt"]
    assert System.load(path).summary() == water.summary()


def test_load_rejects_other_npz_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a qpt System file"):
        System.load(path)


def test_system_is_a_pytree(water):
    doubled = jax.tree_util.tree_map(lambda x: 2 * x, water)
    assert isinstance(doubled, System) and doubled.nao == water.nao
    np.testing.assert_array_equal(doubled.eri, 2 * water.eri)
    np.testing.assert_array_equal(doubled.grid.weights, 2 * water.grid.weights)

    @jax.jit
    def orthonormality_error(system):
        # nao is static metadata, so it is a Python int under jit.
        x = system.orthogonalizer
        return jnp.abs(x.T @ system.overlap @ x - jnp.eye(system.nao)).max()

    assert orthonormality_error(water) < 1e-10
    treedef = jax.tree_util.tree_structure(water)
    hash(treedef)
    again = System.from_molecule("water", basis="sto-3g", grid_level=0)
    assert jax.tree_util.tree_structure(again) == treedef


def test_float32_copy_via_tree_map(water):
    single = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float32), water)
    assert single.overlap.dtype == np.float32 and single.grid.weights.dtype == np.float32


def test_summary_and_nbytes(water):
    text = water.summary()
    assert "H2O" in text and "3 atoms" in text and "nao=7" in text and f"{water.grid.size} points" in text
    assert water.nbytes > water.eri.nbytes + water.grid.coords.nbytes


def test_molecule_round_trip(water):
    assert water.molecule == Molecule.from_catalog("water")


# ---- bad input ------------------------------------------------------------------------------------

def test_open_shell_is_rejected():
    with pytest.raises(ValueError, match="odd electron count 9.*closed-shell"):
        System.from_molecule(Molecule.from_catalog("water", charge=1, spin=1), basis="sto-3g")
    with pytest.raises(ValueError, match="spin \\(2S\\) 2.*closed-shell"):
        System.from_molecule(Molecule.from_catalog("water", spin=2), basis="sto-3g")


def test_unknown_basis_is_rejected():
    with pytest.raises(ValueError, match="unknown basis 'def2-nonsense'"):
        System.from_molecule("water", basis="def2-nonsense")
    with pytest.raises(ValueError, match="basis must be a PySCF basis name"):
        System.from_molecule("water", basis={"O": "sto-3g"})


@pytest.mark.parametrize("level", [-1, 10, 2.5, True])
def test_grid_level_out_of_range(level):
    with pytest.raises(ValueError, match="grid level"):
        System.from_molecule("water", basis="sto-3g", grid_level=level)


def test_unknown_molecule_name():
    with pytest.raises(ValueError, match="unknown molecule 'wtaer'"):
        System.from_molecule("wtaer")
