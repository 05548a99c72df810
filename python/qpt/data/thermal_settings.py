"""Settings of thermal geometry streams (qpt.data.thermal) and their defaults, importable without ASE,
tblite or PySCF (the command line reads the defaults).

The frame spacing (DEFAULT_SPACING_FS) was chosen from a measured autocorrelation: see
scripts/measure_md_decorrelation.py and the README ("Thermal geometries").
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

DEFAULT_TEMPERATURE_K = 500.0   # MD17's sampling temperature
DEFAULT_TIMESTEP_FS = 0.5       # a tenth of an O-H stretch period (about 9 fs); stable for hydrogens at 500 K
DEFAULT_FRICTION_PER_FS = 0.05  # Langevin coupling: a 20 fs thermostat time (sets how fast bonds decorrelate)
DEFAULT_SPACING_FS = 100.0      # between frames of a trajectory: the measured decorrelation time
DEFAULT_EQUILIBRATION_FS = 500.0  # from the equilibrium geometry to frame 0: 25 thermostat times


def _finite_positive(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"thermal geometries: {what} must be a positive number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ThermalSettings:
    """How the MD runs: Langevin at temperature_k, time step timestep_fs, friction friction_per_fs (1/fs),
    equilibration_fs from the equilibrium geometry to the first frame, then a frame every spacing_fs."""

    temperature_k: float = DEFAULT_TEMPERATURE_K
    timestep_fs: float = DEFAULT_TIMESTEP_FS
    friction_per_fs: float = DEFAULT_FRICTION_PER_FS
    spacing_fs: float = DEFAULT_SPACING_FS
    equilibration_fs: float = DEFAULT_EQUILIBRATION_FS

    def __post_init__(self):
        for name, value in asdict(self).items():
            object.__setattr__(self, name, _finite_positive(value, name))
        if self.timestep_fs > self.spacing_fs:
            raise ValueError(f"thermal geometries: the time step ({self.timestep_fs} fs) exceeds the frame "
                             f"spacing ({self.spacing_fs} fs)")

    @property
    def steps_per_frame(self) -> int:
        return max(1, round(self.spacing_fs / self.timestep_fs))

    @property
    def equilibration_steps(self) -> int:
        return max(1, round(self.equilibration_fs / self.timestep_fs))
