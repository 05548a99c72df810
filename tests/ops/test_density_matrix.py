"""density_matrix: PySCF's make_rdm1, gradients against finite differences (also at exact degeneracies, where
autodiff through jnp.linalg.eigh fails), smearing, batching, transforms and bad input."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from jax.test_util import check_grads
from pyscf import gto, scf

from qpt.ops.density_matrix import density_matrix
from qpt.ops.reference.density_matrix import density_matrix as eigh_autodiff_density_matrix

WATER = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"


def _methane():
    a = 1.087 / np.sqrt(3)  # Td: the 1t2 orbitals are exactly threefold degenerate
    return [["C", (0, 0, 0)], ["H", (a, a, a)], ["H", (-a, -a, a)], ["H", (-a, a, -a)], ["H", (a, -a, -a)]]


def _nitrogen():
    return [["N", (0, 0, -0.549)], ["N", (0, 0, 0.549)]]  # D_inf_h: pi_u and pi_g pairs


def _benzene():
    atoms = []
    for k in range(6):  # D6h: e1g, e2g, e1u, e2u pairs
        angle = np.pi / 3 * k
        atoms.append(["C", (1.397 * np.cos(angle), 1.397 * np.sin(angle), 0)])
        atoms.append(["H", (2.481 * np.cos(angle), 2.481 * np.sin(angle), 0)])
    return atoms


def _cholesky_orthogonalizer(overlap):
    return np.linalg.inv(np.linalg.cholesky(overlap)).T


def _lowdin_orthogonalizer(overlap):
    values, vectors = np.linalg.eigh(overlap)
    return (vectors / np.sqrt(values)) @ vectors.T


@functools.lru_cache(maxsize=None)
def _system(atom_name, basis, matrix, orthogonalizer):
    """(F, X, S, n_occ) from PySCF: the core Hamiltonian, the minao-guess Fock or the converged RHF Fock."""
    atom = {"water": WATER, "methane": _methane(), "nitrogen": _nitrogen(), "benzene": _benzene()}[atom_name]
    mol = gto.M(atom=atom, basis=basis, verbose=0)
    overlap = mol.intor("int1e_ovlp")
    mf = scf.RHF(mol)
    if matrix == "hcore":
        fock = mf.get_hcore()
    elif matrix == "minao":
        fock = mf.get_fock(dm=scf.hf.init_guess_by_minao(mol))
    else:
        mf.kernel()
        fock = mf.get_fock()
    x = {"cholesky": _cholesky_orthogonalizer, "lowdin": _lowdin_orthogonalizer}[orthogonalizer](overlap)
    return fock, x, overlap, mol.nelectron // 2


def _symmetric(rng, n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a + np.swapaxes(a, -1, -2)


def _loss_of_d(weights):
    # F enters symmetrised, so check_grads' non-symmetric probes stay valid inputs.
    def loss(fock, x, n_occ, function, **options):
        fock = (fock + jnp.swapaxes(fock, -1, -2)) / 2
        return jnp.sum(jnp.sin(function(fock, x, n_occ, **options)[0]) * weights)
    return loss


def _loss_of_eps(fock, x, n_occ, function, **options):
    # Orbitals up to LUMO+1 only: water's higher virtuals come in close pairs (1.6 mHa apart in 6-31g),
    # whose large second derivatives would swamp the finite differences.
    fock = (fock + jnp.swapaxes(fock, -1, -2)) / 2
    eps = function(fock, x, n_occ, **options)[1][..., :n_occ + 2]
    return jnp.sum(jnp.cos(eps) * jnp.arange(1, n_occ + 3))


def _loss_of_c(projector):
    """Gauge-invariant in C (signs only, which is all a non-degenerate spectrum leaves free)."""
    def loss(fock, x, n_occ, function, **options):
        fock = (fock + jnp.swapaxes(fock, -1, -2)) / 2
        c = function(fock, x, n_occ, **options)[2][..., :n_occ + 2]  # well separated orbitals, as for eps
        expectation = jnp.einsum("...ik,ij,...jk->...k", c, projector, c)
        return jnp.sum(jnp.arange(1, n_occ + 3) * expectation ** 2)
    return loss


def _bound(loss, n_occ, function=density_matrix, **options):
    """loss(F, X) for one n_occ and one implementation, jitted: finite differences call it many times."""
    return jax.jit(lambda fock, x: loss(fock, x, n_occ, function, **options))


def _directional_derivative(function, point, direction, step=1e-4):
    """Fourth-order central difference of `function` along `direction` (normalised here)."""
    direction = direction / np.linalg.norm(direction)
    at = lambda t: function(point + t * direction)  # noqa: E731
    return (8 * (at(step) - at(-step)) - (at(2 * step) - at(-2 * step))) / (12 * step)


def _unit(direction):
    return direction / np.linalg.norm(direction)


# --- forward against PySCF -------------------------------------------------------------------------------

@pytest.mark.parametrize("matrix", ["hcore", "minao"])
def test_matches_pyscf_make_rdm1(matrix):
    fock, x, overlap, n_occ = _system("water", "def2-svp", matrix, "cholesky")
    energies, mo_coeff = scipy.linalg.eigh(fock, overlap)
    mo_occ = np.zeros_like(energies)
    mo_occ[:n_occ] = 2
    D, eps, C = density_matrix(fock, x, n_occ)
    np.testing.assert_allclose(D, scf.hf.make_rdm1(mo_coeff, mo_occ), rtol=0, atol=1e-10)
    np.testing.assert_allclose(eps, energies, rtol=0, atol=1e-10)
    # Same orbitals up to sign (water's spectrum is non-degenerate).
    np.testing.assert_allclose(np.abs(np.asarray(C).T @ overlap @ mo_coeff), np.eye(len(energies)), atol=1e-9)


def test_float32_in_float32_out():
    fock, x, overlap, n_occ = _system("water", "def2-svp", "minao", "cholesky")
    D64, eps64, _ = density_matrix(fock, x, n_occ)
    fock32, x32 = fock.astype(np.float32), x.astype(np.float32)
    D, eps, C = density_matrix(fock32, x32, n_occ)
    assert D.dtype == eps.dtype == C.dtype == jnp.float32
    assert np.max(np.abs(D - D64)) < 1e-4 and np.max(np.abs(eps - eps64)) < 1e-4
    grad_f, grad_x = jax.grad(_bound(_loss_of_d(np.ones_like(x32)), n_occ), argnums=(0, 1))(fock32, x32)
    grad_f64 = jax.grad(_bound(_loss_of_d(np.ones_like(x)), n_occ))(fock, x)
    assert grad_f.dtype == grad_x.dtype == jnp.float32
    assert np.max(np.abs(grad_f - grad_f64)) < 1e-3 * np.max(np.abs(grad_f64))


# --- gradients -------------------------------------------------------------------------------------------

# check_grads' second-order central differences need a smaller step than its default 1e-4 to resolve these
# losses (the core orbital sits at -20.8 Ha) to its 1e-5 tolerance.
FD_STEP = 1e-5


@pytest.mark.parametrize("smearing", [None, 0.05])
def test_gradients_of_d_and_eps_pass_check_grads_to_second_order(smearing):
    fock, x, _, n_occ = _system("water", "6-31g", "minao", "cholesky")
    loss_of_d = _loss_of_d(_symmetric(np.random.default_rng(0), len(fock)))

    def loss(*arguments, **options):  # one scalar exercising both D's and eps's VJP
        return loss_of_d(*arguments, **options) + _loss_of_eps(*arguments, **options)

    check_grads(_bound(loss, n_occ, smearing_temperature=smearing), (fock, x), order=2, modes=["rev"],
                eps=FD_STEP)


def test_gradient_of_c_passes_check_grads():
    fock, x, _, n_occ = _system("water", "6-31g", "minao", "cholesky")
    projector = _symmetric(np.random.default_rng(1), len(fock)) / len(fock)
    check_grads(_bound(_loss_of_c(projector), n_occ), (fock, x), order=2, modes=["rev"], eps=FD_STEP)


def test_gradients_equal_eigh_autodiff_without_degeneracy():
    fock, x, _, n_occ = _system("water", "def2-svp", "minao", "cholesky")
    rng = np.random.default_rng(2)
    losses = [_loss_of_d(_symmetric(rng, len(fock))), _loss_of_eps,
              _loss_of_c(_symmetric(rng, len(fock)) / len(fock))]
    for loss in losses:
        ours = jax.grad(_bound(loss, n_occ), argnums=(0, 1))(fock, x)
        theirs = jax.grad(_bound(loss, n_occ, eigh_autodiff_density_matrix), argnums=(0, 1))(fock, x)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9 * np.max(np.abs(b)))


# Symmetric molecules whose occupied and virtual spaces both hold exactly degenerate sets, with the HOMO-LUMO
# gap open, so D is smooth and finite differences are meaningful. Cholesky and Loewdin orthogonalisers
# both appear; with these inputs this machine's LAPACK returns bit-equal eigenvalues for benzene.
DEGENERATE = [("benzene", "sto-3g", "hcore", "cholesky"), ("methane", "sto-3g", "rhf", "lowdin"),
              ("nitrogen", "6-31g", "rhf", "lowdin")]


def _degenerate_case(case):
    fock, x, _, n_occ = _system(*case)
    eps = np.linalg.eigvalsh(x.T @ fock @ x)
    assert np.any(np.abs(np.diff(eps[:n_occ])) < 1e-10), "the occupied space should hold a degenerate set"
    assert np.any(np.abs(np.diff(eps[n_occ:])) < 1e-10), "the virtual space should hold a degenerate set"
    assert eps[n_occ] - eps[n_occ - 1] > 1e-2
    return fock, x, n_occ


@pytest.mark.parametrize("case", DEGENERATE, ids=lambda c: c[0])
def test_degenerate_orbitals_give_gradients_equal_to_finite_differences(case):
    fock, x, n_occ = _degenerate_case(case)
    rng = np.random.default_rng(3)
    loss = _bound(_loss_of_d(_symmetric(rng, len(fock))), n_occ)
    grad_f, grad_x = jax.grad(loss, argnums=(0, 1))(fock, x)
    assert np.all(np.isfinite(grad_f)) and np.all(np.isfinite(grad_x))
    direction = _symmetric(rng, len(fock))
    np.testing.assert_allclose(np.sum(grad_f * _unit(direction)),
                               _directional_derivative(lambda f: loss(f, x), fock, direction), rtol=1e-6)
    direction = rng.standard_normal(x.shape)
    np.testing.assert_allclose(np.sum(grad_x * _unit(direction)),
                               _directional_derivative(lambda xx: loss(fock, xx), x, direction), rtol=1e-6)


@pytest.mark.parametrize("case", DEGENERATE, ids=lambda c: c[0])
def test_eigh_autodiff_fails_on_the_same_molecules(case):
    """Autodiff through eigh divides by eps_i - eps_j inside a degenerate set: inf/NaN when the eigensolver
    returns bit-equal eigenvalues (benzene here), else ~1/1e-16 times rounding noise, i.e. a wrong gradient
    (0.1-10% off in these cases). Which of the two happens depends on the LAPACK build, so either counts."""
    fock, x, n_occ = _degenerate_case(case)
    loss = _loss_of_d(_symmetric(np.random.default_rng(3), len(fock)))
    ours = jax.grad(_bound(loss, n_occ))(fock, x)  # checked against finite differences above
    theirs = jax.grad(_bound(loss, n_occ, eigh_autodiff_density_matrix))(fock, x)
    assert not np.all(np.isfinite(theirs)) or np.max(np.abs(theirs - ours)) > 1e-4 * np.max(np.abs(ours))


def test_exactly_tied_eigenvalues_make_eigh_autodiff_nan_but_not_the_op():
    """A diagonal F' gives bit-equal eigenvalues on any eigensolver: the deterministic version of the above."""
    fock = np.diag([-2.0, -1.0, -1.0, -1.0, 0.5, 1.5, 1.5])  # p-like triple occupied, a pair virtual
    weights = _symmetric(np.random.default_rng(10), 7)
    loss = _loss_of_d(weights)
    theirs = jax.grad(_bound(loss, 4, eigh_autodiff_density_matrix))(fock, np.eye(7))
    assert not np.all(np.isfinite(theirs))
    bound = _bound(loss, 4)
    ours = jax.grad(bound)(fock, np.eye(7))
    assert np.all(np.isfinite(ours))
    direction = _symmetric(np.random.default_rng(11), 7)
    np.testing.assert_allclose(np.sum(ours * _unit(direction)),
                               _directional_derivative(lambda f: bound(f, np.eye(7)), fock, direction), rtol=1e-7)


