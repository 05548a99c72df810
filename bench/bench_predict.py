"""Using a trained model: a prediction against a converged SCF of the same geometry, and the SCF from the
predicted density against the usual starting guesses.

Speed (pytest group "predict <molecule>", or `python bench/bench_predict.py --molecule uracil`): one
geometry through qpt.Predictor (System build + features + network + the three Fock builds, after
compilation), next to qpt's own run_scf from the minao guess and PySCF's RKS (default guess), same basis,
functional and grid. The script also splits the prediction's time into its parts. The network's weights
do not change the time, so an untrained model of the preset size is used unless --checkpoint is given.

Guess quality (script only, needs --checkpoint RUN): on held-out geometries of the run's molecule, the
iterations and wall time to converge from qpt's minao guess (qpt.dft.run_scf), from PySCF's default guess
(minao as well, PySCF's own SCF), from PySCF's 'atom' guess, and from the prediction's density D3 (both
SCF codes), to PySCF's default tolerance (conv_tol 1e-9).
"""
import argparse
import functools
import os
import time

import jax
import numpy as np
import pytest
from inputs import best_seconds
from pyscf import dft as pyscf_dft

from qpt import dft
from qpt.model import TokenLayout, hamiltonian_correction, init_params
from qpt.predict import Predictor
from qpt.system import Molecule, System
from qpt.train.config import TrainConfig
from qpt.data.samples import HELDOUT_STREAM, SampleBuilder
from qpt.train.features import quantum_features

XC, BASIS, GRID_LEVEL = "b3lyp5", "def2-svp", 3
# PySCF's defaults: conv_tol 1e-9 Ha and conv_tol_grad sqrt(conv_tol); run_scf is given the same.
PYSCF_TOLERANCES = dict(energy_tolerance=1e-9, commutator_tolerance=1e-9 ** 0.5)


def untrained_predictor(molecule, model="tiny", basis=BASIS, grid_level=GRID_LEVEL):
    config = TrainConfig(molecule=molecule, basis=basis, xc=XC, grid_level=grid_level, model=model, steps=1)
    vocabulary = TokenLayout.from_molecule(config.molecule, basis).vocabulary()
    return Predictor(config, init_params(config.model, len(vocabulary), 0), vocabulary, batch_size=1)


def pyscf_rks(molecule, basis, grid_level, dm0=None, init_guess=None):
    mf = pyscf_dft.RKS(molecule.to_pyscf(basis))
    mf.xc, mf.grids.level, mf.verbose = XC, grid_level, 0
    if init_guess is not None:
        mf.init_guess = init_guess
    energy = mf.kernel(dm0=dm0)
    return energy, int(mf.cycles), bool(mf.converged)


def prediction_parts(predictor, molecule):
    """Seconds of each part of one prediction (after compilation): System build, features, network, Fock builds."""
    config = predictor.config
    layout = TokenLayout.from_molecule(molecule, config.basis)
    token_ids, positions = layout.token_ids(predictor.vocabulary), layout.positions(molecule)
    start = time.perf_counter()
    system = System.from_molecule(molecule, basis=config.basis, grid_level=config.grid_level)
    build = time.perf_counter() - start
    functional = predictor.functional
    features_of = jax.jit(lambda s: quantum_features(s, token_ids, positions, functional, ops=predictor.ops))
    features = features_of(system)
    network = jax.jit(lambda p, f: hamiltonian_correction(p, config.model, f.inputs))
    iterations = jax.jit(lambda s, h: dft.dft_iterations(s, h, functional, ops=predictor.ops))
    h = features.initial_hamiltonian + network(predictor.params, features).astype(features.initial_hamiltonian.dtype)
    return {"system_build": build,
            "features": best_seconds(lambda: jax.block_until_ready(features_of(system)), 2),
            "network": best_seconds(lambda: jax.block_until_ready(network(predictor.params, features)), 2),
            "fock_builds": best_seconds(lambda: jax.block_until_ready(iterations(system, h).fock), 2)}


