"""The two-electron operator a System carries: one class per J/K engine, chosen when the System is built.

- PackedEri: libcint's 8-fold packed ERIs (N^4/8 values). Exact, and the fastest J/K for small molecules,
  but the build and the memory grow as N^4 (uracil/def2-svp: 308 MB, aspirin: 2.45 GB).
- DensityFitted: PySCF's Cholesky-factored 3-index integrals [naux, N(N+1)/2] for an auxiliary basis
  (cderi). Approximate (the fitting error; README, "Two-electron engines", has it measured), N^2 naux
  memory and a build a fraction of the ERIs' for larger molecules.
- IntegralDirect: nothing stored; every J/K call computes the ERIs from the basis shells (exact, O(N^2)
  memory, the slowest J/K).

Each class builds its arrays from a PySCF Mole (`build`), says what it is (`describe`) and contracts a
density through the matching op of the `ops` module it is handed (`contract`: qpt.ops or
qpt.ops.reference), so this file is the one place a new engine is added; qpt.dft.two_electron calls
`contract` and never names an engine. The classes are JAX pytrees: their arrays are leaves (they get
batch axes when conformers are stacked), their settings static.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import ClassVar

import jax
import numpy as np

ENGINES = ("packed", "df", "direct")
DEFAULT_ENGINE = "auto"

# "auto" keeps the exact packed ERIs while they take at most this many bytes (nao <= 90, up to
# malondialdehyde in def2-svp), where their build costs about as much as the density fitting's and their
# J/K is as fast; above it, density fitting (see README, "Two-electron engines").
AUTO_PACKED_MAX_BYTES = 70_000_000


def packed_eri_bytes(nao: int) -> int:
    npair = nao * (nao + 1) // 2
    return npair * (npair + 1) // 2 * 8


def choose_engine(jk: str, nao: int) -> tuple[str, str]:
    """(engine, why) for a request "auto" | "packed" | "df" | "direct" and a basis of nao functions."""
    if jk not in ENGINES + (DEFAULT_ENGINE,):
        raise ValueError(f"jk must be one of {(DEFAULT_ENGINE,) + ENGINES}, got {jk!r}")
    if jk != DEFAULT_ENGINE:
        return jk, "requested"
    size = packed_eri_bytes(nao)
    if size <= AUTO_PACKED_MAX_BYTES:
        return "packed", f"auto: packed ERIs {size / 1e6:.0f} MB <= {AUTO_PACKED_MAX_BYTES / 1e6:.0f} MB"
    return "df", f"auto: packed ERIs would take {size / 1e6:.0f} MB > {AUTO_PACKED_MAX_BYTES / 1e6:.0f} MB"


def _megabytes(array) -> str:
    return f"{np.asarray(array).nbytes / 1e6:.1f} MB"


@dataclass(frozen=True, eq=False)
class PackedEri:
    """8-fold packed ERIs [..., npair(npair+1)/2] in libcint's 's8' order."""

    eri: np.ndarray
    name: ClassVar[str] = "packed"

    @classmethod
    def build(cls, mol, auxbasis=None) -> "PackedEri":
        return cls(mol.intor("int2e", aosym="s8"))

    @staticmethod
    def stored_layout(nao: int) -> dict:
        """{field: (shape, dtype)} of what a System file stores for this engine (None: any size)."""
        return {"eri": ((packed_eri_bytes(nao) // 8,), np.float64)}

    def describe(self) -> str:
        return f"packed ERIs {_megabytes(self.eri)}"

    def contract(self, ops, basis, D, *, with_j, with_k, density_factor=None):
        return ops.jk(self.eri, D, with_j=with_j, with_k=with_k)


def _default_auxbasis(mol):
    """PySCF's choice (make_auxbasis: a JK-fitting basis per element, def2-universal-jkfit for the def2
    bases), as one name when every element got the same one."""
    from pyscf.df import addons

    chosen = addons.make_auxbasis(mol)
    if isinstance(chosen, dict) and len(set(map(str, chosen.values()))) == 1:
        chosen = next(iter(chosen.values()))
    if chosen in ("def2-svp-jkfit", "def2-tzvp-jkfit", "def2-qzvp-jkfit"):
        chosen = "def2-universal-jkfit"  # PySCF's names of the one universal def2 JK-fitting set
    return chosen


@dataclass(frozen=True, eq=False)
class DensityFitted:
    """Cholesky-factored 3-index integrals [..., naux, npair] (PySCF's cderi) of the auxiliary basis."""

    cderi: np.ndarray
    auxbasis: str
    name: ClassVar[str] = "df"

    @classmethod
    def build(cls, mol, auxbasis=None) -> "DensityFitted":
        from pyscf.df import incore

        if auxbasis is None:
            auxbasis = _default_auxbasis(mol)
        cderi = incore.cholesky_eri(mol, auxbasis=auxbasis, verbose=0)
        return cls(np.asarray(cderi), auxbasis if isinstance(auxbasis, str) else json.dumps(auxbasis))

    @staticmethod
    def stored_layout(nao: int) -> dict:
        return {"cderi": ((None, nao * (nao + 1) // 2), np.float64)}

    def describe(self) -> str:
        return f"density-fitted ({self.auxbasis}, naux {self.cderi.shape[-2]}) {_megabytes(self.cderi)}"

    def contract(self, ops, basis, D, *, with_j, with_k, density_factor=None):
        return ops.jk_df(self.cderi, D, density_factor=density_factor, with_j=with_j, with_k=with_k)


@dataclass(frozen=True, eq=False)
class IntegralDirect:
    """No stored integrals: J/K are computed integral-direct from the System's basis shells."""

    name: ClassVar[str] = "direct"

    @classmethod
    def build(cls, mol, auxbasis=None) -> "IntegralDirect":
        return cls()

    @staticmethod
    def stored_layout(nao: int) -> dict:
        return {}

    def describe(self) -> str:
        return "integral-direct (no stored integrals)"

    def contract(self, ops, basis, D, *, with_j, with_k, density_factor=None):
        if not hasattr(ops, "jk_direct"):
            raise ValueError("the integral-direct engine has no pure-JAX twin: use qpt.ops, or build the "
                             "System with jk='packed' or 'df' to compare with qpt.ops.reference")
        return ops.jk_direct(basis, D, with_j=with_j, with_k=with_k)


ENGINE_CLASSES = {cls.name: cls for cls in (PackedEri, DensityFitted, IntegralDirect)}

for _cls, _static in ((PackedEri, ()), (DensityFitted, ("auxbasis",)), (IntegralDirect, ())):
    jax.tree_util.register_dataclass(
        _cls, data_fields=[f.name for f in fields(_cls) if f.name not in _static], meta_fields=list(_static))