@pytest.mark.parametrize("case", DEGENERATE[1:], ids=lambda c: c[0])
def test_second_order_is_finite_and_correct_at_degeneracy(case):
    """Hessian-vector products in F and X against finite differences of the gradient."""
    fock, x, n_occ = _degenerate_case(case)
    rng = np.random.default_rng(4)
    loss = _loss_of_d(_symmetric(rng, len(fock)))
    direction_f, direction_x = _symmetric(rng, len(fock)), rng.standard_normal(x.shape)

    @jax.jit
    def directional(f, xx):
        grad_f, grad_x = jax.grad(lambda a, b: loss(a, b, n_occ, density_matrix), argnums=(0, 1))(f, xx)
        return jnp.sum(grad_f * direction_f) + jnp.sum(grad_x * direction_x)

    hessian_f, hessian_x = jax.grad(directional, argnums=(0, 1))(fock, x)
    assert np.all(np.isfinite(hessian_f)) and np.all(np.isfinite(hessian_x))
    probe = _symmetric(rng, len(fock))
    np.testing.assert_allclose(np.sum(hessian_f * _unit(probe)),
                               _directional_derivative(lambda f: directional(f, x), fock, probe), rtol=1e-6)
    probe = rng.standard_normal(x.shape)
    np.testing.assert_allclose(np.sum(hessian_x * _unit(probe)),
                               _directional_derivative(lambda xx: directional(fock, xx), x, probe), rtol=1e-6)


