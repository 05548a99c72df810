"""One QPT training step (uracil, def2-svp, B3LYP5, grid level 3, tiny model, batch 1): kernel ops with
each two-electron engine (packed ERIs, density fitting, integral-direct) vs pure-JAX reference ops, in
one group.

The timed function is the trainer's own jitted step (with its default AO-table budget: the kernel ops
tabulate the grid once per step), for a batch of one geometry on a one-device mesh
(quantum features, network, three differentiable Fock builds forward and backward, AdamW update), on a
System built beforehand. Each benchmark also records a breakdown in benchmark.extra_info (seconds, best
of a few calls after compilation) and prints it (visible with -s):
- system_build: Molecule -> System on the host (PySCF integrals of the engine, grid, minao guess; the
  trainer's worker processes do this while the previous step runs), and system_mb, its size;
- features: D0 -> H_init = F(D0) and the quantum attention biases (one J/K call, one grid pass);
- network_forward: the Transformer, H = H_init + W;
- dft_forward: dft_iterations from H to E(D3);
- dft_forward_backward: E(D3) and dE/dH;
- train_step: the whole step (the benchmark's best round).
The reference ops unpack the dense N^4 ERI tensor (2.4 GB in float64 for uracil/def2-svp).
"""
import functools
import time

import jax
import numpy as np
import pytest
from inputs import timed

from qpt import ops
from qpt.dft.functionals import get_functional
from qpt.dft.iterations import dft_iterations
from qpt.model import TokenLayout, get_model_config, hamiltonian_correction, init_params
from qpt.ops import reference
from qpt.system import Molecule, System
from qpt.data.batch import stack_systems
from qpt.train.config import DEFAULT_GRID_TABLE_GIB
from qpt.train.features import quantum_features
from qpt.train.optimizer import make_optimizer
from qpt.train.parallel import make_data_mesh
from qpt.train.trainer import make_train_step

MOLECULE, BASIS, XC, GRID_LEVEL = "uracil", "def2-svp", "b3lyp5", 3
BACKENDS = {"kernels": ops, "reference": reference}
CASES = [("kernels", "packed"), ("kernels", "df"), ("kernels", "direct"), ("reference", "packed")]


@functools.lru_cache(maxsize=None)
def _inputs(jk):
    molecule = Molecule.from_catalog(MOLECULE)
    start = time.perf_counter()
    system = System.from_molecule(molecule, basis=BASIS, grid_level=GRID_LEVEL, jk=jk)
    build_seconds = time.perf_counter() - start
    layout = TokenLayout.from_molecule(molecule, BASIS)
    vocabulary = layout.vocabulary()
    return system, layout.token_ids(vocabulary), layout.positions(molecule), len(vocabulary), build_seconds


def _best_of(function, *args, repeats=3):
    jax.block_until_ready(function(*args))  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(*args))
        best = min(best, time.perf_counter() - start)
    return best


def _breakdown(backend, model_config, functional, params, system, token_ids, positions, repeats):
    features_of = jax.jit(lambda s: quantum_features(s, token_ids, positions, functional, ops=backend))
    features = features_of(system)
    network = jax.jit(lambda p, f: f.initial_hamiltonian + hamiltonian_correction(p, model_config, f.inputs))
    hamiltonian = network(params, features)
    energy = jax.jit(lambda h, s: dft_iterations(s, h, functional, ops=backend).terms.total)
    energy_and_gradient = jax.jit(jax.value_and_grad(energy))
    return {
        "features": _best_of(features_of, system, repeats=repeats),
        "network_forward": _best_of(network, params, features, repeats=repeats),
        "dft_forward": _best_of(energy, hamiltonian, system, repeats=repeats),
        "dft_forward_backward": _best_of(energy_and_gradient, hamiltonian, system, repeats=repeats),
    }


@pytest.mark.parametrize("backend,jk", CASES, ids=[f"{b}-{jk}" for b, jk in CASES])
def bench_train_step(benchmark, backend, jk):
    benchmark.group = f"qpt train step {MOLECULE} {BASIS} {XC} L{GRID_LEVEL} tiny"
    ops_module = BACKENDS[backend]
    system, token_ids, positions, vocabulary_size, build_seconds = _inputs(jk)
    model_config = get_model_config("tiny")
    functional = get_functional(XC)
    optimizer = make_optimizer(model_config.dtype)
    params = init_params(model_config, vocabulary_size)
    opt_state = optimizer.init(params)
    step = make_train_step(model_config, functional, optimizer, ops=ops_module, dft_dtype="float64",
                           mesh=make_data_mesh(1), grid_table_bytes=int(DEFAULT_GRID_TABLE_GIB * 2**30))
    repeats = 3 if backend == "kernels" else 1
    times = {"system_build": build_seconds,
             **_breakdown(ops_module, model_config, functional, params, system, token_ids, positions, repeats)}
    arguments = (params, opt_state, stack_systems([system]), token_ids, positions[None], np.float64(1e-4))
    timed(benchmark, step, *arguments, rounds=3 if backend == "kernels" else 2)
    if benchmark.stats is not None:  # None under --benchmark-disable
        times["train_step"] = benchmark.stats.stats.min
    benchmark.extra_info.update({f"{name}_s": round(seconds, 4) for name, seconds in times.items()})
    benchmark.extra_info["system_mb"] = round(system.nbytes / 1e6, 1)
    breakdown = ", ".join(f"{name} {seconds * 1e3:.0f} ms" for name, seconds in times.items())
    print(f"\n{backend} {jk} breakdown: {breakdown}, system {system.nbytes / 1e6:.0f} MB")
