"""CLI arguments checked before any work, and commands that must not destroy or misreport (issue 20, defects
4, 6, 7 and the --resume part of 9). Each returns exit code 2 with a message naming the problem."""
import os

import pytest

import qpt.ops  # noqa: F401  (loads the kernels here: an editable install's rebuild check needs a real stdout)
from qpt.commands import main
from qpt.train.checkpoint import FILE_NAME


def _fail_if_training(monkeypatch):
    import qpt.train.trainer as trainer_module

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the arguments were checked")

    monkeypatch.setattr(trainer_module.Trainer, "__init__", refuse)
    monkeypatch.setattr(trainer_module.Trainer, "from_checkpoint", refuse)


def test_demo_does_not_replace_a_training_run(tmp_path, monkeypatch, capsys):
    _fail_if_training(monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    (run / FILE_NAME).write_bytes(b"a 300-step run")
    assert main(["demo", "--out", str(run), "--minutes", "0.1"]) == 2
    assert (run / FILE_NAME).read_bytes() == b"a 300-step run"
    assert "not a demo's" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["demo", "--n-test", "0"], "--n-test"),
    (["demo", "--minutes", "0"], "--minutes"),
    (["eval", "--checkpoint", "nowhere", "--n-test", "0"], "--n-test"),
    (["train", "--resume", "--lr", "0.1"], "--lr"),
    (["train", "--resume", "--steps", "10", "--model", "small"], "--model, --steps"),
    (["train", "--steps", "2", "--dft-iterations", "3", "--mixing", "0.5,0"], "2 weights for 3"),
    (["train", "--steps", "2", "--perturbation", "0.1"], "--perturbation needs --initial-hamiltonian perturbed"),
])
def test_bad_arguments_fail_before_any_work(tmp_path, monkeypatch, capsys, argv, message):
    _fail_if_training(monkeypatch)
    if argv[0] in ("demo", "train"):
        argv = argv + ["--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "demo"])
def test_out_that_is_a_file_fails_before_training(tmp_path, monkeypatch, capsys, command):
    _fail_if_training(monkeypatch)
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    assert main([command, "--out", str(existing)]) == 2
    assert "not a directory" in capsys.readouterr().err and existing.read_text() == "keep me"


def test_resume_accepts_how_to_run_options(tmp_path, monkeypatch, capsys):
    _fail_if_training(monkeypatch)
    # --no-progress and --ops are honoured on resume; the missing checkpoint is then the only complaint.
    assert main(["train", "--resume", "--no-progress", "--ops", "reference", "--out", str(tmp_path)]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_energy_compares_lda_with_the_same_functional_in_pyscf(capsys):
    # qpt's "lda" is Slater + VWN5 = PySCF's "lda,vwn"; PySCF's bare "lda" is Slater alone (0.67 Ha apart for
    # uracil), which the command used to compare against while exiting 0.
    assert main(["energy", "--molecule", "h2", "--basis", "sto-3g", "--xc", "lda", "--grid-level", "0",
                 "--skip-reference"]) == 0
    out = capsys.readouterr().out
    assert "'lda,vwn'" in out and "agree" in out and "DISAGREE" not in out


def test_energy_exit_code_says_when_qpt_and_pyscf_disagree(monkeypatch, capsys):
    import qpt.commands.energy as energy_check

    monkeypatch.setattr(energy_check, "AGREEMENT_TOLERANCE_HA", -1.0)  # nothing can agree within this
    assert main(["energy", "--molecule", "h2", "--basis", "sto-3g", "--xc", "lda", "--grid-level", "0",
                 "--skip-reference"]) == 1
    assert "DISAGREE" in capsys.readouterr().out
