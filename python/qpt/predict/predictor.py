"""Using a trained QPT model: the Hamiltonian, orbitals, density and energy of new geometries.

`Predictor.from_checkpoint(run)` reads a checkpoint written by `qpt train` (the model, its token vocabulary
and the settings it was trained with: molecule, basis, functional, grid level); `predict(geometries)` builds
each geometry's System exactly as training did, and runs what training optimised: H = H_init + W(network),
two Fock iterations, F(D3). Geometries are predicted in batches of conformers (one kernel call per op per
batch, the ops' conformer batching), padded to a fixed batch size and grid size so a long trajectory
compiles once.
"""
from __future__ import annotations

import os
import time
from typing import NamedTuple

import jax
import numpy as np

from qpt import ops as kernel_ops
from qpt.dft.functionals import get_functional
from qpt.eval.metrics import orbitals
from qpt.model import TokenLayout, init_params
from qpt.system import Molecule, System
from qpt.train import checkpoint as checkpoints
from qpt.data.batch import stack_systems
from qpt.train.config import TrainConfig
from qpt.train.loss import geometry_prediction
from qpt.train.optimizer import make_optimizer

DEFAULT_BATCH_SIZE = 4
# Grids are padded up to a multiple of this many points: conformers of one molecule share PySCF's grid
# size, and the rounding keeps the compiled shape fixed if one ever differs by a few points.
_GRID_ALIGNMENT = 1024


class Prediction(NamedTuple):
    """One geometry's prediction, numpy arrays in atomic units (Hartree, bohr)."""

    molecule: Molecule
    hamiltonian: np.ndarray       # F(D3) [N, N], the model's Kohn-Sham Hamiltonian
    orbital_energies: np.ndarray  # [N] ascending, of F(D3) C = S C eps
    orbitals: np.ndarray          # [N, N] columns C with C^T S C = I
    density: np.ndarray           # D3 [N, N], the density whose energy is `energy` (a good SCF start)
    energy: float                 # E(D3), Hartree
    homo_lumo_gap: float          # eps_LUMO - eps_HOMO of F(D3), Hartree
    seconds: float                # wall time per geometry: System build + features + network + Fock builds


