"""J+K without stored ERIs: the integral-direct kernel vs PySCF's direct get_jk (libcint + libcvhf) vs
computing libcint's packed ERIs and contracting them with the packed-ERI kernel (what an on-the-fly
training step pays per geometry today).

Groups "jk_direct <molecule>" (def2-svp, float64, minao density) hold the three side by side. Group
"jk_direct scaling" times the kernel from water (N = 24) to C13H28 (41 atoms, N = 322) with PySCF's direct
get_jk next to it; each entry's extra_info has N, the peak memory the call added and what the packed ERIs
alone would take. As a script it prints that table and can plot it:

    python bench/bench_jk_direct.py [--plot scaling.png]
"""
import argparse
import sys
import time

import jax
import jax.numpy as jnp
import pytest
from inputs import pyscf_molecule, scaling_molecule, timed
from pyscf import scf

from qpt import ops
from qpt.system.basis import basis_shells_from_mol

MOLECULES = ["water", "ethanol", "benzene", "uracil"]
SCALING = ["water", "ethanol", "benzene", "uracil", "aspirin", "alkane13"]


def _density(mol):
    return scf.hf.init_guess_by_minao(mol)


def _resident_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_memory_added_mb(function):
    """Peak resident memory during function() above what was resident before it, in MB (Linux: the peak
    counter is reset through /proc/self/clear_refs first). glibc's malloc is first told to serve every block
    of 64 kB or more by mmap, so what a call frees leaves the resident set at once and a warm call's buffers
    show up in the peak instead of reusing memory that earlier calls left resident."""
    import ctypes

    m_mmap_threshold = -3
    ctypes.CDLL("libc.so.6").mallopt(m_mmap_threshold, 64 * 1024)
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = _resident_mb("VmRSS")
    function()
    return _resident_mb("VmHWM") - before


def _scaling_case(name):
    mol = scaling_molecule(name)
    basis, density = basis_shells_from_mol(mol), jnp.asarray(_density(mol))
    kernel = jax.jit(lambda d: ops.jk_direct(basis, d))
    jax.block_until_ready(kernel(density))
    return mol, kernel, density


@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_direct_kernel(benchmark, name):
    benchmark.group = f"jk_direct {name}"
    mol = pyscf_molecule(name)
    basis = basis_shells_from_mol(mol)
    timed(benchmark, jax.jit(lambda d: ops.jk_direct(basis, d)), jnp.asarray(_density(mol)), rounds=3)


@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_direct_pyscf(benchmark, name):
    benchmark.group = f"jk_direct {name}"
    mol = pyscf_molecule(name)
    density = _density(mol)
    benchmark.pedantic(lambda: scf.hf.get_jk(mol, density, hermi=1), rounds=3, iterations=1)


@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_libcint_eri_then_packed_kernel(benchmark, name):
    benchmark.group = f"jk_direct {name}"
    mol = pyscf_molecule(name)
    density = jnp.asarray(_density(mol))
    contract = jax.jit(ops.jk)

    def step():
        eri = mol.intor("int2e", aosym="s8")
        return jax.block_until_ready(contract(jnp.asarray(eri), density))

    step()
    benchmark.pedantic(step, rounds=3, iterations=1)


@pytest.mark.parametrize("name", SCALING)
def bench_jk_direct_scaling_kernel(benchmark, name):
    benchmark.group = "jk_direct scaling"
    mol, kernel, density = _scaling_case(name)
    nao = mol.nao
    benchmark.extra_info.update(
        nao=nao,
        peak_memory_added_mb=peak_memory_added_mb(lambda: jax.block_until_ready(kernel(density))),
        packed_eri_mb=nao * (nao + 1) // 2 * (nao * (nao + 1) // 2 + 1) // 2 * 8 / 2**20,
    )
    benchmark.pedantic(lambda: jax.block_until_ready(kernel(density)), rounds=2, iterations=1)


@pytest.mark.parametrize("name", SCALING)
def bench_jk_direct_scaling_pyscf(benchmark, name):
    benchmark.group = "jk_direct scaling"
    mol = scaling_molecule(name)
    density = _density(mol)
    benchmark.extra_info["nao"] = mol.nao
    benchmark.pedantic(lambda: scf.hf.get_jk(mol, density, hermi=1), rounds=1, iterations=1)


def _best_of(function, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--molecules", nargs="+", default=SCALING)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--plot", help="write a log-log plot of time and memory against N here")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'molecule':>10} {'N':>5} {'qpt s':>8} {'PySCF s':>8} {'ratio':>6} {'peak MB':>8} {'N^2 MB':>7} "
          f"{'s8 ERI MB':>10}")
    for name in args.molecules:
        mol, kernel, density = _scaling_case(name)
        ours = _best_of(lambda: jax.block_until_ready(kernel(density)), args.rounds)
        memory = peak_memory_added_mb(lambda: jax.block_until_ready(kernel(density)))
        dm = _density(mol)
        theirs = _best_of(lambda: scf.hf.get_jk(mol, dm, hermi=1), args.rounds)
        n = mol.nao
        pairs = n * (n + 1) // 2
        row = (name, n, ours, theirs, theirs / ours, memory, n * n * 8 / 2**20, pairs * (pairs + 1) // 2 * 8 / 2**20)
        rows.append(row)
        print(f"{row[0]:>10} {row[1]:>5} {row[2]:>8.3f} {row[3]:>8.3f} {row[4]:>6.2f} {row[5]:>8.1f} {row[6]:>7.2f} "
              f"{row[7]:>10.0f}", flush=True)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = [row[1] for row in rows]
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.loglog(n, [row[2] for row in rows], "o-", label="qpt jk_direct")
        left.loglog(n, [row[3] for row in rows], "s--", label="PySCF direct get_jk")
        left.set(xlabel="basis functions N (def2-svp)", ylabel="J+K time (s)", title="time")
        left.legend()
        right.loglog(n, [max(row[5], 1e-3) for row in rows], "o-", label="qpt: peak memory added")
        right.loglog(n, [row[7] for row in rows], "s--", label="8-fold packed ERIs (not stored)")
        right.set(xlabel="basis functions N (def2-svp)", ylabel="MB", title="memory")
        right.legend()
        for axis in (left, right):
            axis.set_xticks(n, [str(value) for value in n])
            axis.minorticks_off()
        figure.tight_layout()
        figure.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    main()
