"""A molecule's coordinates in its principal-axis frame: where the model places each AO's token."""
from __future__ import annotations

import numpy as np
from pyscf.data.elements import MASSES

from qpt.system.molecule import Molecule


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


def ao_positions(molecule: Molecule, ao_atoms) -> np.ndarray:
    """[N, 3] the principal-axis coordinates of each AO's atom (`ao_atoms`: the atom index of every AO)."""
    return principal_axis_coordinates(molecule)[np.asarray(ao_atoms, dtype=np.intp)]
