"""Padding Systems of different molecules to one shared layout, so that one compiled step serves them all.

The ops and the DFT take a System whose basis layout (shell angular momenta and primitive counts), AO count,
occupied-orbital count and grid size are static. A PaddingLayout fixes all of them for a bucket of molecules:
per shell class (l, number of primitives) a number of shell slots, an occupied count, an atom count, a grid
size and (density fitting) an auxiliary count. pad_system puts a molecule's shells into the first slots of
their class, in their own order, and fills the rest with ghost shells:

- a ghost shell has zero contraction coefficients, so its AOs vanish on the grid and in every integral: the
  overlap is the identity on the ghost block, the kinetic energy, the ERIs, the density-fitting factors and
  the minao density are zero there, and nothing couples a ghost to a real AO;
- the core Hamiltonian is diagonal on the ghosts: GHOST_OCCUPIED_HA on the first n_occ(layout) - n_occ
  ghost AOs, GHOST_VIRTUAL_HA on the others. The occupied ghosts are the lowest orbitals and fill the
  layout's occupied count; they carry a density of 2 on their own AO and nothing else, so every Fock build
  gives them the same diagonal and they never mix with the molecule. Their one-electron energy, 2
  GHOST_OCCUPIED_HA each, is taken back out of the nuclear repulsion, so the total energy is the molecule's.

The padded molecule's energy, density (on its own AOs) and gradients are the unpadded ones up to round-off
(tests/data/test_padding.py checks 1e-10). The network must leave the ghost AOs alone too: ModelInputs'
token_mask does that (qpt.model). A padded System has layout-generic static data (symbols are '*'), so the
Systems of one layout stack (qpt.data.batch) and compile once.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

from qpt.data.batch import pad_grid
from qpt.ops.basis import BasisShells, n_cartesian, n_spherical
from qpt.system import System
from qpt.system.two_electron import DensityFitted, IntegralDirect, PackedEri

# Far outside the orbital energies of H..F in any basis (F 1s is about -26 Ha), yet small enough that the
# energy correction of a few dozen occupied ghosts loses nothing measurable in float64.
GHOST_OCCUPIED_HA = -100.0
GHOST_VIRTUAL_HA = 100.0
GHOST_SYMBOL = "*"
_GHOST_EXPONENT = 1.0  # any positive exponent: the coefficient 0 makes the ghost vanish


def shell_classes(basis: BasisShells) -> tuple:
    """(l, nprim) of each shell of `basis`, in order."""
    return tuple(zip(basis.angular, basis.shell_nprim))


class SystemShape(NamedTuple):
    """What a padding layout must hold of one molecule (the same for all its conformers: PySCF's grid size
    and the basis do not depend on the geometry)."""

    shell_classes: tuple   # (l, nprim) per shell
    n_occ: int
    n_atoms: int
    grid_points: int
    spherical: bool
    naux: Optional[int]    # density-fitting auxiliary functions, None when the System is not density-fitted

    @classmethod
    def of(cls, system) -> "SystemShape":
        return cls(shell_classes(system.basis), int(system.n_occ), len(system.atom_charges), system.grid.size,
                   system.basis.spherical, _naux(system))

    @property
    def nao(self) -> int:
        size = n_spherical if self.spherical else n_cartesian
        return sum(size(l) for l, _ in self.shell_classes)


def _class_counts(classes) -> dict:
    counts = {}
    for key in classes:
        counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass(frozen=True)
class PaddingLayout:
    """The static shape of a bucket: shell slots per class, occupied orbitals, atoms, grid points, aux size."""

    slots: tuple            # ((l, nprim, count), ...) sorted by (l, nprim)
    n_occ: int
    n_atoms: int
    grid_points: int
    spherical: bool
    naux: Optional[int] = None  # density-fitting auxiliary functions (None: not a density-fitted bucket)

    @classmethod
    def covering(cls, systems_or_shapes) -> "PaddingLayout":
        """The smallest layout every given System (or SystemShape) fits: the layout of a bucket of molecules."""
        shapes = [s if isinstance(s, SystemShape) else SystemShape.of(s) for s in systems_or_shapes]
        if not shapes:
            raise ValueError("PaddingLayout.covering: no Systems given")
        spherical = {s.spherical for s in shapes}
        if len(spherical) > 1:
            raise ValueError("PaddingLayout.covering: the Systems mix spherical and cartesian bases")
        counts = {}
        for shape in shapes:
            for key, count in _class_counts(shape.shell_classes).items():
                counts[key] = max(counts.get(key, 0), count)
        naux = {s.naux for s in shapes}
        if len(naux) > 1 and None in naux:
            raise ValueError("PaddingLayout.covering: the Systems mix density-fitted and other engines")
        layout = cls(tuple((l, nprim, counts[(l, nprim)]) for l, nprim in sorted(counts)),
                     max(s.n_occ for s in shapes), max(s.n_atoms for s in shapes),
                     max(s.grid_points for s in shapes), spherical.pop(), None if naux == {None} else max(naux))
        # The ghosts must hold the extra occupied orbitals: grow the cheapest class (s shells) until they do.
        while any(layout.problem(s) for s in shapes):
            layout = layout._with_more_s_slots()
        return layout

    @property
    def nao(self) -> int:
        size = n_spherical if self.spherical else n_cartesian
        return sum(size(l) * count for l, _, count in self.slots)

    def problem(self, system_or_shape) -> Optional[str]:
        """Why a System (or SystemShape) does not fit this layout, or None when it does."""
        shape = system_or_shape if isinstance(system_or_shape, SystemShape) else SystemShape.of(system_or_shape)
        slots = {(l, nprim): count for l, nprim, count in self.slots}
        for (l, nprim), count in sorted(_class_counts(shape.shell_classes).items()):
            if count > slots.get((l, nprim), 0):
                return f"{count} shells with l={l} and {nprim} primitives, the layout has {slots.get((l, nprim), 0)}"
        if shape.spherical != self.spherical:
            return "spherical and cartesian bases differ"
        if shape.n_occ > self.n_occ:
            return f"{shape.n_occ} occupied orbitals, the layout has {self.n_occ}"
        if self.nao - shape.nao < self.n_occ - shape.n_occ:
            return f"{self.nao - shape.nao} ghost AOs cannot hold the {self.n_occ - shape.n_occ} extra occupied orbitals"
        if shape.n_atoms > self.n_atoms:
            return f"{shape.n_atoms} atoms, the layout has {self.n_atoms}"
        if shape.grid_points > self.grid_points:
            return f"{shape.grid_points} grid points, the layout has {self.grid_points}"
        if (shape.naux is None) != (self.naux is None) or (shape.naux is not None and shape.naux > self.naux):
            return f"naux {shape.naux} (density fitting) does not fit the layout's {self.naux}"
        return None

    def _with_more_s_slots(self) -> "PaddingLayout":
        slots = list(self.slots)
        index = next((i for i, (l, _, _) in enumerate(slots) if l == 0), None)
        if index is None:
            slots.insert(0, (0, 1, 1))
        else:
            l, nprim, count = slots[index]
            slots[index] = (l, nprim, count + 1)
        return dataclasses.replace(self, slots=tuple(slots))


def _naux(system) -> Optional[int]:
    return int(np.shape(system.two_electron.cderi)[-2]) if isinstance(system.two_electron, DensityFitted) else None


@dataclass(frozen=True)
class PaddedSystem:
    system: System          # the System in the layout's AO order, ghosts included
    ao_index: np.ndarray    # [nao of the molecule]: where each of the molecule's AOs sits in the padded order
    layout: PaddingLayout

    def real_block(self, matrix):
        """The molecule's own [..., n, n] block of a padded [..., N, N] matrix, in its own AO order."""
        matrix = np.asarray(matrix)
        return matrix[..., self.ao_index[:, None], self.ao_index[None, :]]

    def token_mask(self) -> np.ndarray:
        """[N] bool: True on the molecule's AOs, False on the ghosts."""
        mask = np.zeros(self.layout.nao, dtype=bool)
        mask[self.ao_index] = True
        return mask

    def scatter_rows(self, values, fill=0):
        """[n, ...] per-AO values of the molecule -> [N, ...] in the padded order, `fill` on the ghosts."""
        values = np.asarray(values)
        out = np.full((self.layout.nao,) + values.shape[1:], fill, dtype=values.dtype)
        out[self.ao_index] = values
        return out


