"""Evaluating a model trained on many molecules on molecules it never saw: per molecule and averaged.

The held-out molecules are the `heldout` entries of the run's molecule list (or of another list). For each,
n_test geometries of its held-out stream (thermal: trajectories no run trains on) are labelled by a
converged SCF (cached, as for single-molecule runs: qpt.eval.labels) and scored with the metrics of
qpt.eval.metrics, for the model and for the W = 0 baseline. The model runs unpadded: the Transformer takes
any number of tokens, so each molecule is predicted in its own basis (one compilation per molecule).
Molecules with a token type the model has no embedding for (an element or shell absent from training) are
skipped and named.
"""
from __future__ import annotations

import os
import time
from typing import NamedTuple

from qpt import ops as kernel_ops
from qpt.data.molecule_list import read_molecule_list
from qpt.data.samples import HELDOUT_STREAM, GeometryStream, SampleBuilder, TRAJECTORY_DIRECTORY
from qpt.eval.labels import LabelCache
from qpt.eval.metrics import format_table, geometry_metrics, mean_metrics
from qpt.model import TokenLayout
from qpt.train.loss import make_predictor
from qpt.train.trainer import Trainer


class MoleculeScore(NamedTuple):
    name: str
    formula: str
    model: dict       # mean metrics over the molecule's geometries
    baseline: dict


class ManyMoleculeEvaluation(NamedTuple):
    molecules: tuple  # MoleculeScore per evaluated molecule
    model: dict       # mean over molecules (each molecule weighs the same)
    baseline: dict
    skipped: tuple    # (name, reason)
    table: str
    seconds: float


def evaluate_heldout_molecules(trainer, n_test: int = 2, *, molecule_list=None, max_molecules=None,
                               cache_dir=None, ops=kernel_ops, log=print) -> ManyMoleculeEvaluation:
    """`trainer`: a many-molecule Trainer or its checkpoint. molecule_list: default the run's own list (its
    heldout split); max_molecules: the first so many held-out molecules only."""
    if isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 1:
        raise ValueError(f"n_test must be a positive integer, got {n_test!r}")
    if not isinstance(trainer, Trainer):
        trainer = Trainer.from_checkpoint(trainer, ops=ops, progress=False, log=log)
    config = trainer.config
    source = molecule_list or config.molecule_list
    if source is None:
        raise ValueError("this run was given its molecules directly, not as a list: pass molecule_list")
    heldout = read_molecule_list(source, basis=config.basis).split("heldout").entries
    if not heldout:
        raise ValueError(f"molecule list {source} has no heldout entries")
    if max_molecules is not None:
        heldout = heldout[:max_molecules]
    start = time.perf_counter()
    cache = LabelCache(cache_dir or os.path.join(trainer.out_dir, "labels"), config.xc, ops=ops, log=log)
    predict = make_predictor(config.model, trainer.functional, ops=ops, dtype=config.dft_dtype,
                             scheme=config.loss_scheme, grid_table_bytes=config.grid_table_bytes)
    scores, skipped = [], []
    for entry in heldout:
        layout = TokenLayout.from_molecule(entry.molecule, config.basis)
        try:
            token_ids = layout.token_ids(trainer.vocabulary)
        except ValueError as error:
            skipped.append((entry.name, str(error)))
            continue
        builder = SampleBuilder(entry.molecule, config.basis, config.grid_level, layout.ao_atoms, config.seed,
                                config.sigma_bohr, HELDOUT_STREAM, config.thermal_settings,
                                os.path.join(trainer.out_dir, TRAJECTORY_DIRECTORY), jk=config.jk,
                                auxbasis=config.auxbasis)
        per_geometry = []
        with GeometryStream(builder, range(n_test), workers=1, processes=False) as stream:
            for sample in stream:
                label = cache.label(builder, sample)
                x, n_occ = sample.system.orthogonalizer, sample.system.n_occ
                per_geometry.append(tuple(
                    geometry_metrics(result.fock, result.terms.total, label, x, n_occ)
                    for result in (predict(params, sample.system, token_ids, sample.positions)
                                   for params in (trainer.local_params, None))))
        score = MoleculeScore(entry.name, entry.molecule.formula, mean_metrics(s[0] for s in per_geometry),
                              mean_metrics(s[1] for s in per_geometry))
        scores.append(score)
        log(f"  held-out molecule {len(scores)}/{len(heldout)} {entry.name} ({score.formula}): H MAE "
            f"{score.model['hamiltonian_mae']:.1f} µHa (baseline {score.baseline['hamiltonian_mae']:.1f})")
    if not scores:
        raise ValueError(f"none of the {len(heldout)} held-out molecules could be evaluated; first: {skipped[0]}")
    model, baseline = mean_metrics(s.model for s in scores), mean_metrics(s.baseline for s in scores)
    rows = [(f"QPT ({trainer.step} steps), mean of {len(scores)} molecules", model), ("baseline (W = 0)", baseline)]
    for score in scores:
        rows += [(f"  {score.name} ({score.formula})", score.model), (f"  {score.name} W = 0", score.baseline)]
    table = (f"{len(scores)} held-out molecules of {source}, {n_test} geometries each"
             + (f"; skipped {len(skipped)}: " + "; ".join(f"{n}: {r}" for n, r in skipped) if skipped else "")
             + ":\n" + format_table(rows))
    return ManyMoleculeEvaluation(tuple(scores), model, baseline, tuple(skipped), table, time.perf_counter() - start)