def speed_table(molecule_name, model="tiny"):
    molecule = Molecule.get(molecule_name)
    predictor = untrained_predictor(molecule, model)
    predictor.predict(molecule)  # compile
    prediction = min((predictor.predict(molecule)[0].seconds for _ in range(2)))
    system = System.from_molecule(molecule, basis=BASIS, grid_level=GRID_LEVEL)
    dft.run_scf(system, XC, max_iterations=2)  # compile the SCF's Fock build and diagonalisation
    start = time.perf_counter()
    system = System.from_molecule(molecule, basis=BASIS, grid_level=GRID_LEVEL)
    qpt_scf = dft.run_scf(system, XC, **PYSCF_TOLERANCES)
    qpt_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pyscf_rks(molecule, BASIS, GRID_LEVEL)
    pyscf_seconds = time.perf_counter() - start
    parts = prediction_parts(predictor, molecule)
    print(f"{molecule.formula} {BASIS} {XC} grid {GRID_LEVEL} ({model} model):")
    print(f"  prediction (System build + features + network + 3 Fock builds): {prediction:.2f} s")
    for name, seconds in parts.items():
        print(f"    {name:14s} {seconds:.3f} s")
    print(f"  qpt run_scf from minao (System build included, {qpt_scf.iterations} iterations): {qpt_seconds:.2f} s"
          f"  -> {qpt_seconds / prediction:.1f}x the prediction")
    print(f"  PySCF RKS (default guess): {pyscf_seconds:.2f} s  -> {pyscf_seconds / prediction:.1f}x the prediction")


def guess_table(checkpoint, count):
    predictor = Predictor.from_checkpoint(checkpoint)
    config = predictor.config
    layout = TokenLayout.from_molecule(config.molecule, config.basis)
    builder = SampleBuilder.for_run(config, layout.ao_atoms, os.path.dirname(os.path.abspath(checkpoint))
                                    if os.path.isfile(checkpoint) else checkpoint, HELDOUT_STREAM)
    rows = {name: [] for name in ("qpt from minao", "qpt from prediction", "PySCF default (minao)",
                                  "PySCF 'atom'", "PySCF from prediction")}
    warm = builder.geometry(0)  # compile run_scf's steps for these shapes first, so no row times compilation
    dft.run_scf(System.from_molecule(warm, basis=config.basis, grid_level=config.grid_level, jk=config.jk,
                                     auxbasis=config.auxbasis), config.xc, max_iterations=2)
    predictor.predict(warm)
    for index in range(count):
        molecule = builder.geometry(index)
        system = System.from_molecule(molecule, basis=config.basis, grid_level=config.grid_level, jk=config.jk,
                                      auxbasis=config.auxbasis)
        density = predictor.predict(molecule)[0].density
        for name, run in (("qpt from minao", lambda: dft.run_scf(system, config.xc, **PYSCF_TOLERANCES)),
                          ("qpt from prediction", lambda: dft.run_scf(system, config.xc, initial_density=density,
                                                                      **PYSCF_TOLERANCES))):
            start = time.perf_counter()
            result = run()
            rows[name].append((result.iterations, time.perf_counter() - start))
        for name, kwargs in (("PySCF default (minao)", {}), ("PySCF 'atom'", {"init_guess": "atom"}),
                             ("PySCF from prediction", {"dm0": density})):
            start = time.perf_counter()
            _, cycles, _ = pyscf_rks(molecule, config.basis, config.grid_level, **kwargs)
            rows[name].append((cycles, time.perf_counter() - start))
    print(f"SCF to PySCF's default tolerance on {count} held-out geometries ({predictor.describe()}):")
    print(f"  {'start':24s} {'iterations (mean)':>18s} {'seconds (mean)':>15s}")
    for name, values in rows.items():
        iterations, seconds = np.mean(values, axis=0)
        print(f"  {name:24s} {iterations:18.1f} {seconds:15.2f}")


@functools.lru_cache(maxsize=None)
def _water():
    molecule = Molecule.from_catalog("water")
    return molecule, untrained_predictor(molecule)


@pytest.mark.parametrize("what", ["prediction", "qpt run_scf", "PySCF RKS"])
def bench_predict_water(benchmark, what):
    molecule, predictor = _water()
    benchmark.group = "predict water def2-svp (one geometry, System build included)"
    if what == "prediction":
        predictor.predict(molecule)
        benchmark(lambda: predictor.predict(molecule))
    elif what == "qpt run_scf":
        dft.run_scf(System.from_molecule(molecule, basis=BASIS, grid_level=GRID_LEVEL), XC, max_iterations=2)
        benchmark(lambda: dft.run_scf(System.from_molecule(molecule, basis=BASIS, grid_level=GRID_LEVEL), XC))
    else:
        benchmark(lambda: pyscf_rks(molecule, BASIS, GRID_LEVEL))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--molecule", default="uracil")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--checkpoint", help="a trained run: also measure the SCF from its predictions")
    parser.add_argument("--geometries", type=int, default=5, help="held-out geometries for the guess table")
    args = parser.parse_args()
    speed_table(args.molecule, args.model)
    if args.checkpoint:
        guess_table(args.checkpoint, args.geometries)


if __name__ == "__main__":
    main()
