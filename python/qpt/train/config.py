"""TrainConfig: everything that defines a training run, validated before any System is built.

Stored in every checkpoint as JSON (the molecule as symbols and exact float64 coordinates, so a resumed
run or an evaluation rebuilds the very same geometries).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass
from typing import Optional

from qpt.data import thermal_settings as thermal
from qpt.data.molecule_list import read_molecule_list
from qpt.dft.functionals import get_functional
from qpt.model import ModelConfig, get_model_config
from qpt.system import Molecule
from qpt.system.grid import check_grid_level
from qpt.system.molecule import check_basis
from qpt.system.two_electron import ENGINES
from qpt.train import scheme as loss_schemes

DEFAULT_SIGMA_BOHR = 0.1      # per-coordinate displacement std of Gaussian geometries
GEOMETRY_SOURCES = ("thermal", "gaussian")
MAX_WARMUP_STEPS = 1000       # the paper's warmup
TIME_BUDGET_WARMUP_STEPS = 50  # with only --minutes the run length is unknown when warmup starts
# The AO tables (qpt.ops.tabulate_grid) of one step's geometries may take this much memory per device:
# uracil def2-svp at grid 3 needs 0.78 GB per geometry, so a batch of two fits; larger systems fall back
# to evaluating the AOs in every pass.
DEFAULT_GRID_TABLE_GIB = 2.0


def _positive_int(value, what, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"train config: {what} must be a positive integer, got {value!r}")


def _positive_float(value, what, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"train config: {what} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    molecule: object = "water"       # catalog name, xyz path/text or Molecule (the equilibrium geometry)
    basis: str = "def2-svp"
    xc: str = "b3lyp5"
    grid_level: int = 3
    model: object = "tiny"           # preset name or ModelConfig
    steps: Optional[int] = None      # schedule length and stop; None: derived from `minutes`
    minutes: Optional[float] = None  # wall-time budget of the run (compilation and data included)
    seed: int = 0
    learning_rate: float = 5e-4      # peak
    end_learning_rate: float = 1e-7
    warmup_steps: Optional[int] = None  # None: 10% of steps (at most 1000), or 50 with only a time budget
    geometries: str = "thermal"      # "thermal" (MD frames, qpt.data.thermal) or "gaussian" (sigma_bohr)
    sigma_bohr: float = DEFAULT_SIGMA_BOHR
    temperature_k: float = thermal.DEFAULT_TEMPERATURE_K   # thermal: Langevin temperature,
    md_timestep_fs: float = thermal.DEFAULT_TIMESTEP_FS    # time step,
    md_friction_per_fs: float = thermal.DEFAULT_FRICTION_PER_FS  # friction,
    md_spacing_fs: float = thermal.DEFAULT_SPACING_FS      # the time between frames
    md_equilibration_fs: float = thermal.DEFAULT_EQUILIBRATION_FS  # and before the first
    network_dtype: Optional[str] = None  # None: the model config's dtype
    dft_dtype: str = "float64"
    checkpoint_every: int = 100
    keep_checkpoints: bool = False   # also keep every checkpoint as checkpoint-step<N>.npz (learning curves)
    validate_every: int = 10         # steps between energies of the held-out validation geometry
    batch_size: int = 1              # geometries per step (all devices together), split evenly over the mesh
    devices: Optional[int] = None    # devices in the data-parallel mesh; None: all JAX sees
    workers: Optional[int] = None    # System-building processes; None: sized to the machine
    prefetch: int = 3                # batches of Systems built ahead of the current step
    jk: str = "auto"                 # two-electron engine of every System: auto, packed, df, direct
    auxbasis: Optional[str] = None   # density-fitting basis (jk df/auto); None: PySCF's make_auxbasis
    dft_iterations: int = 2          # Kohn-Sham iterations in the loss after D1 = dm(H) (the paper: 2)
    mixing: Optional[tuple] = None   # one density-mixing weight per iteration; None: default_mixing
    initial_hamiltonian: str = "minao"  # H_init: "minao" (F(D0)), "core" or "perturbed" (qpt.train.scheme)
    perturbation_ha: float = loss_schemes.DEFAULT_PERTURBATION_HA  # "perturbed": the noise's std
    grid_table_gib: float = DEFAULT_GRID_TABLE_GIB  # memory per device for the AO tables of one step; 0: none
    # Many molecules (qpt.train.many_molecules): a molecule list (qpt.data.molecule_list: a file or a built-in
    # name such as "organic9") whose entries not tagged heldout are trained on, or a sequence of molecules.
    # Stored resolved (a tuple of Molecules); `molecule` becomes the first, whose held-out geometry validates.
    molecules: object = None
    molecule_list: Optional[str] = None  # where `molecules` came from (for evaluation on its heldout split)
    max_buckets: int = 4                 # padding layouts, so compiled steps, of a many-molecule run

    def __post_init__(self):
        if self.molecules is not None:
            self._resolve_molecules()
        molecule = Molecule.get(self.molecule)  # ValueError for an unknown molecule
        object.__setattr__(self, "molecule", molecule)
        check_basis(self.basis, molecule.symbols)
        get_functional(self.xc)
        object.__setattr__(self, "grid_level", check_grid_level(self.grid_level))
        model = get_model_config(self.model)
        if self.network_dtype is not None:
            model = model.replace(dtype=self.network_dtype)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "network_dtype", model.dtype)
        if self.dft_dtype not in ("float32", "float64"):
            raise ValueError(f"train config: dft_dtype must be float32 or float64, got {self.dft_dtype!r}")
        if self.steps is None and self.minutes is None:
            raise ValueError("train config: give the number of steps, a time budget in minutes, or both")
        _positive_int(self.steps, "steps", allow_none=True)
        _positive_float(self.minutes, "minutes", allow_none=True)
        _positive_int(self.warmup_steps, "warmup_steps", allow_none=True)
        if self.steps is not None and self.warmup_steps is not None and self.warmup_steps >= self.steps:
            raise ValueError(f"train config: warmup_steps ({self.warmup_steps}) must be below steps ({self.steps})")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise ValueError(f"train config: seed must be an integer >= 0, got {self.seed!r}")
        _positive_float(self.learning_rate, "learning_rate")
        _positive_float(self.end_learning_rate, "end_learning_rate")
        if self.end_learning_rate > self.learning_rate:
            raise ValueError(f"train config: end_learning_rate {self.end_learning_rate} exceeds the peak "
                             f"learning_rate {self.learning_rate}")
        if self.geometries not in GEOMETRY_SOURCES:
            raise ValueError(f"train config: geometries must be one of {GEOMETRY_SOURCES}, got {self.geometries!r}")
        _positive_float(self.sigma_bohr, "sigma_bohr")
        self.thermal_settings  # ValueError for bad MD settings
        if not isinstance(self.keep_checkpoints, bool):
            raise ValueError(f"train config: keep_checkpoints must be True or False, got {self.keep_checkpoints!r}")
        for name in ("checkpoint_every", "validate_every", "prefetch", "batch_size"):
            _positive_int(getattr(self, name), name)
        _positive_int(self.workers, "workers", allow_none=True)
        _positive_int(self.devices, "devices", allow_none=True)
        if self.jk not in ("auto",) + ENGINES:
            raise ValueError(f"train config: jk must be one of {('auto',) + ENGINES}, got {self.jk!r}")
        if self.auxbasis is not None and (not isinstance(self.auxbasis, str) or self.jk not in ("auto", "df")):
            raise ValueError(f"train config: auxbasis must be a basis name and needs jk 'df' or 'auto', got "
                             f"{self.auxbasis!r} with jk {self.jk!r}")
        _positive_int(self.dft_iterations, "dft_iterations")
        if self.mixing is not None:
            object.__setattr__(self, "mixing", tuple(self.mixing))
            if len(self.mixing) != self.dft_iterations:
                raise ValueError(f"train config: mixing has {len(self.mixing)} weights for {self.dft_iterations} "
                                 "dft_iterations (one weight per iteration)")
        if isinstance(self.grid_table_gib, bool) or not isinstance(self.grid_table_gib, numbers.Real) \
                or not math.isfinite(self.grid_table_gib) or self.grid_table_gib < 0:
            raise ValueError(f"train config: grid_table_gib must be a number >= 0 (0: no AO tables), "
                             f"got {self.grid_table_gib!r}")
        self.loss_scheme  # ValueError for bad weights, an unknown initial_hamiltonian or perturbation
        if self.devices is not None and self.batch_size % self.devices:
            raise ValueError(f"train config: batch_size {self.batch_size} does not split evenly over "
                             f"{self.devices} devices")

    def _resolve_molecules(self):
        molecules = self.molecules
        if isinstance(molecules, (str, os.PathLike)):
            listing = read_molecule_list(molecules, basis=self.basis)
            object.__setattr__(self, "molecule_list", os.fspath(molecules))
            molecules = [entry.molecule for entry in listing.entries if entry.split != "heldout"]
        try:
            molecules = tuple(Molecule.get(m) for m in molecules)
        except TypeError:
            raise ValueError(f"train config: molecules must be a molecule list or a sequence of molecules, got "
                             f"{type(self.molecules).__name__}") from None
        if not molecules:
            raise ValueError("train config: the molecule list has no training molecules")
        for molecule in molecules:
            check_basis(self.basis, molecule.symbols)
        _positive_int(self.max_buckets, "max_buckets")
        object.__setattr__(self, "molecules", molecules)
        object.__setattr__(self, "molecule", molecules[0])

    @property
    def grid_table_bytes(self) -> int:
        """grid_table_gib in bytes."""
        return int(self.grid_table_gib * 2**30)

    @property
    def thermal_settings(self) -> Optional[thermal.ThermalSettings]:
        """The MD settings of thermal geometries; None for Gaussian ones."""
        if self.geometries != "thermal":
            return None
        return thermal.ThermalSettings(self.temperature_k, self.md_timestep_fs, self.md_friction_per_fs,
                                       self.md_spacing_fs, self.md_equilibration_fs)

    @property
    def loss_scheme(self) -> loss_schemes.LossScheme:
        """What the loss iterates (H_init, iterations and mixing), hashable for the compiled step."""
        mixing = self.mixing if self.mixing is not None else loss_schemes.default_mixing(self.dft_iterations)
        return loss_schemes.LossScheme(mixing, self.initial_hamiltonian, self.perturbation_ha, self.seed)

    @property
    def resolved_warmup_steps(self) -> int:
        if self.warmup_steps is not None:
            return self.warmup_steps
        if self.steps is None:
            return TIME_BUDGET_WARMUP_STEPS
        return max(1, min(MAX_WARMUP_STEPS, self.steps // 10))

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        molecule = self.molecule
        values["molecule"] = _molecule_dict(molecule)
        values["model"] = self.model.to_dict()
        if self.molecules is not None:
            values["molecules"] = [_molecule_dict(m) for m in self.molecules]
        if self.mixing is not None:
            values["mixing"] = list(self.mixing)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        values = dict(values)
        values.setdefault("geometries", "gaussian")  # checkpoints from before thermal geometries
        values["molecule"] = _molecule_from_dict(values["molecule"])
        if values.get("molecules") is not None:
            values["molecules"] = tuple(_molecule_from_dict(m) for m in values["molecules"])
        values["model"] = ModelConfig.from_dict(values["model"])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"train config: unknown fields {unknown}")
        return cls(**values)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def _molecule_dict(molecule) -> dict:
    return {"symbols": list(molecule.symbols), "coordinates_bohr": molecule.coordinates.tolist(),
            "charge": molecule.charge, "spin": molecule.spin}


def _molecule_from_dict(values) -> Molecule:
    return Molecule(tuple(values["symbols"]), values["coordinates_bohr"], values["charge"], values["spin"])
