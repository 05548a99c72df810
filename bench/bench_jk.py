"""J+K from packed ERIs: fused kernel vs pure-JAX dense einsum vs PySCF's incore get_jk (libcvhf).

Groups are "jk <molecule> <dtype>", so the three sit in one table. The pure-JAX path gets its dense
N^4 tensor for free (unpacked outside the timing), as a user of a dense-ERI code would hold it.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from inputs import packed_eri, pyscf_molecule, timed
from pyscf import scf

from qpt import ops
from qpt.ops import reference

MOLECULES = ["water", "ethanol", "benzene", "uracil"]
DTYPES = [np.float64, np.float32]


def _inputs(name, dtype):
    mol = pyscf_molecule(name)
    density = scf.hf.init_guess_by_minao(mol)
    return jnp.asarray(packed_eri(name), dtype), jnp.asarray(density, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_kernel(benchmark, name, dtype):
    benchmark.group = f"jk {name} {dtype.__name__}"
    eri, density = _inputs(name, dtype)
    timed(benchmark, jax.jit(ops.jk), eri, density, rounds=10)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_pure_jax_dense(benchmark, name, dtype):
    benchmark.group = f"jk {name} {dtype.__name__}"
    eri, density = _inputs(name, dtype)
    dense = jax.block_until_ready(reference.unpack_eri(eri, density.shape[-1]))
    del eri
    timed(benchmark, jax.jit(reference.jk), dense, density, rounds=3)


@pytest.mark.parametrize("name", MOLECULES)
def bench_jk_pyscf_incore(benchmark, name):
    benchmark.group = f"jk {name} float64"
    eri = packed_eri(name)
    density = scf.hf.init_guess_by_minao(pyscf_molecule(name))
    benchmark.pedantic(lambda: scf._vhf.incore(eri, density, hermi=1), rounds=5, iterations=1)


@pytest.mark.parametrize("name", ["uracil"])
def bench_jk_kernel_batch_of_8(benchmark, name):
    """Eight densities share one pass over the integrals (as in the SCF/QPT iterations of a batch)."""
    benchmark.group = f"jk {name} float64 batch8"
    eri, density = _inputs(name, np.float64)
    batch = jnp.stack([density * (1 + 0.01 * b) for b in range(8)])
    timed(benchmark, jax.jit(ops.jk), eri, batch, rounds=5)