def test_closing_gap_is_regularised_by_lorentzian_broadening():
    """With F' diagonal, dD[h, l]/dF[h, l] = (e_h - e_l) / ((e_h - e_l)^2 + gap_epsilon^2) for HOMO h and
    LUMO l: exactly 1/(e_h - e_l) up to the broadening, 0 for a closed gap, never inf/NaN."""
    epsilon = 1e-3

    def loss(f, function=density_matrix):
        return function(f, np.eye(5), 3, gap_epsilon=epsilon)[0][2, 3]

    for gap, expected in [(0.0, 0.0), (epsilon, -1 / (2 * epsilon)), (0.3, -0.3 / (0.09 + epsilon ** 2))]:
        fock = np.diag([-1.0, -0.5, 0.2, 0.2 + gap, 1.0])
        grad = jax.grad(loss)(fock)
        np.testing.assert_allclose(grad[2, 3], expected, rtol=1e-12)
        assert np.all(np.isfinite(grad))
        if gap == 0.0:
            assert not np.all(np.isfinite(jax.grad(loss)(fock, eigh_autodiff_density_matrix)))


# --- smearing --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [1e-3, 0.05, 1.0])
def test_smearing_conserves_the_electron_count(temperature):
    fock, x, overlap, n_occ = _system("water", "6-31g", "minao", "cholesky")

    @jax.jit
    def electrons(f):
        return jnp.trace(density_matrix(f, x, n_occ, smearing_temperature=temperature)[0] @ overlap)

    np.testing.assert_allclose(electrons(fock), 2 * n_occ, rtol=1e-12)
    # ... and so the count's gradient, through the chemical potential, vanishes.
    assert np.max(np.abs(jax.grad(electrons)(fock))) < 1e-10


