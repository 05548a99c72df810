"""`qpt dataset` label sets: labels equal PySCF's converged SCF, the build resumes without recomputing,
damaged or edited files are caught (and rebuilt where the command can), and `qpt eval --dataset` scores
a model on them."""
import os

import numpy as np
import pytest
from pyscf import dft as pyscf_dft

import qpt.eval.label_sets as label_sets
from qpt import dft
from qpt.commands import main
from qpt.data.label_set import read_label_set
from qpt.data.thermal_settings import ThermalSettings
from qpt.dft.scf import run_scf
from qpt.eval.evaluate import evaluate
from qpt.eval.label_sets import LabelSetSpec, build_label_set
from qpt.eval.scf_iterations import pyscf_scf_iterations
from qpt.system import System
from qpt.train.config import TrainConfig
from qpt.train.trainer import Trainer

FAST_MD = ThermalSettings(timestep_fs=0.5, spacing_fs=2.0, equilibration_fs=5.0)
SPEC = LabelSetSpec("water", basis="sto-3g", xc="b3lyp5", grid_level=0, thermal=FAST_MD)
QUIET = dict(workers=1, processes=False, progress=False, log=lambda *_: None)


@pytest.fixture(scope="module")
def label_set_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sets") / "water.npz")
    build_label_set(SPEC, 3, path, **QUIET)
    return path


def _counting_scf(monkeypatch):
    calls = []
    real = run_scf

    def counted(system, *args, **kwargs):
        calls.append(system)
        return real(system, *args, **kwargs)

    monkeypatch.setattr(label_sets, "run_scf", counted)
    return calls


def test_labels_are_pyscf_converged_scf(label_set_path):
    label_set = read_label_set(label_set_path)
    assert len(label_set) == 3 and not os.path.exists(label_set_path + ".parts")
    assert label_set.metadata["geometries"]["stream"] == 2 and label_set.metadata["n_ao"] == 7
    coordinates = label_set.arrays["coordinates"]
    assert len({c.tobytes() for c in coordinates}) == 3
    for index in range(3):
        molecule, entry = label_set.molecule(index), label_set.entry(index)
        mf = pyscf_dft.RKS(molecule.to_pyscf("sto-3g"))
        mf.xc, mf.grids.level, mf.conv_tol, mf.verbose = "b3lyp5", 0, 1e-12, 0
        assert entry.converged and abs(entry.energy - mf.kernel()) < 1e-8
        np.testing.assert_allclose(entry.fock, mf.get_fock(), atol=1e-6)
        np.testing.assert_allclose(entry.overlap, mf.get_ovlp(), atol=1e-13)
        np.testing.assert_allclose(entry.orbital_energies, mf.mo_energy, atol=1e-6)
        occupied = entry.orbitals[:, :5]
        np.testing.assert_allclose(occupied @ occupied.T, mf.mo_coeff[:, :5] @ mf.mo_coeff[:, :5].T, atol=1e-5)


def test_an_interrupted_build_resumes_and_a_set_is_extended_without_recomputing(tmp_path, monkeypatch,
                                                                                label_set_path):
    path = str(tmp_path / "water.npz")
    calls = _counting_scf(monkeypatch)
    real = label_sets.run_scf

    class Killed(Exception):
        pass

    def interrupted(system, *args, **kwargs):
        if len(calls) == 2:
            raise Killed  # as a kill during the third geometry's SCF
        calls.append(system)
        return run_scf(system, *args, **kwargs)

    monkeypatch.setattr(label_sets, "run_scf", interrupted)
    with pytest.raises(Killed):
        build_label_set(SPEC, 3, path, **QUIET)
    assert not os.path.exists(path) and len(os.listdir(path + ".parts")) == 3  # 2 geometries + trajectories/
    calls = _counting_scf(monkeypatch)
    build_label_set(SPEC, 3, path, **QUIET)
    assert len(calls) == 1  # only the geometry the interruption lost
    first = read_label_set(path)
    reference = read_label_set(label_set_path)
    for name, array in reference.arrays.items():
        np.testing.assert_array_equal(first.arrays[name], array)  # an uninterrupted build gives the same file

    build_label_set(SPEC, 3, path, **QUIET)
    assert len(calls) == 1  # complete: nothing to do
    build_label_set(SPEC, 4, path, **QUIET)
    assert len(calls) == 2  # extended by one
    extended = read_label_set(path)
    np.testing.assert_array_equal(extended.arrays["fock"][:3], first.arrays["fock"])


