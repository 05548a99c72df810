"""The System's two-electron engines side by side: per-geometry build time and memory (pytest-benchmark,
groups "system build <molecule>"), and, run as a script, the density-fitting error against exact J/K.

    pytest --benchmark-only bench/bench_engines.py          # build times per engine
    python bench/bench_engines.py water uracil [aspirin]    # build time, memory and DF error table

The script converges B3LYP5/def2-svp (grid level 3) with each engine and reports, for density fitting
(def2-universal-jkfit), |E_df - E_exact| and the H MAE (mean |F_df - F_exact| over the matrix elements,
µHa) of the converged Fock matrices; "exact" is the packed engine, or the integral-direct one where the
packed ERIs would not fit comfortably (the tests show the two agree to 1e-8 Ha).
"""
import argparse
import gc
import time

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

from qpt.dft import run_scf  # noqa: E402
from qpt.system import Molecule, System  # noqa: E402
from qpt.system.two_electron import packed_eri_bytes  # noqa: E402

BASIS, XC, GRID_LEVEL = "def2-svp", "b3lyp5", 3
PACKED_LIMIT_BYTES = 1_000_000_000  # above this the script takes the exact reference from "direct"


def _build(name, jk):
    return System.from_molecule(Molecule.from_catalog(name), basis=BASIS, grid_level=GRID_LEVEL, jk=jk)


@pytest.mark.parametrize("jk", ["packed", "df", "direct"])
@pytest.mark.parametrize("name", ["uracil", "aspirin"])
def bench_system_build(benchmark, name, jk):
    benchmark.group = f"system build {name} {BASIS} L{GRID_LEVEL}"
    if jk == "packed" and packed_eri_bytes(Molecule.from_catalog(name).to_pyscf(BASIS).nao) > 3e9:
        pytest.skip("packed ERIs above 3 GB")
    system = benchmark.pedantic(lambda: _build(name, jk), rounds=2 if jk == "packed" else 3, iterations=1)
    benchmark.extra_info["system_mb"] = round(system.nbytes / 1e6, 1)
    benchmark.extra_info["summary"] = system.summary()


def _timed_build(name, jk):
    gc.collect()
    start = time.perf_counter()
    system = _build(name, jk)
    return system, time.perf_counter() - start


def main(names):
    print(f"B3LYP5/{BASIS}, grid level {GRID_LEVEL}; DF with def2-universal-jkfit\n")
    rows = []
    for name in names:
        nao = Molecule.from_catalog(name).to_pyscf(BASIS).nao
        exact_engine = "packed" if packed_eri_bytes(nao) <= PACKED_LIMIT_BYTES else "direct"
        results = {}
        for jk in dict.fromkeys(["df", exact_engine, "direct"]):
            system, seconds = _timed_build(name, jk)
            start = time.perf_counter()
            scf = run_scf(system, XC) if jk in ("df", exact_engine) else None
            scf_seconds = time.perf_counter() - start
            results[jk] = (system, seconds, scf, scf_seconds)
            print(f"{name:10s} {jk:7s} build {seconds:6.2f} s  System {system.nbytes / 1e6:8.1f} MB"
                  + (f"  SCF {scf_seconds:6.1f} s ({scf.iterations} iterations)" if scf else ""), flush=True)
            del system
        df, exact = results["df"][2], results[exact_engine][2]
        rows.append((name, nao, exact_engine, abs(df.energy - exact.energy) * 1e3,
                     np.mean(np.abs(df.fock - exact.fock)) * 1e6))
    print("\n| molecule | N | exact from | |E_df - E_exact| (mHa) | H MAE (µHa) |\n|---|---:|---|---:|---:|")
    for name, nao, engine, energy_error, h_mae in rows:
        print(f"| {name} | {nao} | {engine} | {energy_error:.4f} | {h_mae:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("molecules", nargs="*", default=["water", "uracil"])
    main(parser.parse_args().molecules)
