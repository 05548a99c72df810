"""The tabulated grid (qpt.ops.tabulate_grid): the grid ops on it give the same bits as on the grid itself
(values, batches, vmap, gradients of first and second order), the table's size is what tabulated_grid_bytes
says, and tables that do not belong to the call, or that hold anything but what tabulate_grid wrote, raise."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyscf import gto

from qpt.ops import TabulatedGrid, tabulate_grid, tabulated_grid_bytes
from qpt.ops.grid import density_on_grid, potential_matrix
from qpt.system.basis import basis_shells_from_mol
from qpt.system.grid import Grid

from test_grid_kernels import ETHANOL, WATER, _case, _pyscf_rho, _random_symmetric, _two_conformers

pytestmark = pytest.mark.platforms("cpu")


def _assert_same_bits(actual, expected):
    for a, e in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected)):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(e))


@pytest.mark.parametrize("atom,basis,level,points,cart", [
    (WATER, "def2-svp", 1, None, False), (ETHANOL, "6-31g*", 0, None, False), (WATER, "6-31g*", 0, 777, True),
    (WATER, "cc-pvqz", 0, 300, False)], ids=["water-def2-svp", "ethanol-6-31g*", "water-cartesian", "water-cc-pvqz"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ops_on_the_table_give_the_same_bits(atom, basis, level, points, cart, dtype):
    mol, shells, grid, _ = _case(atom, basis, level, points, cart)
    d = _random_symmetric(mol.nao, batch=(3,)).astype(dtype)
    table = tabulate_grid(shells, grid, dtype=dtype)
    assert isinstance(table, TabulatedGrid) and table.values.dtype == dtype
    assert table.size == grid.size and table.coords is grid.coords  # reads go to the grid
    rho, grad = density_on_grid(shells, grid, d)
    _assert_same_bits(density_on_grid(shells, table, d), (rho, grad))
    _assert_same_bits(potential_matrix(shells, table, rho, grad), potential_matrix(shells, grid, rho, grad))
    if dtype == "float64" and not cart:
        rho_ref, grad_ref = _pyscf_rho(mol, grid, d[0])
        np.testing.assert_allclose(density_on_grid(shells, table, d[0])[0], rho_ref, rtol=0, atol=1e-10)


def test_table_size_is_tabulated_grid_bytes():
    mol, shells, grid, _ = _case(WATER, "def2-svp", points=1000)
    table = tabulate_grid(shells, grid)
    assert table.values.nbytes + table.index.nbytes == tabulated_grid_bytes(mol.nao, grid.size, "float64")
    assert tabulate_grid(shells, grid, dtype="float32").values.nbytes == table.values.nbytes // 2


def test_batched_geometries_under_jit_and_vmap():
    (mol_a, _), singles, stacked, grid = _two_conformers()
    d = _random_symmetric(mol_a.nao, batch=(2,))
    tables = jax.jit(lambda b: tabulate_grid(b, grid))(stacked)
    assert tables.values.shape[0] == 2
    _assert_same_bits(density_on_grid(stacked, tables, d), density_on_grid(stacked, grid, d))

    def both(basis, density):
        table = tabulate_grid(basis, grid)
        rho, grad = density_on_grid(basis, table, density)
        return potential_matrix(basis, table, rho, grad)

    def plain(basis, density):
        return potential_matrix(basis, grid, *density_on_grid(basis, grid, density))

    _assert_same_bits(jax.jit(jax.vmap(both))(stacked, d), jax.jit(jax.vmap(plain))(stacked, d))
    for k, shells in enumerate(singles):
        _assert_same_bits(both(shells, d[k]), plain(shells, d[k]))


def test_gradients_of_first_and_second_order_are_the_same():
    mol, shells, grid, dm = _case(WATER, "6-31g", points=500)
    w = grid.weights
    table = tabulate_grid(shells, grid)

    def loss(x, on):
        rho, grad = density_on_grid(shells, on, (x + x.T) / 2)
        v = potential_matrix(shells, on, jnp.sin(rho) * w, grad * w[:, None])
        return jnp.sum(v * x) + jnp.sum(w * rho ** 2)

    for order in (jax.grad, lambda f: jax.jacrev(jax.grad(f))):
        _assert_same_bits(order(lambda x: loss(x, table))(dm), order(lambda x: loss(x, grid))(dm))


def test_the_table_is_a_constant_to_autodiff():
    mol, shells, grid, dm = _case(WATER, "sto-3g", points=200)

    def energy(coords):
        table = tabulate_grid(shells, Grid(coords, grid.weights, grid.level))
        return jnp.sum(density_on_grid(shells, table, dm)[0])

    assert not np.any(jax.grad(energy)(jnp.asarray(grid.coords)))


def test_a_table_of_another_basis_or_threshold_is_refused():
    mol, shells, grid, dm = _case(WATER, "sto-3g", points=200)
    other = basis_shells_from_mol(gto.M(atom=WATER, basis="6-31g"))
    table = tabulate_grid(shells, grid)
    with pytest.raises(ValueError, match="another basis"):
        density_on_grid(other, table, np.eye(other.nao))
    with pytest.raises(ValueError, match="another basis"):
        potential_matrix(shells, table, np.zeros(grid.size), np.zeros((grid.size, 3)), screening_threshold=0.0)
    with pytest.raises(TypeError, match="tabulate the grid with dtype=float32"):
        density_on_grid(shells, table, np.asarray(dm, np.float32))
    (mol_a, _), _, stacked, pair_grid = _two_conformers()
    with pytest.raises(ValueError, match="batch shape"):
        density_on_grid(stacked, tabulate_grid(basis_shells_from_mol(mol_a), pair_grid), np.eye(mol_a.nao))
    with pytest.raises(TypeError, match="already tabulated"):
        tabulate_grid(shells, table)
    with pytest.raises(TypeError, match="float32 or float64"):
        tabulate_grid(shells, grid, dtype="int32")
    with pytest.raises(TypeError, match="grid must have"):
        tabulate_grid(shells, np.zeros((10, 3)))


@pytest.mark.parametrize("damage,match", [
    (lambda t: dataclasses.replace(t, index=t.index.at[0, 0].set(10 ** 6)), "table index"),
    (lambda t: dataclasses.replace(t, index=t.index.at[0, 0].set(-1)), "table index"),
    (lambda t: dataclasses.replace(t, index=t.index.at[1, 1].set(99)), "table index"),
    (lambda t: dataclasses.replace(t, values=t.values[:-1], index=t.index[:-1]), "blocks"),
    (lambda t: dataclasses.replace(t, values=t.values[:, :-1]), "capacity"),
    (lambda t: dataclasses.replace(t, index=t.index.astype(jnp.int64)), "int32"),
], ids=["row-count-above-capacity", "negative-row-count", "ao-index-outside-the-basis", "blocks-of-another-grid",
        "capacity-below-the-basis", "index-not-int32"])
def test_damaged_tables_raise_instead_of_reading_out_of_bounds(damage, match):
    mol, shells, grid, dm = _case(WATER, "sto-3g", points=300)
    table = damage(tabulate_grid(shells, grid))
    with pytest.raises(Exception, match=match):
        jax.block_until_ready(density_on_grid(shells, table, dm))
    with pytest.raises(Exception, match=match):
        jax.block_until_ready(potential_matrix(shells, table, np.ones(grid.size), np.zeros((grid.size, 3))))


def test_the_kernels_check_the_table_shapes_themselves():
    """Past the Python checks (a direct FFI call), the handlers refuse a table of the wrong shape."""
    mol, shells, grid, dm = _case(WATER, "sto-3g", points=300)
    table = tabulate_grid(shells, grid)
    out = (jax.ShapeDtypeStruct((grid.size,), jnp.float64), jax.ShapeDtypeStruct((grid.size, 3), jnp.float64))
    call = jax.ffi.ffi_call("qpt_density_on_grid_tabulated", out)
    with pytest.raises(Exception, match="blocks"):
        jax.block_until_ready(call(table.values[:-1], table.index[:-1], dm, npoint=np.int64(grid.size)))
    with pytest.raises(Exception, match="capacity"):
        jax.block_until_ready(call(table.values[:, :-1], table.index[:, :-1], dm, npoint=np.int64(grid.size)))
    with pytest.raises(Exception, match="table index"):
        jax.block_until_ready(call(table.values, table.index[:, :-1], dm, npoint=np.int64(grid.size)))


def test_reference_ops_accept_the_call_and_keep_the_grid():
    from qpt.ops import reference

    mol, shells, grid, dm = _case(WATER, "sto-3g", points=200)
    assert reference.tabulate_grid(shells, grid, dtype="float64") is grid
    np.testing.assert_allclose(reference.density_on_grid(shells, tabulate_grid(shells, grid), dm)[0],
                               density_on_grid(shells, grid, dm)[0], rtol=0, atol=1e-12)


def test_tabulate_grid_refuses_other_platforms(monkeypatch):
    import qpt.ops.grid as grid_module

    mol, shells, grid, dm = _case(WATER, "sto-3g", points=100)
    monkeypatch.setattr(grid_module, "default_platform", lambda: "cuda")
    with pytest.raises(ValueError, match="CPU feature"):
        tabulate_grid(shells, grid)
