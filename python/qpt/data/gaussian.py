"""Gaussian geometries: the equilibrium geometry plus independent N(0, sigma^2) displacements of every
coordinate, as a deterministic stream index -> geometry.

Geometry `index` of stream `stream` is drawn from numpy's Generator seeded with (seed, stream, index). A
draw that puts two atoms too close (Molecule's MIN_ATOM_SEPARATION_BOHR; likely for a large sigma over
long runs) is rejected and redrawn from the Generator seeded with (seed, stream, index, attempt),
attempt = 1, 2, ...: still a function of the index alone, so a resumed run sees the same geometries
and never stops at the same bad draw again.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from qpt.system import Molecule

MAX_ATTEMPTS = 1000  # a sigma for which this many draws all collide is not a geometry distribution


@dataclass(frozen=True)
class GaussianGeometries:
    molecule: Molecule
    seed: int
    stream: int
    sigma_bohr: float

    def __post_init__(self):
        sigma = self.sigma_bohr
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"gaussian geometries: sigma_bohr must be finite and >= 0, got {sigma!r}")
        for name in ("seed", "stream"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"gaussian geometries: {name} must be an integer >= 0, got {value!r}")

    def geometry(self, index: int) -> Molecule:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0:
            raise ValueError(f"geometry index must be an integer >= 0, got {index!r}")
        for attempt in range(MAX_ATTEMPTS):
            key = [self.seed, self.stream, index] + ([attempt] if attempt else [])
            coordinates = self.molecule.coordinates + np.random.default_rng(key).normal(
                0.0, self.sigma_bohr, self.molecule.coordinates.shape)  # as Molecule.displaced draws them
            if _well_separated(coordinates):
                return Molecule(self.molecule.symbols, coordinates, self.molecule.charge, self.molecule.spin)
        raise ValueError(f"gaussian geometries: {MAX_ATTEMPTS} draws with sigma {self.sigma_bohr} bohr all put two "
                         f"atoms of {self.molecule.formula} on top of each other; use a smaller sigma")


def _well_separated(coordinates) -> bool:
    from qpt.system.molecule import MIN_ATOM_SEPARATION_BOHR

    distances = np.linalg.norm(coordinates[:, None, :] - coordinates[None, :, :], axis=-1)
    i, j = np.triu_indices(len(coordinates), k=1)
    return bool(np.all(distances[i, j] >= MIN_ATOM_SEPARATION_BOHR))