def pad_system(system: System, layout: PaddingLayout) -> PaddedSystem:
    """`system` in `layout` (see the module docstring); ValueError when it does not fit."""
    problem = layout.problem(system)
    if problem is not None:
        raise ValueError(f"pad_system: {system.summary()} does not fit the padding layout: {problem}")
    if not isinstance(system.two_electron, (PackedEri, DensityFitted, IntegralDirect)):
        raise ValueError(f"pad_system: unknown two-electron engine {type(system.two_electron).__name__}")
    basis, ao_index, ghost_aos = _padded_basis(system.basis, layout)
    nao, n = layout.nao, system.nao
    n_ghost_occ = layout.n_occ - system.n_occ
    ghost_energy = np.full(len(ghost_aos), GHOST_VIRTUAL_HA)
    ghost_energy[:n_ghost_occ] = GHOST_OCCUPIED_HA

    def embed(matrix, ghost_diagonal=0.0):
        out = np.zeros((nao, nao), dtype=np.float64)
        out[np.ix_(ao_index, ao_index)] = matrix
        out[ghost_aos, ghost_aos] = ghost_diagonal
        return out

    overlap = embed(system.overlap, 1.0)
    kinetic = embed(system.kinetic)
    nuclear = embed(system.nuclear, ghost_energy)
    # The molecule's X = inv(L)^T, re-indexed, with the identity on the ghosts: X^T S X = I still holds exactly.
    orthogonalizer = embed(system.orthogonalizer, 1.0)
    atoms = len(system.atom_charges)
    atom_coords = np.concatenate([system.atom_coords, np.repeat(system.atom_coords[:1], layout.n_atoms - atoms, 0)])
    atom_charges = np.concatenate([system.atom_charges, np.zeros(layout.n_atoms - atoms)])
    nuclear_repulsion = np.asarray(system.nuclear_repulsion - 2.0 * GHOST_OCCUPIED_HA * n_ghost_occ, np.float64)
    padded = dataclasses.replace(
        system, atom_coords=atom_coords, atom_charges=atom_charges, overlap=overlap, kinetic=kinetic,
        nuclear=nuclear, core_hamiltonian=kinetic + nuclear, nuclear_repulsion=nuclear_repulsion,
        two_electron=_padded_two_electron(system.two_electron, ao_index, n, nao, layout.naux),
        orthogonalizer=orthogonalizer, minao_density=embed(system.minao_density), basis=basis,
        grid=pad_grid(system.grid, layout.grid_points), symbols=(GHOST_SYMBOL,) * layout.n_atoms, charge=0,
        spin=0, n_electrons=2 * layout.n_occ, n_occ=layout.n_occ, nao=nao, jk_reason=f"padded ({system.jk_reason})")
    return PaddedSystem(padded, ao_index, layout)