def test_truncated_or_edited_files_are_clear_errors_and_rebuilt(tmp_path, label_set_path, monkeypatch):
    data = open(label_set_path, "rb").read()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.npz is not a readable label set"):
        read_label_set(truncated)
    with np.load(label_set_path, allow_pickle=False) as file:
        arrays = {name: file[name] for name in file.files}
    arrays["energy"] = arrays["energy"] + 1e-6
    edited = tmp_path / "edited.npz"
    np.savez(edited, **arrays)
    with pytest.raises(ValueError, match="edited.npz: checksum mismatch"):
        read_label_set(edited)
    with pytest.raises(ValueError, match="no such label set"):
        read_label_set(tmp_path / "missing.npz")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**arrays, "energy": np.array([object()] * 3, dtype=object)})
    with pytest.raises(ValueError, match="pickled.npz"):
        read_label_set(pickled)

    calls = _counting_scf(monkeypatch)
    rebuilt = build_label_set(SPEC, 3, str(edited), **QUIET)
    assert len(calls) == 3  # nothing usable on disk: recomputed
    np.testing.assert_array_equal(rebuilt.arrays["energy"], read_label_set(label_set_path).arrays["energy"])
    other = LabelSetSpec("water", basis="sto-3g", xc="pbe", grid_level=0, thermal=FAST_MD)
    with pytest.raises(ValueError, match=r"another label set \(it differs in \['xc'\]\)"):
        build_label_set(other, 3, str(edited), **QUIET)


def test_eval_on_a_label_set(tmp_path, label_set_path, capsys):
    config = TrainConfig(molecule="water", basis="sto-3g", grid_level=0, model="tiny", steps=2, workers=1,
                         geometries="gaussian")
    trainer = Trainer(config, tmp_path, progress=False, log=lambda *_: None)
    trainer.save()
    result = evaluate(tmp_path, dataset=label_set_path, scf_iterations=True, log=lambda *_: None)
    label_set = read_label_set(label_set_path)
    # the baseline by hand: two Fock iterations from H_init = F(D0) on each stored geometry
    maes, cycles = [], []
    for index in range(len(label_set)):
        molecule = label_set.molecule(index)
        system = System.from_molecule(molecule, basis="sto-3g", grid_level=0)
        h_init = dft.fock(system, system.minao_density, "b3lyp5")
        fock = np.asarray(dft.dft_iterations(system, h_init, "b3lyp5").fock)
        maes.append(np.mean(np.abs(fock - label_set.entry(index).fock)) * 1e6)
        mf = pyscf_dft.RKS(molecule.to_pyscf("sto-3g"))
        mf.xc, mf.grids.level, mf.verbose = "b3lyp5", 0, 0
        mf.kernel()
        cycles.append(mf.cycles)
    assert result.baseline["hamiltonian_mae"] == pytest.approx(np.mean(maes), rel=1e-9)
    assert result.scf_iterations["default_guess"] == pytest.approx(np.mean(cycles))
    assert len(result.per_geometry) == 3 and "3 geometries of" in result.table
    assert all(np.isfinite(v) for v in result.model.values())

    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", label_set_path, "--n-test", "2"]) == 0
    assert "2 geometries of" in capsys.readouterr().out
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", str(tmp_path / "nope.npz")]) == 2
    assert "nope.npz: no such label set file" in capsys.readouterr().err


def test_eval_refuses_a_set_of_another_basis(tmp_path, label_set_path):
    config = TrainConfig(molecule="water", basis="6-31g", grid_level=0, model="tiny", steps=2, workers=1,
                         geometries="gaussian")
    Trainer(config, tmp_path, progress=False, log=lambda *_: None).save()
    with pytest.raises(ValueError, match="basis 'sto-3g', the model was trained with '6-31g'"):
        evaluate(tmp_path, dataset=label_set_path, log=lambda *_: None)


def test_scf_iterations_from_the_converged_density_are_few():
    spec_molecule = SPEC.molecule
    mf = pyscf_dft.RKS(spec_molecule.to_pyscf("sto-3g"))
    mf.xc, mf.grids.level, mf.verbose = "b3lyp5", 0, 0
    mf.kernel()
    from_converged, converged = pyscf_scf_iterations(spec_molecule, "sto-3g", "b3lyp5", 0, mf.make_rdm1())
    default, _ = pyscf_scf_iterations(spec_molecule, "sto-3g", "b3lyp5", 0)
    assert converged and from_converged <= 2 < default == mf.cycles
