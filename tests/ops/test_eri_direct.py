"""The integral-direct engine's math against independent references: the Boys function against closed
forms (scipy's regularised incomplete gamma, a Taylor series at small T), shell-quartet ERIs against
libcint (`mol.intor('int2e', shls_slice=...)`) for every shell class up to (ff|ff)."""
import itertools
import math

import numpy as np
import pytest
from pyscf import gto
from scipy.special import gamma, gammainc

import qpt_kernels._eri_probes as kernels
from qpt.ops._basis_args import sph_table
from qpt.system.basis import basis_shells_from_mol

WATER = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"
# Off-axis, so no quartet class is zero by symmetry.
FORMALDEHYDE = "C 0.02 -0.01 -0.53; O -0.03 0.02 0.68; H 0.05 0.94 -1.12; H -0.04 -0.93 -1.13"


def _boys_reference(m, t):
    """F_m(T) = int_0^1 x^(2m) exp(-T x^2) dx: a Taylor series for small T, the incomplete gamma otherwise."""
    if t < 0.5:
        return math.fsum((-t) ** k / (math.factorial(k) * (2 * m + 2 * k + 1)) for k in range(40))
    return gamma(m + 0.5) * gammainc(m + 0.5, t) / (2 * t ** (m + 0.5))


@pytest.mark.parametrize("use_table", [True, False], ids=["table", "series"])
@pytest.mark.parametrize("m_max", [0, 1, 4, 8, 12, 16])
def test_boys_function_matches_closed_forms(m_max, use_table):
    switch = 3.0 + 1.5 * m_max  # series below, erf + upward recursion above (qpt/boys.h)
    t_values = np.array([0.0, 1e-10, 1e-3, 0.3, 0.49, 0.51, 1.0, 3.7, 10.0, 17.3, 25.0, 36.0, 48.0, 100.0, 700.0,
                         switch * (1 - 1e-12), switch, switch * (1 + 1e-12)])
    # Points between the table's grid points (step 0.1) are where its Taylor expansion is weakest.
    t_values = np.concatenate([t_values, np.arange(0.05, switch, 0.37)])
    values = kernels.boys(m_max, t_values, use_table)
    for (i, t), m in itertools.product(enumerate(t_values), range(m_max + 1)):
        reference = _boys_reference(m, t)
        assert abs(values[i, m] - reference) <= 2e-14 * reference, (m, t, values[i, m], reference)


def test_boys_function_rejects_bad_order():
    with pytest.raises(ValueError):
        kernels.boys(17, np.array([1.0]))


def _quartets(mol, basis, shells):
    blocks = kernels.eri_quartets(basis.centers, basis.exponents, basis.coefficients, sph_table("float64"),
                                  list(basis.angular), list(basis.prim_offsets), basis.spherical, np.array(shells))
    worst = 0.0
    for q, block in zip(shells, blocks):
        reference = mol.intor("int2e", shls_slice=tuple(x for s in q for x in (s, s + 1)))
        assert block.shape == reference.shape
        worst = max(worst, float(np.max(np.abs(block - reference))))
    return worst


@pytest.mark.parametrize("cart", [False, True], ids=["spherical", "cartesian"])
def test_every_shell_class_up_to_ffff_matches_libcint(cart):
    mol = gto.M(atom=FORMALDEHYDE, basis="def2-tzvp", cart=cart)
    basis = basis_shells_from_mol(mol)
    assert basis.nshell == mol.nbas  # segmented basis: shell indices are libcint's
    rng = np.random.default_rng(1)
    by_l = {l: [s for s in range(mol.nbas) if mol.bas_angular(s) == l] for l in range(4)}
    assert all(by_l.values())
    shells = []
    for classes in itertools.product(range(4), repeat=4):
        # Two random representatives of each of the 256 classes (ab|cd), centres mixed at random.
        for _ in range(2):
            shells.append([int(rng.choice(by_l[l])) for l in classes])
    assert _quartets(mol, basis, shells) < 1e-10


def test_contracted_shells_and_coincident_centres_match_libcint():
    mol = gto.M(atom=WATER, basis="def2-svp")
    basis = basis_shells_from_mol(mol)
    shells = [[a, a, a, a] for a in range(mol.nbas)] + [[0, 1, 0, 1], [2, 0, 5, 3], [mol.nbas - 1, 0, 0, 3]]
    assert _quartets(mol, basis, shells) < 1e-11


def test_eri_quartets_rejects_out_of_range_shells():
    mol = gto.M(atom=WATER, basis="sto-3g")
    basis = basis_shells_from_mol(mol)
    with pytest.raises(ValueError):
        kernels.eri_quartets(basis.centers, basis.exponents, basis.coefficients, sph_table("float64"),
                             list(basis.angular), list(basis.prim_offsets), True, np.array([[0, 0, 0, mol.nbas]]))
