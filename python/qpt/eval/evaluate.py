"""Evaluate a trained QPT model on held-out geometries against converged SCF labels, next to the
no-network baseline (W = 0: the same two Fock iterations from H_init alone), so the network's own
contribution is visible.
"""
from __future__ import annotations

import os
import time
from typing import NamedTuple

from qpt import ops as kernel_ops
from qpt.eval.labels import LabelCache
from qpt.eval.metrics import format_table, geometry_metrics, mean_metrics
from qpt.model.config import PRESETS
from qpt.train.data import HELDOUT_STREAM, GeometryStream, SampleBuilder, default_workers
from qpt.train.loss import make_predictor
from qpt.train.trainer import Trainer

BASELINE_NAME = "baseline (W = 0)"


class EvaluationResult(NamedTuple):
    model: dict          # mean metrics of the trained model
    baseline: dict       # mean metrics of H = H_init
    per_geometry: list   # [(model metrics, baseline metrics)] per held-out geometry
    table: str
    seconds: float
    engine: str          # the J/K engine of the Systems (labels and predictions alike), as System.summary says


def evaluate(trainer, n_test: int, *, cache_dir=None, ops=kernel_ops, log=print) -> EvaluationResult:
    """`trainer`: a Trainer or a checkpoint path. Labels are cached in cache_dir (default: <run>/labels)."""
    if isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 1:
        raise ValueError(f"n_test must be a positive integer, got {n_test!r}")
    if not isinstance(trainer, Trainer):
        trainer = Trainer.from_checkpoint(trainer, ops=ops, progress=False, log=log)
    config = trainer.config
    start = time.perf_counter()
    cache = LabelCache(cache_dir or os.path.join(trainer.out_dir, "labels"), config.xc, ops=ops, log=log)
    builder = SampleBuilder(config.molecule, config.basis, config.grid_level, trainer.layout, config.seed,
                            config.sigma_bohr, stream=HELDOUT_STREAM, jk=config.jk, auxbasis=config.auxbasis)
    predict = make_predictor(config.model, trainer.functional, ops=ops, dtype=config.dft_dtype)

    per_geometry, engine = [], ""
    with GeometryStream(builder, range(n_test), prefetch=2, workers=config.workers or default_workers()) as stream:
        for sample in stream:
            label_start = time.perf_counter()
            label = cache.label(builder, sample)
            engine = f"{sample.system.two_electron.describe()} ({sample.system.jk_reason})"
            x, n_occ = sample.system.orthogonalizer, sample.system.n_occ
            scores = []
            for params in (trainer.local_params, None):
                result = predict(params, sample.system, trainer.token_ids, sample.positions)
                scores.append(geometry_metrics(result.fock, result.terms.total, label, x, n_occ))
            per_geometry.append(tuple(scores))
            log(f"  held-out geometry {sample.index + 1}/{n_test}: H MAE {scores[0]['hamiltonian_mae']:.1f} µHa "
                f"(baseline {scores[1]['hamiltonian_mae']:.1f})  [{time.perf_counter() - label_start:.1f} s]")
    model_mean = mean_metrics(s[0] for s in per_geometry)
    baseline_mean = mean_metrics(s[1] for s in per_geometry)
    name = f"QPT {_model_name(trainer)} ({trainer.step} steps)"
    table = format_table([(name, model_mean), (BASELINE_NAME, baseline_mean)])
    return EvaluationResult(model_mean, baseline_mean, per_geometry, table, time.perf_counter() - start, engine)


def _model_name(trainer):
    for name, preset in PRESETS.items():
        if preset.replace(dtype=trainer.config.model.dtype) == trainer.config.model:
            return name
    return f"d={trainer.config.model.d_model}, {trainer.config.model.n_layers} layers"
