"""The small training setup the train tests share: water, sto-3g, grid level 0, tiny model."""
import functools

import numpy as np

from qpt.model import TokenLayout
from qpt.system import Molecule, System
from qpt.train.config import TrainConfig

# Gaussian geometries: these tests are about the training loop; thermal streams have their own tests
SETUP = dict(molecule="water", basis="sto-3g", grid_level=0, model="tiny", geometries="gaussian")


def small_config(**changes):
    values = dict(SETUP, steps=6, learning_rate=2e-3, checkpoint_every=1000, workers=1, prefetch=2)
    values.update(changes)
    return TrainConfig(**values)


@functools.lru_cache(maxsize=None)
def water():
    """(System, token ids, AO positions) of a slightly distorted water molecule."""
    molecule = Molecule.from_catalog("water").displaced(np.random.default_rng(7), 0.05)
    layout = TokenLayout.from_molecule(molecule, "sto-3g")
    system = System.from_molecule(molecule, basis="sto-3g", grid_level=0)
    return system, layout.token_ids(layout.vocabulary()), layout.positions(molecule)