def test_smearing_zero_temperature_limit_is_integer_occupation():
    fock, x, _, n_occ = _system("water", "6-31g", "minao", "cholesky")
    loss = _loss_of_d(_symmetric(np.random.default_rng(5), len(fock)))
    cold, integer = _bound(loss, n_occ, smearing_temperature=1e-4), _bound(loss, n_occ)
    np.testing.assert_allclose(density_matrix(fock, x, n_occ, smearing_temperature=1e-4)[0],
                               density_matrix(fock, x, n_occ)[0], atol=1e-12)
    for a, b in zip(jax.grad(cold, argnums=(0, 1))(fock, x), jax.grad(integer, argnums=(0, 1))(fock, x)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_smearing_gradient_equals_eigh_autodiff_and_finite_differences():
    fock, x, _, n_occ = _system("water", "6-31g", "minao", "cholesky")
    rng = np.random.default_rng(6)
    loss = _loss_of_d(_symmetric(rng, len(fock)))
    ours = jax.grad(_bound(loss, n_occ, smearing_temperature=0.1), argnums=(0, 1))(fock, x)
    theirs = jax.grad(_bound(loss, n_occ, eigh_autodiff_density_matrix, smearing_temperature=0.1),
                      argnums=(0, 1))(fock, x)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10 * np.max(np.abs(b)))
    direction = _symmetric(rng, len(fock))
    bound = _bound(loss, n_occ, smearing_temperature=0.1)
    np.testing.assert_allclose(np.sum(ours[0] * _unit(direction)),
                               _directional_derivative(lambda f: bound(f, x), fock, direction), rtol=1e-6)


def test_smearing_partially_filled_degenerate_shell():
    """Methane with 8 electrons: the t2 shell holds 4 of 6, so the Fermi level sits in a degenerate set and
    the divided differences take their df/de limit."""
    fock, x, _, _ = _system("methane", "sto-3g", "rhf", "lowdin")
    rng = np.random.default_rng(7)
    loss = _bound(_loss_of_d(_symmetric(rng, len(fock))), 4, smearing_temperature=0.02)
    grad = jax.grad(loss)(fock, x)
    assert np.all(np.isfinite(grad))
    for _ in range(2):
        direction = _symmetric(rng, len(fock))
        np.testing.assert_allclose(np.sum(grad * _unit(direction)),
                                   _directional_derivative(lambda f: loss(f, x), fock, direction), rtol=1e-6)


