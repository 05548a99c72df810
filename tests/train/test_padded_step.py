"""The training step on a batch of different molecules padded to one layout: its loss and gradient are the
mean of the molecules' own, unpadded ones."""
import jax
import jax.numpy as jnp
import numpy as np

from qpt import ops
from qpt.data.batch import stack_systems
from qpt.data.padding import PaddingLayout, pad_system
from qpt.dft.functionals import get_functional
from qpt.model import PRESETS, TokenLayout, init_params
from qpt.system import Molecule, System
from qpt.train.features import quantum_features
from qpt.train.loss import qpt_loss
from qpt.train.optimizer import make_optimizer
from qpt.train.parallel import make_data_mesh, replicated
from qpt.train.trainer import make_train_step

B3LYP5 = get_functional("b3lyp5")
TINY = PRESETS["tiny"]


def test_padded_step_equals_the_mean_of_the_unpadded_molecules():
    molecules = [Molecule.get("water").displaced(np.random.default_rng(1), 0.05), Molecule.get("h2")]
    systems = [System.from_molecule(m, basis="sto-3g", grid_level=0) for m in molecules]
    token_layouts = [TokenLayout.from_molecule(m, "sto-3g") for m in molecules]
    vocabulary = tuple(sorted(set().union(*(t.vocabulary() for t in token_layouts))))
    params = init_params(TINY, len(vocabulary), seed=2)

    losses, gradients = [], []
    for system, molecule, tokens in zip(systems, molecules, token_layouts):
        token_ids, positions = tokens.token_ids(vocabulary), tokens.positions(molecule)

        def loss(p, system=system, token_ids=token_ids, positions=positions):
            features = quantum_features(system, token_ids, positions, B3LYP5, ops=ops)
            return qpt_loss(p, TINY, system, features, B3LYP5, ops=ops)[0]
        value, gradient = jax.jit(jax.value_and_grad(loss))(params)
        losses.append(float(value))
        gradients.append(gradient)
    mean_gradient = jax.tree_util.tree_map(lambda a, b: (a + b) / 2, *gradients)
    expected_norm = float(jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree_util.tree_leaves(mean_gradient))))

    layout = PaddingLayout.covering(systems)
    padded = [pad_system(s, layout) for s in systems]
    batch = stack_systems([p.system for p in padded])
    token_ids = np.stack([p.scatter_rows(t.token_ids(vocabulary)) for p, t in zip(padded, token_layouts)])
    positions = np.stack([p.scatter_rows(t.positions(m)) for p, t, m in zip(padded, token_layouts, molecules)])
    masks = np.stack([p.token_mask() for p in padded])
    optimizer = make_optimizer()
    mesh = make_data_mesh(1)
    step = make_train_step(TINY, B3LYP5, optimizer, ops=ops, dft_dtype="float64", mesh=mesh, padded=True)
    state = replicated((params, optimizer.init(params)), mesh)
    _, _, stats = step(*state, batch, token_ids, positions, masks, replicated(np.float64(1e-3), mesh))
    assert abs(float(stats.loss) - np.mean(losses)) < 1e-10
    assert abs(float(stats.gradient_norm) - expected_norm) < 1e-10 * max(1.0, expected_norm)
