"""AO tokens: one token per atomic orbital, its id from (element, orbital type), its position from its atom.

Computed on the host once per molecule and basis (the ids) and once per geometry (the positions), from the
Molecule's AO labels (PySCF's), so the token order is PySCF's AO order and row a of the network's output is AO a.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import jax.numpy as jnp
import numpy as np

from qpt.system import Molecule
from qpt.system.principal_axes import ao_positions


class ModelInputs(NamedTuple):
    """What the Transformer reads for one geometry (a JAX pytree).

    token_ids [N] int32, positions [N, 3] (bohr, the AO's atom in the principal-axis frame),
    biases [len(BIAS_NAMES), N, N] (normalised, see qpt.model.attention). token_mask [N] bool, or None
    when every token is real: False marks the ghost AOs of a padded System (qpt.data.padding), which no
    real token attends to and whose rows and columns of W are zero, so padding changes nothing.
    """

    token_ids: jnp.ndarray
    positions: jnp.ndarray
    biases: jnp.ndarray
    token_mask: Optional[jnp.ndarray] = None


@dataclass(frozen=True)
class TokenLayout:
    """Per AO: its token key (element and orbital type, e.g. 'O 2p x') and the index of its atom."""

    keys: tuple
    ao_atoms: np.ndarray

    @classmethod
    def from_molecule(cls, molecule, basis: str, spherical: bool = True) -> "TokenLayout":
        labels = Molecule.get(molecule).ao_labels(basis, spherical=spherical)
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
        return ao_positions(Molecule.get(molecule), self.ao_atoms)