# --- batching and transforms -----------------------------------------------------------------------------

def test_batch_of_conformers_matches_one_at_a_time():
    fock, x, _, n_occ = _system("water", "6-31g", "minao", "cholesky")
    rng = np.random.default_rng(8)
    focks = fock + 0.05 * _symmetric(rng, len(fock), batch=(3,))
    xs = x + 0.01 * rng.standard_normal((3,) + x.shape)
    loss = _bound(_loss_of_d(_symmetric(rng, len(fock))), n_occ)
    for x_batch in (x, xs):
        D, eps, C = density_matrix(focks, x_batch, n_occ)
        grad_f, grad_x = jax.grad(loss, argnums=(0, 1))(focks, x_batch)
        assert grad_x.shape == x_batch.shape
        grad_x_sum = 0
        for b in range(3):
            x_b = x_batch if x_batch.ndim == 2 else x_batch[b]
            single = density_matrix(focks[b], x_b, n_occ)
            np.testing.assert_allclose(D[b], single[0], atol=1e-12)
            np.testing.assert_allclose(eps[b], single[1], atol=1e-12)
            g_f, g_x = jax.grad(loss, argnums=(0, 1))(focks[b], x_b)
            np.testing.assert_allclose(grad_f[b], g_f, atol=1e-10)
            grad_x_sum = grad_x_sum + g_x
            if x_batch.ndim == 3:
                np.testing.assert_allclose(grad_x[b], g_x, atol=1e-10)
        if x_batch.ndim == 2:
            np.testing.assert_allclose(grad_x, grad_x_sum, atol=1e-10)


def test_jit_vmap_and_no_forward_mode():
    fock, x, _, n_occ = _system("water", "6-31g", "minao", "cholesky")
    focks = fock + 0.05 * _symmetric(np.random.default_rng(9), len(fock), batch=(2,))
    batched = density_matrix(focks, x, n_occ, smearing_temperature=0.05)
    mapped = jax.jit(jax.vmap(lambda f: density_matrix(f, x, n_occ, smearing_temperature=0.05)))(focks)
    for a, b in zip(batched, mapped):
        np.testing.assert_allclose(a, b, atol=1e-12)
    loss = _bound(_loss_of_d(np.ones_like(fock)), n_occ)
    per_item = jax.jit(jax.vmap(jax.grad(loss), in_axes=(0, None)))(focks, x)
    np.testing.assert_allclose(per_item, jax.grad(loss)(focks, x), atol=1e-12)
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda f: density_matrix(f, x, n_occ)[0], (fock,), (fock,))


# --- bad input -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arguments,keywords,error,match", [
    ((np.ones((3, 4)), np.eye(3), 1), {}, ValueError, "F must be square"),
    ((np.eye(3), np.ones((3, 2)), 1), {}, ValueError, "X must be square"),
    ((np.eye(3), np.eye(4), 1), {}, ValueError, "F is 3x3 but X is 4x4"),
    ((np.ones((2, 3, 3)), np.ones((4, 3, 3)), 1), {}, ValueError, "batch shape"),
    ((np.eye(3), np.eye(3, dtype=np.float32), 1), {}, TypeError, "share one dtype"),
    ((np.eye(3, dtype=np.int32), np.eye(3, dtype=np.int32), 1), {}, TypeError, "float32 or float64"),
    ((np.eye(3), np.eye(3), 0), {}, ValueError, "n_occ must lie in 1..2"),
    ((np.eye(3), np.eye(3), 3), {}, ValueError, "n_occ must lie in 1..2"),
    ((np.eye(3), np.eye(3), 1.0), {}, TypeError, "n_occ must be a static int"),
    ((np.eye(3), np.eye(3), True), {}, TypeError, "n_occ must be a static int"),
    ((np.eye(3), np.eye(3), 1), {"smearing_temperature": 0.0}, ValueError, "smearing_temperature must be"),
    ((np.eye(3), np.eye(3), 1), {"smearing_temperature": jnp.float64(0.1)}, TypeError, "static Python float"),
    ((np.eye(3), np.eye(3), 1), {"gap_epsilon": -1e-6}, ValueError, "gap_epsilon must be"),
    ((np.triu(np.ones((3, 3))), np.eye(3), 1), {}, ValueError, "F must be symmetric"),
])
@pytest.mark.parametrize("function", [density_matrix, eigh_autodiff_density_matrix], ids=["op", "reference"])
def test_bad_input_raises_clear_errors(function, arguments, keywords, error, match):
    with pytest.raises(error, match=match):
        function(*arguments, **keywords)
