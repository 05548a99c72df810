"""AO tokens: one token per atomic orbital, its id from (element, orbital type), its position from its atom.

Computed on the host once per molecule and basis (the ids) and once per geometry (the positions), with
PySCF's AO labels, so the token order is PySCF's AO order and row a of the network's output is AO a.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from pyscf.data.elements import MASSES

from qpt.system import Molecule


class ModelInputs(NamedTuple):
    """What the Transformer reads for one geometry (a JAX pytree).

    token_ids [N] int32, positions [N, 3] (bohr, the AO's atom in the principal-axis frame),
    biases [len(BIAS_NAMES), N, N] (normalised, see qpt.model.attention).
    """

    token_ids: jnp.ndarray
    positions: jnp.ndarray
    biases: jnp.ndarray


@dataclass(frozen=True)
class TokenLayout:
    """Per AO: its token key (element and orbital type, e.g. 'O 2p x') and the index of its atom."""

    keys: tuple
    ao_atoms: np.ndarray

    @classmethod
    def from_molecule(cls, molecule, basis: str, spherical: bool = True) -> "TokenLayout":
        mol = Molecule.get(molecule).to_pyscf(basis, spherical=spherical)
        labels = mol.ao_labels(fmt=False)  # (atom index, element, shell 'nl', component) per AO
        keys = tuple(f"{element} {shell} {component}".strip() for _, element, shell, component in labels)
        ao_atoms = np.array([atom for atom, *_ in labels], dtype=np.int32)
        ao_atoms.setflags(write=False)
        return cls(keys, ao_atoms)

    @property
    def nao(self) -> int:
        return len(self.keys)

    def vocabulary(self) -> tuple:
        """The sorted distinct token keys: the embedding table's rows for a model trained on this layout."""
        return tuple(sorted(set(self.keys)))

    def token_ids(self, vocabulary) -> np.ndarray:
        """[N] int32 rows of `vocabulary`; ValueError for an orbital type the vocabulary does not know."""
        index = {key: i for i, key in enumerate(vocabulary)}
        unknown = sorted(set(self.keys) - set(index))
        if unknown:
            raise ValueError(f"AO tokens {unknown} are not in the model's vocabulary "
                             f"({len(vocabulary)} tokens): the model was trained on other elements or basis")
        return np.array([index[key] for key in self.keys], dtype=np.int32)

    def positions(self, molecule) -> np.ndarray:
        """[N, 3] coordinates of each AO's atom in the molecule's principal-axis frame (bohr)."""
        return principal_axis_coordinates(Molecule.get(molecule))[self.ao_atoms]


def principal_axis_coordinates(molecule: Molecule) -> np.ndarray:
    """[A, 3] nuclear positions centred on the centre of mass and rotated onto the principal axes of
    inertia (smallest moment first).

    An axis is only defined up to sign; each is oriented so its largest lab-frame component is positive,
    which keeps the frame continuous for the small displacements the trainer samples.
    """
    masses = np.array([MASSES[z] for z in molecule.atomic_numbers], dtype=np.float64)
    coords = np.asarray(molecule.coordinates, dtype=np.float64)
    centred = coords - masses @ coords / masses.sum()
    inertia = np.einsum("a,ai,aj->ij", masses, centred, centred)
    inertia = np.trace(inertia) * np.eye(3) - inertia
    _, axes = np.linalg.eigh(inertia)
    largest = np.argmax(np.abs(axes), axis=0)
    axes = axes * np.sign(axes[largest, np.arange(3)])
    return centred @ axes
