"""Padding Systems of different molecules to one layout: the padded molecule's energy, Fock matrix, density
and gradients are its own (ghost AOs change nothing), for every two-electron engine."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qpt.data.batch import stack_systems
from qpt.data.padding import PaddingLayout, pad_system
from qpt.dft.energy import fock_terms
from qpt.dft.functionals import resolve_functional
from qpt.dft.iterations import dft_iterations
from qpt.system import Molecule, System

FUNCTIONAL = resolve_functional("b3lyp5")
TOLERANCE = 1e-10


def _systems(jk, basis="sto-3g"):
    molecules = [Molecule.get("water"), Molecule.get("h2"), Molecule.get("methane"),
                 Molecule.from_xyz("N 0 0 0\nH 0 0 1.01\nH 0.95 0 -0.34\nH -0.48 0.82 -0.34")]
    return [System.from_molecule(m, basis=basis, grid_level=0, jk=jk) for m in molecules]


def _start_hamiltonian(system, seed):
    """F(D0) plus a fixed symmetric perturbation: a Hamiltonian a network could have produced."""
    fock = np.asarray(fock_terms(system, jnp.asarray(system.minao_density), FUNCTIONAL, __import__("qpt").ops,
                                 with_k=True)[-1])
    noise = np.random.default_rng(seed).normal(scale=0.02, size=fock.shape)
    return fock + (noise + noise.T) / 2


def _energy(system):
    return lambda h: dft_iterations(system, h, FUNCTIONAL).terms.total


@pytest.mark.parametrize("jk", ["packed", "df", "direct"])
def test_padded_energy_density_and_gradient_are_the_molecules(jk):
    systems = _systems(jk)
    layout = PaddingLayout.covering(systems)
    assert layout.n_occ > min(s.n_occ for s in systems)  # H2 gets occupied ghosts as well as virtual ones
    for seed, system in enumerate(systems[:2]):  # water: virtual ghosts; H2: occupied ones too
        padded = pad_system(system, layout)
        h = _start_hamiltonian(system, seed)
        h_padded = np.asarray(padded.system.core_hamiltonian).copy()  # ghost diagonal of the padded System
        h_padded[np.ix_(padded.ao_index, padded.ao_index)] = h
        reference = dft_iterations(system, h, FUNCTIONAL)
        result = dft_iterations(padded.system, h_padded, FUNCTIONAL)
        assert abs(float(result.terms.total) - float(reference.terms.total)) < TOLERANCE
        np.testing.assert_allclose(padded.real_block(result.fock), reference.fock, atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(padded.real_block(result.density), reference.density, atol=TOLERANCE, rtol=0)
        gradient = jax.grad(_energy(system))(jnp.asarray(h))
        gradient_padded = jax.grad(_energy(padded.system))(jnp.asarray(h_padded))
        np.testing.assert_allclose(padded.real_block(gradient_padded), gradient, atol=TOLERANCE, rtol=0)
        ghosts = ~padded.token_mask()
        assert ghosts.any()
        assert np.max(np.abs(np.asarray(gradient_padded)[ghosts])) < TOLERANCE  # nothing flows into the ghosts


def test_padded_systems_of_different_molecules_stack_into_one_batch():
    systems = _systems("packed")
    layout = PaddingLayout.covering(systems)
    batch = stack_systems([pad_system(s, layout).system for s in systems])
    assert batch.overlap.shape == (len(systems), layout.nao, layout.nao)
    energies = jax.vmap(lambda s, h: dft_iterations(s, h, FUNCTIONAL).terms.total)(
        batch, jnp.asarray(np.stack([np.asarray(p.core_hamiltonian) for p in
                                     (pad_system(s, layout).system for s in systems)])))
    for system, energy in zip(systems, energies):
        reference = dft_iterations(system, np.asarray(system.core_hamiltonian), FUNCTIONAL).terms.total
        assert abs(float(energy) - float(reference)) < TOLERANCE


def test_a_system_that_does_not_fit_is_refused():
    small, large = _systems("packed")[1], _systems("packed")[2]
    layout = PaddingLayout.covering([small])
    with pytest.raises(ValueError, match="does not fit the padding layout"):
        pad_system(large, layout)


def test_padded_qpt_loss_and_parameter_gradient_are_the_molecules():
    """The network side of padding: a token_mask keeps the ghost AOs out of attention, the biases and W, so
    the QPT loss of a padded molecule and its gradient in every parameter equal the unpadded ones."""
    from qpt import ops
    from qpt.model import PRESETS, TokenLayout, init_params
    from qpt.train.features import quantum_features
    from qpt.train.loss import qpt_loss

    systems = _systems("packed")
    layout = PaddingLayout.covering(systems)
    molecules = [s.molecule for s in systems]
    token_layouts = [TokenLayout.from_molecule(m, "sto-3g") for m in molecules]
    vocabulary = tuple(sorted(set().union(*(t.vocabulary() for t in token_layouts))))
    config = PRESETS["tiny"]
    params = init_params(config, len(vocabulary), seed=3)

    def loss_and_gradient(system, token_ids, positions, token_mask):
        def loss(p):
            features = quantum_features(system, token_ids, positions, FUNCTIONAL, ops=ops, token_mask=token_mask)
            return qpt_loss(p, config, system, features, FUNCTIONAL, ops=ops)[0]
        return jax.jit(jax.value_and_grad(loss))(params)

    for system, molecule, tokens in list(zip(systems, molecules, token_layouts))[:2]:
        token_ids, positions = tokens.token_ids(vocabulary), tokens.positions(molecule)
        loss, gradient = loss_and_gradient(system, token_ids, positions, None)
        padded = pad_system(system, layout)
        padded_loss, padded_gradient = loss_and_gradient(
            padded.system, padded.scatter_rows(token_ids), padded.scatter_rows(positions), padded.token_mask())
        assert abs(float(padded_loss) - float(loss)) < TOLERANCE
        for path, leaf in jax.tree_util.tree_leaves_with_path(gradient):
            padded_leaf = _leaf_at(padded_gradient, path)
            np.testing.assert_allclose(padded_leaf, leaf, atol=TOLERANCE, rtol=0, err_msg=jax.tree_util.keystr(path))


def _leaf_at(tree, path):
    for key in path:
        tree = tree[key.key] if hasattr(key, "key") else tree[key.idx]
    return tree


def test_padded_sample_builder_pads_each_molecule_to_its_bucket():
    from qpt.data.buckets import plan_buckets, probe_shape
    from qpt.data.molecule_schedule import MoleculeSchedule
    from qpt.data.padded_samples import PaddedSampleBuilder
    from qpt.data.samples import GeometryStream, SampleBuilder
    from qpt.model import TokenLayout

    molecules = [Molecule.get(name) for name in ("h2", "water", "methane")]
    buckets = plan_buckets([probe_shape(m, "sto-3g", 0) for m in molecules], max_buckets=2)
    bucket_of = {i: b for b, bucket in enumerate(buckets) for i in bucket.members}
    layouts = [TokenLayout.from_molecule(m, "sto-3g") for m in molecules]
    vocabulary = tuple(sorted(set().union(*(t.vocabulary() for t in layouts))))
    builder = PaddedSampleBuilder(
        tuple(SampleBuilder(m, "sto-3g", 0, t.ao_atoms, seed=0, sigma_bohr=0.05, jk=buckets[bucket_of[i]].engine)
              for i, (m, t) in enumerate(zip(molecules, layouts))),
        tuple(t.token_ids(vocabulary) for t in layouts), tuple(bucket_of[i] for i in range(3)),
        tuple(b.layout for b in buckets))
    schedule = MoleculeSchedule([b.members for b in buckets], batch_size=2, seed=1)
    rows = [row for step in range(3) for row in schedule.rows(step)]
    with GeometryStream(builder, rows, workers=1, processes=False) as stream:
        samples = list(stream)
    for row, sample in zip(rows, samples):
        layout = buckets[sample.bucket].layout
        assert sample.row == row and sample.bucket == bucket_of[row.molecule]
        assert sample.system.nao == layout.nao and sample.token_mask.sum() == len(layouts[row.molecule].keys)
        np.testing.assert_array_equal(sample.token_ids[sample.ao_index], layouts[row.molecule].token_ids(vocabulary))
    for step in range(3):  # a step's two rows share one bucket, so they stack
        stack_systems([s.system for s in samples[2 * step:2 * step + 2]])
