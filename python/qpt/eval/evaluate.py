"""Evaluate a trained QPT model on held-out geometries against converged SCF labels, next to the
no-network baseline (W = 0: the same two Fock iterations from H_init alone), so the network's own
contribution is visible.

The held-out geometries are either a `qpt dataset` label set (dataset=FILE: independent MD, labels
stored in the file) or the first n_test geometries of the run's own held-out stream (labels computed
once and cached).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

from qpt import ops as kernel_ops
from qpt.data.label_set import read_label_set
from qpt.data.streams import DATASET_STREAM
from qpt.eval.labels import LabelCache
from qpt.eval.metrics import format_table, geometry_metrics, mean_metrics
from qpt.eval.scf_iterations import pyscf_scf_iterations
from qpt.model.config import PRESETS
from qpt.system import Molecule
from qpt.data.samples import HELDOUT_STREAM, GeometryStream, SampleBuilder, default_workers
from qpt.train.loss import make_predictor
from qpt.train.trainer import Trainer

BASELINE_NAME = "baseline (W = 0)"
_OVERLAP_TOLERANCE = 1e-9  # a label set's stored overlap vs the System's: same basis and geometry


class EvaluationResult(NamedTuple):
    model: dict          # mean metrics of the trained model
    baseline: dict       # mean metrics of H = H_init
    per_geometry: list   # [(model metrics, baseline metrics)] per held-out geometry
    table: str
    seconds: float
    engine: str          # the J/K engine of the Systems (labels and predictions alike), as System.summary says
    scf_iterations: Optional[dict] = None  # mean PySCF iterations per starting density, if measured


@dataclass(frozen=True, eq=False)
class _StoredGeometries(SampleBuilder):
    """Samples of the stored geometries of a label set (geometry index = entry of the set)."""

    coordinates: Optional[np.ndarray] = None  # [n, A, 3] bohr

    def geometry(self, index: int) -> Molecule:
        return Molecule(self.molecule.symbols, self.coordinates[index], self.molecule.charge, self.molecule.spin)


def _check_compatible(label_set, config):
    meta, molecule = label_set.metadata, config.molecule
    stored = meta["molecule"]
    if (tuple(stored["symbols"]) != molecule.symbols or stored["charge"] != molecule.charge
            or stored["spin"] != molecule.spin):
        raise ValueError(f"{label_set.path} is a set of {''.join(stored['symbols'])} (charge {stored['charge']}, "
                         f"spin {stored['spin']}); the model was trained on {molecule.formula} (charge "
                         f"{molecule.charge}, spin {molecule.spin}) with atoms in another order or state")
    for name, trained in (("basis", config.basis), ("xc", config.xc)):
        if meta[name] != trained:
            raise ValueError(f"{label_set.path} has {name} {meta[name]!r}, the model was trained with {trained!r}")


def evaluate(trainer, n_test: Optional[int] = None, *, dataset=None, cache_dir=None, ops=kernel_ops,
             scf_iterations: bool = False, log=print) -> EvaluationResult:
    """`trainer`: a Trainer or a checkpoint path. Without `dataset`: n_test geometries of the run's held-out
    stream, labels cached in cache_dir (default: <run>/labels). With `dataset` (a `qpt dataset` file): its
    first n_test geometries (all when n_test is None). scf_iterations: also count PySCF's SCF iterations
    from the model's and the baseline's densities and from PySCF's default guess."""
    if n_test is not None and (isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 1):
        raise ValueError(f"n_test must be a positive integer, got {n_test!r}")
    if dataset is None and n_test is None:
        raise ValueError("give the number of held-out geometries (n_test) or a label set (dataset)")
    label_set = read_label_set(dataset) if dataset is not None else None  # a bad file fails before any work
    if not isinstance(trainer, Trainer):
        trainer = Trainer.from_checkpoint(trainer, ops=ops, progress=False, log=log)
    config = trainer.config
    if config.molecules is not None:
        raise ValueError("this run trained on many molecules: evaluate it on held-out molecules with "
                         "qpt.eval.many_molecules.evaluate_heldout_molecules (qpt eval does)")
    start = time.perf_counter()
    if label_set is not None:
        _check_compatible(label_set, config)
        n_test = len(label_set) if n_test is None else min(n_test, len(label_set))
        builder = _StoredGeometries(config.molecule, config.basis, label_set.metadata["grid_level"],
                                    trainer.layout.ao_atoms, config.seed, config.sigma_bohr, DATASET_STREAM, jk=config.jk,
                                    auxbasis=config.auxbasis, coordinates=label_set.arrays["coordinates"][:n_test])
        where = f"{n_test} geometries of {label_set.path}"
    else:
        cache = LabelCache(cache_dir or os.path.join(trainer.out_dir, "labels"), config.xc, ops=ops, log=log)
        builder = SampleBuilder.for_run(config, trainer.layout.ao_atoms, trainer.out_dir, HELDOUT_STREAM)
        where = f"{n_test} held-out geometries of the run"
    predict = make_predictor(config.model, trainer.functional, ops=ops, dtype=config.dft_dtype,
                             scheme=config.loss_scheme, grid_table_bytes=config.grid_table_bytes)

    per_geometry, iterations, engine = [], [], ""
    with GeometryStream(builder, range(n_test), prefetch=2, workers=config.workers or default_workers()) as stream:
        for sample in stream:
            label_start = time.perf_counter()
            if label_set is not None:
                label = label_set.entry(sample.index)
                if np.max(np.abs(np.asarray(sample.system.overlap) - label.overlap)) > _OVERLAP_TOLERANCE:
                    raise ValueError(f"{label_set.path}: geometry {sample.index}'s stored overlap matrix differs "
                                     "from the one of its basis and coordinates")
            else:
                label = cache.label(builder, sample)
            engine = f"{sample.system.two_electron.describe()} ({sample.system.jk_reason})"
            x, n_occ = sample.system.orthogonalizer, sample.system.n_occ
            scores, densities = [], []
            for params in (trainer.local_params, None):
                result = predict(params, sample.system, trainer.token_ids, sample.positions)
                scores.append(geometry_metrics(result.fock, result.terms.total, label, x, n_occ))
                densities.append(np.asarray(result.density))
            per_geometry.append(tuple(scores))
            if scf_iterations:
                iterations.append([pyscf_scf_iterations(sample.molecule, config.basis, config.xc, builder.grid_level,
                                                        density)[0] for density in (*densities, None)])
            log(f"  held-out geometry {sample.index + 1}/{n_test}: H MAE {scores[0]['hamiltonian_mae']:.1f} µHa "
                f"(baseline {scores[1]['hamiltonian_mae']:.1f})  [{time.perf_counter() - label_start:.1f} s]")
    model_mean = mean_metrics(s[0] for s in per_geometry)
    baseline_mean = mean_metrics(s[1] for s in per_geometry)
    name = f"QPT {_model_name(trainer)} ({trainer.step} steps)"
    table = f"{where}, J/K {engine}:\n" + format_table([(name, model_mean), (BASELINE_NAME, baseline_mean)])
    mean_iterations = None
    if scf_iterations:
        model_it, baseline_it, default_it = np.mean(np.asarray(iterations, dtype=np.float64), axis=0)
        mean_iterations = {"model": float(model_it), "baseline": float(baseline_it), "default_guess": float(default_it)}
        table += (f"\nPySCF SCF iterations to convergence (mean): from the model's density {model_it:.1f}, from the "
                  f"W = 0 density {baseline_it:.1f}, from PySCF's default guess (minao) {default_it:.1f}")
    return EvaluationResult(model_mean, baseline_mean, per_geometry, table, time.perf_counter() - start, engine,
                            mean_iterations)


def _model_name(trainer):
    for name, preset in PRESETS.items():
        if preset.replace(dtype=trainer.config.model.dtype) == trainer.config.model:
            return name
    return f"d={trainer.config.model.d_model}, {trainer.config.model.n_layers} layers"