class Predictor:
    """A trained model, ready to predict geometries of the molecule it was trained on (other molecules whose
    atomic orbitals all have tokens in its vocabulary on request: a single-molecule model is not made for them)."""

    def __init__(self, config: TrainConfig, params, vocabulary, *, ops=kernel_ops, steps: int = 0,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.config = config
        self.params = params
        self.vocabulary = tuple(vocabulary)
        self.ops = ops
        self.steps = steps
        self.batch_size = batch_size
        self.functional = get_functional(config.xc)
        single = geometry_prediction(config.model, self.functional, ops=ops, dtype=config.dft_dtype,
                                     scheme=config.loss_scheme, grid_table_bytes=config.grid_table_bytes // batch_size)
        # Vmapped over conformers: every op sees the whole batch in one call.
        self._predict_batch = jax.jit(jax.vmap(single, in_axes=(None, 0, None, 0)))

    @classmethod
    def from_checkpoint(cls, path, *, ops=kernel_ops, batch_size: int = DEFAULT_BATCH_SIZE) -> "Predictor":
        """path: checkpoint.npz or the run directory holding it. ValueError for a missing, damaged or foreign file."""
        path = checkpoints.checkpoint_file(path)
        metadata = checkpoints.read_metadata(path)
        try:
            config = TrainConfig.from_dict(metadata["train_config"])
            vocabulary = tuple(metadata["vocabulary"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path} is not a valid qpt checkpoint: its settings do not load ({error})") from None
        params_template = jax.eval_shape(lambda: init_params(config.model, len(vocabulary), config.seed))
        opt_state_template = jax.eval_shape(make_optimizer(config.model.dtype).init, params_template)
        state = checkpoints.load_checkpoint(path, params_template, opt_state_template)
        return cls(config, state.params, vocabulary, ops=ops, steps=state.step, batch_size=batch_size)

    def describe(self) -> str:
        config = self.config
        trained = (config.molecule.formula if config.molecules is None
                   else f"{len(config.molecules)} molecules")
        return (f"QPT model of {trained} ({config.basis}, {config.xc}, grid level "
                f"{config.grid_level}, J/K engine {config.jk}), {self.steps} training steps")

    def _check_molecule(self, molecule: Molecule, allow_other_molecules: bool):
        """(TokenLayout, token ids) of `molecule`, or a ValueError naming what the model cannot represent."""
        trained = self.config.molecule
        many = self.config.molecules is not None  # a model of many molecules is meant for new ones
        elements = set().union(*(m.symbols for m in self.config.molecules)) if many else set(trained.symbols)
        unknown = sorted(set(molecule.symbols) - elements)
        if unknown:
            raise ValueError(f"the model has no tokens for element(s) {', '.join(unknown)}: it was trained on "
                             f"{', '.join(sorted(elements)) if many else trained.formula} ({self.config.basis})")
        if not many and not allow_other_molecules and (molecule.formula, molecule.charge) != (trained.formula, trained.charge):
            raise ValueError(f"the model was trained on {trained.formula} (charge {trained.charge}); this geometry "
                             f"is {molecule.formula} (charge {molecule.charge}): pass allow_other_molecules=True "
                             "to predict it anyway")
        layout = TokenLayout.from_molecule(molecule, self.config.basis)
        return layout, layout.token_ids(self.vocabulary)

    def predict(self, geometries, *, allow_other_molecules: bool = False, progress=None) -> list:
        """Predictions of a Molecule, a list of them, or an xyz file/text with one or more frames.

        Geometries of another molecule than the training one raise unless allow_other_molecules (a model
        trained on many molecules takes any molecule of its elements).
        progress(done, total), if given, is called after each batch.
        """
        molecules = _molecules(geometries)
        groups = {}  # conformers of one molecule (same atoms, charge, spin) share a token layout and a batch
        for position, molecule in enumerate(molecules):
            key = (molecule.symbols, molecule.charge, molecule.spin)
            groups.setdefault(key, []).append(position)
        results = [None] * len(molecules)
        done = 0
        for positions in groups.values():
            layout, token_ids = self._check_molecule(molecules[positions[0]], allow_other_molecules)
            for start in range(0, len(positions), self.batch_size):
                chunk = positions[start:start + self.batch_size]
                for position, prediction in zip(chunk, self._predict_chunk([molecules[p] for p in chunk],
                                                                           layout, token_ids)):
                    results[position] = prediction
                done += len(chunk)
                if progress is not None:
                    progress(done, len(molecules))
        return results

    def _predict_chunk(self, molecules, layout, token_ids) -> list:
        config = self.config
        started = time.perf_counter()
        systems = [System.from_molecule(m, basis=config.basis, grid_level=config.grid_level, jk=config.jk,
                                        auxbasis=config.auxbasis) for m in molecules]
        padding = self.batch_size - len(systems)  # repeat the last geometry: the compiled shape stays one
        batch_systems = systems + [systems[-1]] * padding
        positions = np.stack([layout.positions(m) for m in molecules] + [layout.positions(molecules[-1])] * padding)
        grid_points = -(-max(s.grid.size for s in systems) // _GRID_ALIGNMENT) * _GRID_ALIGNMENT
        result = self._predict_batch(self.params, stack_systems(batch_systems, grid_points), token_ids, positions)
        fock, density = np.asarray(result.fock), np.asarray(result.density)
        energy = np.asarray(result.terms.total)
        seconds = (time.perf_counter() - started) / len(molecules)
        predictions = []
        for index, (molecule, system) in enumerate(zip(molecules, systems)):
            eps, c = orbitals(fock[index], system.orthogonalizer)
            gap = float(eps[system.n_occ] - eps[system.n_occ - 1])
            predictions.append(Prediction(molecule, fock[index], eps, c, density[index], float(energy[index]),
                                          gap, seconds))
        return predictions


def _molecules(geometries) -> list:
    if isinstance(geometries, Molecule):
        return [geometries]
    if isinstance(geometries, (str, os.PathLike)):
        from qpt.system.trajectory import read_xyz_frames

        return read_xyz_frames(geometries)
    molecules = [Molecule.get(g) for g in geometries]
    if not molecules:
        raise ValueError("predict: no geometries given")
    return molecules
