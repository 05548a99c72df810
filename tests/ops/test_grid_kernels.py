"""Native density-on-grid and potential-matrix kernels against PySCF (eval_rho, nr_rks with libxc), plus the
transpose identity, float32, batching, vmap, gradients, screening and bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from pyscf import dft, gto, scf
from pyscf.dft import numint

from qpt.ops.grid import density_on_grid, potential_matrix, screening_statistics
from qpt.ops.basis import BasisShells
from qpt.system.basis import basis_shells_from_mol
from qpt.system.grid import Grid

WATER = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"
AMMONIA = "N 0 0 0.1; H 0 0.94 -0.27; H 0.81 -0.47 -0.27; H -0.81 -0.47 -0.27"
ETHANOL = """C -0.0487 -0.3866 0.0; C 1.4203 0.0198 0.0; O -0.8161 0.8095 0.0;
H -0.3165 -0.9729 0.8837; H -0.3165 -0.9729 -0.8837; H 1.6626 0.6092 0.8847;
H 1.6626 0.6092 -0.8847; H 2.0447 -0.8741 0.0; H -1.7404 0.5331 0.0"""
# Two waters 12 Angstrom apart: most (shell, block) pairs are negligible.
WATER_PAIR = WATER + "; O 12 0 0.1173; H 12 0.7572 -0.4692; H 12 -0.7572 -0.4692"


def _case(atom, basis, level=0, points=None, cart=False):
    mol = gto.M(atom=atom, basis=basis, cart=cart)
    grid = Grid.from_pyscf(mol, level)
    if points is not None:
        grid = Grid(grid.coords[:points], grid.weights[:points], grid.level)
    return mol, basis_shells_from_mol(mol), grid, scf.hf.init_guess_by_minao(mol)


def _pyscf_rho(mol, grid, dm):
    ao = mol.eval_ao("GTOval_cart_deriv1" if mol.cart else "GTOval_sph_deriv1", grid.coords)
    rho = numint.eval_rho(mol, ao, dm, xctype="GGA")
    return rho[0], rho[1:].T


def _random_symmetric(n, batch=(), seed=0):
    d = np.random.default_rng(seed).standard_normal(batch + (n, n))
    return (d + np.swapaxes(d, -1, -2)) / 2


@pytest.mark.parametrize("atom,basis,level,points", [
    (WATER, "6-31g*", 1, None), (AMMONIA, "def2-svp", 1, None), (ETHANOL, "6-31g*", 0, None),
    (WATER, "cc-pvtz", 0, 1500), (WATER, "cc-pvqz", 0, 400)], ids=["water-6-31g*", "ammonia-def2-svp",
                                                                  "ethanol-6-31g*", "water-cc-pvtz", "water-cc-pvqz"])
def test_density_matches_pyscf_eval_rho(atom, basis, level, points):
    mol, shells, grid, dm = _case(atom, basis, level, points)
    rho, grad = jax.jit(lambda d: density_on_grid(shells, grid, d))(dm)
    rho_ref, grad_ref = _pyscf_rho(mol, grid, dm)
    np.testing.assert_allclose(rho, rho_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(grad, grad_ref, rtol=0, atol=1e-10)


def test_cartesian_basis_matches_pyscf():
    mol, shells, grid, dm = _case(WATER, "6-31g*", points=800, cart=True)
    assert not shells.spherical
    rho, grad = density_on_grid(shells, grid, dm)
    rho_ref, grad_ref = _pyscf_rho(mol, grid, dm)
    np.testing.assert_allclose(rho, rho_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(grad, grad_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("xc", ["lda,vwn", "pbe", "b3lyp5"])
@pytest.mark.parametrize("atom,basis", [(WATER, "def2-svp"), (ETHANOL, "6-31g*")],
                         ids=["water-def2-svp", "ethanol-6-31g*"])
def test_xc_energy_and_potential_match_nr_rks(atom, basis, xc):
    mol, shells, grid, dm = _case(atom, basis, level=1)
    grids = dft.gen_grid.Grids(mol)
    grids.level = 1
    grids.build()
    _, exc_ref, vxc_ref = numint.NumInt().nr_rks(mol, grids, xc, dm)

    rho, grad = density_on_grid(shells, grid, dm)
    rho, grad = np.asarray(rho), np.asarray(grad)
    gga = xc != "lda,vwn"
    exc, vxc = dft.libxc.eval_xc(xc, np.concatenate([rho[None], grad.T]) if gga else rho, deriv=1)[:2]
    w = grid.weights
    v_rho = w * vxc[0]
    v_grad = (2 * w * vxc[1])[:, None] * grad if gga else np.zeros_like(grad)
    vxc = potential_matrix(shells, grid, v_rho, v_grad)
    assert abs(np.sum(w * rho * exc) - exc_ref) < 1e-10
    np.testing.assert_allclose(vxc, vxc_ref, rtol=0, atol=1e-10)


def test_potential_matrix_is_the_transpose_of_density_on_grid():
    mol, shells, grid, _ = _case(AMMONIA, "def2-svp")
    rng = np.random.default_rng(1)
    d = _random_symmetric(mol.nao)
    v_rho, v_grad = rng.standard_normal(grid.size), rng.standard_normal((grid.size, 3))
    rho, grad = density_on_grid(shells, grid, d)
    vmat = potential_matrix(shells, grid, v_rho, v_grad)
    lhs = np.sum(v_rho * rho) + np.sum(v_grad * grad)
    scale = np.sum(np.abs(v_rho * rho)) + np.sum(np.abs(v_grad * grad))
    assert abs(lhs - np.sum(vmat * d)) < 1e-12 * scale
    np.testing.assert_allclose(vmat, vmat.T, rtol=0, atol=1e-13 * np.abs(vmat).max())
    # Only D's symmetric part enters.
    skew = np.triu(np.ones_like(d), 1) - np.tril(np.ones_like(d), -1)
    np.testing.assert_allclose(density_on_grid(shells, grid, d + skew)[0], rho, atol=1e-12)


def test_float32_relative_error():
    mol, shells, grid, dm = _case(ETHANOL, "6-31g*")
    rho_ref, grad_ref = _pyscf_rho(mol, grid, dm)
    rho, grad = density_on_grid(shells, grid, dm.astype(np.float32))
    assert rho.dtype == jnp.float32 and grad.dtype == jnp.float32
    assert np.max(np.abs(rho - rho_ref)) / np.max(np.abs(rho_ref)) < 1e-5
    assert np.linalg.norm(grad - grad_ref) / np.linalg.norm(grad_ref) < 1e-5
    # The largest gradient error sits at a grid point 1e-3 bohr from a carbon nucleus, where rounding the
    # coordinates to float32 (1e-7 bohr) times the 1s core's 2 alpha ~ 6000 shows up: ~1.4e-5 of the max.
    assert np.max(np.abs(grad - grad_ref)) / np.max(np.abs(grad_ref)) < 5e-5
    v_rho = grid.weights * np.exp(-np.abs(rho_ref))
    v_grad = grid.weights[:, None] * grad_ref * 1e-2
    vmat = potential_matrix(shells, grid, v_rho.astype(np.float32), v_grad.astype(np.float32))
    vmat_ref = potential_matrix(shells, grid, v_rho, v_grad)
    assert vmat.dtype == jnp.float32
    assert np.max(np.abs(vmat - vmat_ref)) / np.max(np.abs(vmat_ref)) < 1e-5


def test_batch_of_densities_and_potentials():
    mol, shells, grid, _ = _case(WATER, "6-31g*", points=700)
    d = _random_symmetric(mol.nao, batch=(2, 3))
    rho, grad = density_on_grid(shells, grid, d)
    assert rho.shape == (2, 3, grid.size) and grad.shape == (2, 3, grid.size, 3)
    for index in np.ndindex(2, 3):
        one_rho, one_grad = density_on_grid(shells, grid, d[index])
        np.testing.assert_allclose(rho[index], one_rho, rtol=0, atol=1e-12)
        np.testing.assert_allclose(grad[index], one_grad, rtol=0, atol=1e-12)
    vmat = potential_matrix(shells, grid, rho, grad)
    assert vmat.shape == (2, 3, mol.nao, mol.nao)
    np.testing.assert_allclose(vmat[1, 2], potential_matrix(shells, grid, rho[1, 2], grad[1, 2]), atol=1e-12)


def _two_conformers():
    mol_a, shells_a, grid, _ = _case(WATER, "6-31g", points=600)
    mol_b = gto.M(atom="O 0 0 0.13; H 0 0.78 -0.46; H 0 -0.74 -0.48", basis="6-31g")
    shells_b = basis_shells_from_mol(mol_b)
    stacked = jax.tree.map(lambda a, b: np.stack([a, b]), shells_a, shells_b)
    return (mol_a, mol_b), (shells_a, shells_b), stacked, grid


def test_batch_of_geometries_broadcasts_with_densities():
    (mol_a, mol_b), singles, stacked, grid = _two_conformers()
    d = _random_symmetric(mol_a.nao, batch=(2,))
    rho, grad = density_on_grid(stacked, grid, d)
    vmat = potential_matrix(stacked, grid, rho, grad)
    for k, shells in enumerate(singles):
        one_rho, one_grad = density_on_grid(shells, grid, d[k])
        np.testing.assert_allclose(rho[k], one_rho, atol=1e-12)
        np.testing.assert_allclose(grad[k], one_grad, atol=1e-12)
        np.testing.assert_allclose(vmat[k], potential_matrix(shells, grid, one_rho, one_grad), atol=1e-12)
    # One density for both geometries.
    rho_shared, _ = density_on_grid(stacked, grid, d[0])
    np.testing.assert_allclose(rho_shared[1], density_on_grid(singles[1], grid, d[0])[0], atol=1e-12)


def test_jit_and_vmap_agree_with_direct_call():
    mol, shells, grid, _ = _case(WATER, "6-31g", points=500)
    d = _random_symmetric(mol.nao, batch=(4,))
    rho, grad = density_on_grid(shells, grid, d)
    over_d = jax.jit(jax.vmap(lambda x: density_on_grid(shells, grid, x)))(d)
    nested = jax.vmap(jax.vmap(lambda x: density_on_grid(shells, grid, x)))(d.reshape((2, 2) + d.shape[1:]))
    np.testing.assert_allclose(over_d[0], rho, atol=1e-12)
    np.testing.assert_allclose(over_d[1], grad, atol=1e-12)
    np.testing.assert_allclose(nested[1].reshape(grad.shape), grad, atol=1e-12)
    # v_grad unbatched while v_rho is batched: the kernel broadcasts them against each other.
    zero_grad = np.zeros((grid.size, 3))
    vmats = jax.vmap(lambda v: potential_matrix(shells, grid, v, zero_grad))(rho)
    np.testing.assert_allclose(vmats[3], potential_matrix(shells, grid, rho[3], zero_grad), atol=1e-12)


def test_vmap_over_the_basis():
    (mol_a, _), singles, stacked, grid = _two_conformers()
    d = _random_symmetric(mol_a.nao)
    rho = jax.vmap(lambda b: density_on_grid(b, grid, d)[0])(stacked)
    for k, shells in enumerate(singles):
        np.testing.assert_allclose(rho[k], density_on_grid(shells, grid, d)[0], atol=1e-12)


def test_gradients_first_and_second_order():
    mol, shells, grid, dm = _case(WATER, "sto-3g", points=300)
    w = grid.weights

    def loss(x):
        x = (x + x.T) / 2
        rho, grad = density_on_grid(shells, grid, x)
        return jnp.sum(w * jnp.sin(rho)) + jnp.sum(w * jnp.sum(grad * grad, axis=-1) / (1 + rho ** 2))

    check_grads(loss, (dm,), order=2, modes=["rev"])
    rng = np.random.default_rng(2)
    v_rho, v_grad = rng.standard_normal(grid.size), rng.standard_normal((grid.size, 3))
    check_grads(lambda a, b: jnp.sum(jnp.tanh(potential_matrix(shells, grid, a, b))), (v_rho, v_grad),
                order=2, modes=["rev"])


def test_gradient_matches_pure_jax_reference():
    from qpt.ops.reference.grid import density_on_grid as reference_density_on_grid

    mol, shells, grid, dm = _case(WATER, "6-31g*", points=400)

    def loss(density_fn, x):
        rho, grad = density_fn(shells, grid, x)
        return jnp.sum(grid.weights * rho ** 2) + jnp.sum(jnp.cos(grad))

    grad_kernel = jax.grad(lambda x: loss(density_on_grid, x))(dm)
    grad_reference = jax.grad(lambda x: loss(reference_density_on_grid, x))(dm)
    np.testing.assert_allclose(grad_kernel, grad_reference, rtol=0, atol=1e-10)


def test_gradient_of_broadcast_density_sums_over_the_batch():
    (mol_a, _), _, stacked, grid = _two_conformers()
    d = _random_symmetric(mol_a.nao)
    grad = jax.grad(lambda x: jnp.sum(density_on_grid(stacked, grid, x)[0] ** 2))(d)
    grad_ref = sum(jax.grad(lambda x: jnp.sum(density_on_grid(b, grid, x)[0] ** 2))(d)
                   for b in (jax.tree.map(lambda a: a[k], stacked) for k in range(2)))
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-12, atol=1e-12)


def test_screening_skips_work_and_changes_results_below_1e_11():
    mol, shells, grid, dm = _case(WATER_PAIR, "6-31g*")
    stats = screening_statistics(shells, grid)
    assert stats["kept_shell_fraction"] < 0.75
    assert stats["kept_ao_pair_fraction"] < 0.6
    assert stats["kept_primitive_blocks"] < stats["kept_shell_blocks"] * 4
    unscreened = screening_statistics(shells, grid, screening_threshold=0.0)
    assert unscreened["kept_ao_pair_fraction"] == 1.0

    rho, grad = density_on_grid(shells, grid, dm)
    rho_all, grad_all = density_on_grid(shells, grid, dm, screening_threshold=0.0)
    assert np.max(np.abs(rho - rho_all)) < 1e-11
    assert np.max(np.abs(grad - grad_all)) < 1e-11
    v_rho, v_grad = grid.weights * np.asarray(rho_all), grid.weights[:, None] * np.asarray(grad_all)
    vmat = potential_matrix(shells, grid, v_rho, v_grad)
    assert np.max(np.abs(vmat - potential_matrix(shells, grid, v_rho, v_grad, screening_threshold=0.0))) < 1e-11


def _bad_basis(shells):
    return BasisShells(shells.centers, shells.exponents, shells.coefficients, (5,) + shells.angular[1:],
                       shells.prim_offsets, (0, 11) + tuple(o + 10 for o in shells.ao_offsets[2:]),
                       shells.spherical, shells.nao + 10)


@pytest.mark.parametrize("make,error,match", [
    (lambda s, g, d: (s, g, d[:-1, :-1]), ValueError, "D must be"),
    (lambda s, g, d: (s, g, d.astype(np.int32)), TypeError, "float32 or float64"),
    (lambda s, g, d: ("basis", g, d), TypeError, "BasisShells"),
    (lambda s, g, d: (s, g.coords, d), TypeError, "grid must have"),
    (lambda s, g, d: (s, Grid(g.coords[:, :2], g.weights, 0), d), ValueError, r"\[\.\.\., G, 3\]"),
    (lambda s, g, d: (s, Grid(g.coords, g.weights[:-1], 0), d), ValueError, "weights"),
    (lambda s, g, d: (s, g, np.stack([d] * 3)), None, None),
    (lambda s, g, d: (_bad_basis(s), g, np.zeros((s.nao + 10,) * 2)), ValueError, "l <= 4"),
], ids=["D-shape", "int-dtype", "not-basis", "not-grid", "coords-shape", "weights-shape", "valid-batch", "l=5"])
def test_density_bad_input_raises_before_the_kernel(make, error, match):
    _, shells, grid, dm = _case(WATER, "sto-3g", points=100)
    args = make(shells, grid, dm)
    if error is None:  # a valid batch, as a control
        assert density_on_grid(*args)[0].shape == (3, grid.size)
        return
    with pytest.raises(error, match=match):
        density_on_grid(*args)


@pytest.mark.parametrize("make,error,match", [
    (lambda v, g: (v[:-1], g[:-1]), ValueError, "v_rho must be"),
    (lambda v, g: (v, g[:, :2]), ValueError, "v_grad must be"),
    (lambda v, g: (v, g.astype(np.float32)), TypeError, "one dtype"),
    (lambda v, g: (np.stack([v] * 2), np.stack([g] * 2)[:, None]), ValueError, "v_grad must be"),
], ids=["v_rho-shape", "v_grad-shape", "mixed-dtype", "batch-mismatch"])
def test_potential_bad_input_raises_before_the_kernel(make, error, match):
    _, shells, grid, _ = _case(WATER, "sto-3g", points=100)
    v_rho, v_grad = np.ones(grid.size), np.ones((grid.size, 3))
    with pytest.raises(error, match=match):
        potential_matrix(shells, grid, *make(v_rho, v_grad))


def test_bad_threshold_and_mismatched_batches_raise():
    (mol_a, _), _, stacked, grid = _two_conformers()
    with pytest.raises(ValueError, match="screening_threshold"):
        density_on_grid(stacked, grid, np.eye(mol_a.nao), screening_threshold=-1.0)
    with pytest.raises(ValueError, match="broadcast"):
        density_on_grid(stacked, grid, np.stack([np.eye(mol_a.nao)] * 3))


def test_kernel_rejects_inconsistent_shapes_itself():
    """The C++ handler checks shapes again and returns an error instead of reading out of bounds."""
    from qpt.ops._basis_args import sph_table

    _, shells, grid, dm = _case(WATER, "sto-3g", points=64)
    out = (jax.ShapeDtypeStruct((grid.size,), jnp.float64), jax.ShapeDtypeStruct((grid.size, 3), jnp.float64))
    call = jax.ffi.ffi_call("qpt_density_on_grid", out)
    attributes = dict(angular=np.asarray(shells.angular, np.int64),
                      prim_offsets=np.asarray(shells.prim_offsets, np.int64), spherical=True, threshold=1e-14)
    args = [shells.centers, shells.exponents, shells.coefficients, grid.coords, sph_table("float64")]
    with pytest.raises(Exception, match="density must be"):
        jax.block_until_ready(call(*args, dm[:-1, :-1], **attributes))
    with pytest.raises(Exception, match="exponents must be"):
        jax.block_until_ready(call(args[0], args[1][:-1], *args[2:], dm, **attributes))
    with pytest.raises(Exception, match="table"):
        jax.block_until_ready(call(*args[:4], args[4][:-1], dm, **attributes))


@pytest.mark.platforms("cuda")
def test_cuda_kernels_match_the_cpu_kernels():
    """Beyond the [cuda] variants above (each against PySCF): the GPU and CPU kernels agree, batched and
    through the VJP."""
    mol, shells, grid, _ = _case(WATER, "6-31g*", points=1000)
    cpu = jax.devices("cpu")[0]
    d = _random_symmetric(mol.nao, batch=(3,))

    def density_and_potential(s, g, x):
        rho, grad = density_on_grid(s, g, x)
        return rho, grad, potential_matrix(s, g, g.weights * rho, g.weights[:, None] * grad)

    def loss(s, g, x):
        rho, grad, vmat = density_and_potential(s, g, x)
        return jnp.sum(jnp.sin(rho)) + jnp.sum(grad ** 2) + jnp.sum(vmat * x)

    on_gpu = density_and_potential(shells, grid, d)  # the default device is the GPU here
    assert {device.platform for device in on_gpu[2].devices()} == {"gpu"}
    on_cpu = density_and_potential(*jax.device_put((shells, grid, d), cpu))
    for gpu_result, cpu_result in zip(on_gpu, on_cpu):
        np.testing.assert_allclose(np.asarray(gpu_result), np.asarray(cpu_result), rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(jax.grad(loss, argnums=2)(shells, grid, d)),
                               np.asarray(jax.grad(loss, argnums=2)(*jax.device_put((shells, grid, d), cpu))),
                               rtol=0, atol=1e-9)
