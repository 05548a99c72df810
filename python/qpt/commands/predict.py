"""`qpt predict`: a trained model's Hamiltonian, orbitals, density and energy for the frames of an xyz file."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from qpt.npz_file import write_npz_atomically

_FORMAT = "qpt.predictions"
_VERSION = 1


def add_parser(commands) -> None:
    parser = commands.add_parser("predict", help="predictions of a trained model for the frames of an xyz file",
                                 description=_predict.__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint.npz or the run directory holding it")
    parser.add_argument("--xyz", required=True, help="xyz file, one or more frames (Angstrom)")
    parser.add_argument("--out", default="predictions.npz", help="output .npz (default predictions.npz)")
    parser.add_argument("--batch-size", type=int, default=4, help="geometries per kernel call (default 4)")
    parser.add_argument("--charge", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=_predict)


def _predict(args):
    """Predict every frame of --xyz with the model in --checkpoint and write the arrays to --out (atomically):
    hamiltonian F(D3), orbital_energies, orbitals, density D3, energy E(D3), homo_lumo_gap, per frame."""
    from qpt.predict import Predictor
    from qpt.system.trajectory import read_xyz_frames
    from qpt.train.progress import tqdm

    if os.path.isdir(args.out):
        raise ValueError(f"--out {args.out} is a directory; give a file name such as predictions.npz")
    if not os.path.isfile(args.xyz):
        raise ValueError(f"--xyz {args.xyz}: no such file")
    molecules = read_xyz_frames(args.xyz, charge=args.charge)
    predictor = Predictor.from_checkpoint(args.checkpoint, batch_size=args.batch_size)
    print(f"{predictor.describe()}; predicting {len(molecules)} frame(s) of {args.xyz}")
    bar = None if args.no_progress or tqdm is None else tqdm(total=len(molecules), unit="geometry", file=sys.stderr)
    try:
        predictions = predictor.predict(molecules, progress=None if bar is None else
                                        (lambda done, total: bar.update(done - bar.n)))
    finally:
        if bar is not None:
            bar.close()
    write_npz_atomically(args.out, prediction_arrays(predictions, predictor))
    energies = [p.energy for p in predictions]
    print(f"wrote {args.out}: {len(predictions)} frame(s), E(D3) from {min(energies):.6f} to {max(energies):.6f} Ha, "
          f"{np.mean([p.seconds for p in predictions]):.2f} s per geometry")
    return 0


def prediction_arrays(predictions, predictor) -> dict:
    """The npz content: per-frame arrays stacked when every frame has the same atoms (a trajectory), else each
    frame under its own prefix 'frame<k>/'; the settings as JSON metadata."""
    fields = ("hamiltonian", "orbital_energies", "orbitals", "density", "energy", "homo_lumo_gap")
    arrays = {}
    same_atoms = len({p.molecule.symbols for p in predictions}) == 1
    if same_atoms:
        for name in fields:
            arrays[name] = np.stack([np.asarray(getattr(p, name)) for p in predictions])
        arrays["coordinates_bohr"] = np.stack([p.molecule.coordinates for p in predictions])
    else:
        for k, p in enumerate(predictions):
            for name in fields:
                arrays[f"frame{k}/{name}"] = np.asarray(getattr(p, name))
            arrays[f"frame{k}/coordinates_bohr"] = p.molecule.coordinates
    config = predictor.config
    arrays["metadata"] = np.array(json.dumps({
        "format": _FORMAT, "version": _VERSION, "frames": len(predictions), "stacked": same_atoms,
        "symbols": [list(p.molecule.symbols) for p in predictions], "basis": config.basis, "xc": config.xc,
        "grid_level": config.grid_level, "training_steps": predictor.steps}))
    return arrays
