"""The System's choice of two-electron engine: what each one stores, what "auto" picks, and files."""
import json
import os

import jax
import numpy as np
import pytest
from pyscf import df, gto

from qpt.system import Molecule, System
from qpt.system import two_electron
from qpt.system.two_electron import AUTO_PACKED_MAX_BYTES, choose_engine, packed_eri_bytes

JKFIT = "def2-universal-jkfit"


@pytest.fixture(scope="module")
def engines():
    return {jk: System.from_molecule("water", basis="def2-svp", grid_level=0, jk=jk) for jk in ("packed", "df",
                                                                                                   "direct")}


def _in_core_cderi(mol, auxbasis):
    """PySCF's DF cderi held in memory (PySCF writes it to a temporary file instead when the process already
    uses more than max_memory, as it does late in a long test run)."""
    fit = df.DF(mol, auxbasis=auxbasis)
    fit.max_memory = 10**6  # MB
    return fit.build()._cderi


def test_density_fitted_system_holds_pyscf_cderi_and_no_eri(engines):
    system = engines["df"]
    mol = Molecule.get("water").to_pyscf("def2-svp")
    expected = np.asarray(_in_core_cderi(mol, JKFIT))
    assert system.jk_engine == "df" and system.two_electron.auxbasis == JKFIT
    np.testing.assert_allclose(system.two_electron.cderi, expected, rtol=0, atol=1e-12)
    with pytest.raises(AttributeError, match="no packed ERIs"):
        system.eri
    assert "density-fitted (def2-universal-jkfit, naux" in system.summary()


def test_direct_system_stores_no_integrals(engines):
    direct, packed = engines["direct"], engines["packed"]
    assert direct.jk_engine == "direct"
    assert direct.nbytes < packed.nbytes - packed.eri.nbytes + 1
    assert "integral-direct" in direct.summary()


@pytest.mark.parametrize("jk", ["df", "direct"])
def test_engines_without_packed_eris_never_compute_them(jk, monkeypatch):
    original = gto.Mole.intor

    def intor(self, name, *args, **kwargs):
        if name.startswith("int2e"):
            raise AssertionError(f"packed ERIs computed for jk={jk!r}")
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(gto.Mole, "intor", intor)
    System.from_molecule("water", basis="sto-3g", grid_level=0, jk=jk)


def test_auto_rule_by_the_size_of_the_packed_eris():
    mol = Molecule.get("water").to_pyscf("6-31g")
    assert packed_eri_bytes(mol.nao) == mol.intor("int2e", aosym="s8").nbytes
    assert choose_engine("auto", 72)[0] == "packed"
    assert choose_engine("auto", 90)[0] == "packed"   # malondialdehyde/def2-svp, 67 MB
    assert choose_engine("auto", 132)[0] == "df"      # uracil/def2-svp, 308 MB
    assert packed_eri_bytes(90) <= AUTO_PACKED_MAX_BYTES < packed_eri_bytes(92)
    engine, why = choose_engine("auto", 132)
    assert why.startswith("auto:") and "308 MB" in why
    assert choose_engine("direct", 132) == ("direct", "requested")
    system = System.from_molecule("water", basis="sto-3g", grid_level=0)
    assert system.jk_engine == "packed" and "(auto: packed ERIs" in system.summary()


def test_bad_engine_arguments_raise():
    with pytest.raises(ValueError, match="jk must be one of"):
        System.from_molecule("water", basis="sto-3g", grid_level=0, jk="ri")
    with pytest.raises(ValueError, match="auxbasis is for jk='df'"):
        System.from_molecule("water", basis="sto-3g", grid_level=0, jk="packed", auxbasis="weigend")


def test_explicit_auxbasis(tmp_path):
    system = System.from_molecule("water", basis="sto-3g", grid_level=0, jk="df", auxbasis="weigend")
    mol = Molecule.get("water").to_pyscf("sto-3g")
    np.testing.assert_allclose(system.two_electron.cderi, _in_core_cderi(mol, "weigend"), atol=1e-12)
    system.save(tmp_path / "s.npz")
    assert System.load(tmp_path / "s.npz").two_electron.auxbasis == "weigend"


@pytest.mark.parametrize("jk", ["packed", "df", "direct"])
def test_save_load_round_trip_per_engine(engines, jk, tmp_path):
    system = engines[jk]
    path = tmp_path / "system.npz"
    system.save(path)
    loaded = System.load(path)
    assert loaded.jk_engine == jk and loaded.summary() == system.summary()
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(system)
    for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(system)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def _rewrite(path, arrays, **metadata_changes):
    metadata = json.loads(str(arrays.pop("metadata")))
    metadata.update(metadata_changes)
    for key in [key for key, value in metadata.items() if value is None]:
        del metadata[key]
    arrays["metadata"] = np.array(json.dumps(metadata))
    np.savez(path, **arrays)


def test_version_1_files_load_as_packed_systems(engines, tmp_path):
    """A file as version 1 wrote it (packed ERIs under "eri", no engine metadata) loads as a packed System."""
    system = engines["packed"]
    path = tmp_path / "v2.npz"
    system.save(path)
    with np.load(path) as file:
        arrays = {name: file[name] for name in file.files}
    arrays["eri"] = arrays.pop("two_electron.eri")
    old = tmp_path / "v1.npz"
    _rewrite(old, dict(arrays), version=1, jk_engine=None, auxbasis=None, jk_reason=None)
    loaded = System.load(old)
    assert loaded.jk_engine == "packed" and "version-1 file" in loaded.jk_reason
    np.testing.assert_array_equal(loaded.eri, system.eri)
    np.testing.assert_array_equal(loaded.overlap, system.overlap)

    del arrays["eri"]
    broken = tmp_path / "v1-without-eri.npz"
    _rewrite(broken, dict(arrays), version=1, jk_engine=None, auxbasis=None, jk_reason=None)
    with pytest.raises(ValueError, match=r"missing arrays \['two_electron.eri'\]"):
        System.load(broken)


def test_unknown_versions_and_engines_are_rejected(engines, tmp_path):
    path = tmp_path / "system.npz"
    engines["df"].save(path)
    with np.load(path) as file:
        arrays = {name: file[name] for name in file.files}
    future = tmp_path / "v3.npz"
    _rewrite(future, dict(arrays), version=3)
    with pytest.raises(ValueError, match="version 1 or 2"):
        System.load(future)
    unknown = tmp_path / "unknown-engine.npz"
    _rewrite(unknown, dict(arrays), jk_engine="ri-k")
    with pytest.raises(ValueError, match="unknown J/K engine"):
        System.load(unknown)
    assert sorted(os.listdir(tmp_path)) == ["system.npz", "unknown-engine.npz", "v3.npz"]


def test_every_engine_class_is_registered():
    assert set(two_electron.ENGINE_CLASSES) == set(two_electron.ENGINES)