def _padded_basis(basis: BasisShells, layout: PaddingLayout):
    """(padded BasisShells, ao_index [n], ghost AO indices) of `basis` in the layout's slot order."""
    size = n_spherical if layout.spherical else n_cartesian
    by_class = {}
    for shell, key in enumerate(shell_classes(basis)):
        by_class.setdefault(key, []).append(shell)
    centers, exponents, coefficients, angular, prim_offsets, ao_offsets = [], [], [], [], [0], [0]
    ao_index = np.empty(basis.nao, dtype=np.int64)
    ghost_aos = []
    ghost_center = np.asarray(basis.centers)[0]
    for l, nprim, count in layout.slots:
        real = by_class.get((l, nprim), [])
        for slot in range(count):
            start = ao_offsets[-1]
            if slot < len(real):
                shell = real[slot]
                p0, p1 = basis.prim_offsets[shell], basis.prim_offsets[shell + 1]
                centers.append(np.asarray(basis.centers)[shell])
                exponents.extend(np.asarray(basis.exponents)[p0:p1])
                coefficients.extend(np.asarray(basis.coefficients)[p0:p1])
                a0 = basis.ao_offsets[shell]
                ao_index[a0:a0 + size(l)] = np.arange(start, start + size(l))
            else:
                centers.append(ghost_center)
                exponents.extend([_GHOST_EXPONENT] * nprim)
                coefficients.extend([0.0] * nprim)
                ghost_aos.extend(range(start, start + size(l)))
            angular.append(l)
            prim_offsets.append(prim_offsets[-1] + nprim)
            ao_offsets.append(start + size(l))
    padded = BasisShells(np.asarray(centers, np.float64).reshape(-1, 3), np.asarray(exponents, np.float64),
                         np.asarray(coefficients, np.float64), tuple(angular), tuple(prim_offsets),
                         tuple(ao_offsets), layout.spherical, layout.nao)
    return padded, ao_index, np.asarray(ghost_aos, dtype=np.int64)


def _pair_index(i, j):
    """libcint's packed index of the pair (i, j), i.e. of (max, min)."""
    high, low = np.maximum(i, j), np.minimum(i, j)
    return high * (high + 1) // 2 + low


def _pair_map(ao_index, n):
    """[n(n+1)/2]: the padded pair index of each of the molecule's packed pairs (i >= j)."""
    i, j = np.tril_indices(n)
    return _pair_index(ao_index[i], ao_index[j])


def _padded_two_electron(two_electron, ao_index, n, nao, naux):
    if isinstance(two_electron, IntegralDirect):
        return two_electron  # computed from the padded basis, whose ghosts vanish
    pairs = _pair_map(ao_index, n)
    npair = nao * (nao + 1) // 2
    if isinstance(two_electron, DensityFitted):
        cderi = np.asarray(two_electron.cderi)
        padded = np.zeros((naux, npair), dtype=cderi.dtype)
        padded[:cderi.shape[0], pairs] = cderi
        return dataclasses.replace(two_electron, cderi=padded)
    eri = np.asarray(two_electron.eri)
    rows, columns = np.tril_indices(len(pairs))  # the molecule's packed (ij >= kl) order
    padded = np.zeros(npair * (npair + 1) // 2, dtype=eri.dtype)
    padded[_pair_index(pairs[rows], pairs[columns])] = eri
    return dataclasses.replace(two_electron, eri=padded)
