"""ModelConfig: the QPT Transformer's sizes, validated on construction, and its named presets.

Sizes follow the paper: d_ff = 4 d, pre-LayerNorm blocks. `bias_heads_per_matrix` heads of every layer
get each quantum bias matrix (see qpt.model.attention.BIAS_NAMES) as a fixed additive attention-logit
bias; the remaining heads are plain. The paper's model (d 1024, 24 layers, 16 heads, 2 heads per bias)
has 302M parameters.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

from qpt.model.attention import BIAS_NAMES

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class ModelConfig:
    """Transformer sizes and options. Invalid combinations raise ValueError here, before any array exists."""

    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 8
    bias_heads_per_matrix: int = 1
    # Sines and cosines of each position coordinate at this many wavelengths (0.5 .. 16 bohr) feed the
    # position embedding next to the raw coordinates: atoms a fraction of a bohr apart then look different.
    position_frequencies: int = 6
    # Std of the output projection in units of 1/sqrt(d): W = q q^T / sqrt(d) starts small (a few mHa),
    # so the first steps refine H_init instead of overwriting it, yet q != 0 keeps dW/dq non-zero.
    output_init_scale: float = 0.03
    dtype: str = "float64"

    def __post_init__(self):
        for name in ("d_model", "n_layers", "n_heads", "bias_heads_per_matrix"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"model config: {name} must be a positive integer, got {value!r}")
        if (isinstance(self.position_frequencies, bool) or not isinstance(self.position_frequencies, numbers.Integral)
                or self.position_frequencies < 0):
            raise ValueError(f"model config: position_frequencies must be an integer >= 0, "
                             f"got {self.position_frequencies!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"model config: d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.n_heads < self.n_bias_heads:
            raise ValueError(
                f"model config: {self.n_heads} heads are too few for {len(BIAS_NAMES)} quantum biases x "
                f"{self.bias_heads_per_matrix} heads each ({self.n_bias_heads} bias heads); use n_heads >= "
                f"{self.n_bias_heads} or fewer bias_heads_per_matrix")
        if not (isinstance(self.output_init_scale, numbers.Real) and self.output_init_scale > 0):
            raise ValueError(f"model config: output_init_scale must be a positive number, "
                             f"got {self.output_init_scale!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"model config: dtype must be one of {DTYPES}, got {self.dtype!r}")

    @property
    def n_bias_heads(self) -> int:
        return len(BIAS_NAMES) * self.bias_heads_per_matrix

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def d_ff(self) -> int:
        return 4 * self.d_model

    def parameter_count(self, vocabulary_size: int) -> int:
        """Number of parameters, without allocating them (12 d^2 + 13 d per block: attention 4 d^2 + 4 d,
        MLP 8 d^2 + 5 d, two LayerNorms 4 d)."""
        d = self.d_model
        position_features = 3 * (1 + 2 * self.position_frequencies)
        embeddings = vocabulary_size * d + (position_features + 1) * d
        return embeddings + self.n_layers * (12 * d * d + 13 * d) + 2 * d + d * d + d

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"model config: unknown fields {unknown}")
        return cls(**values)


PRESETS = {
    "tiny": ModelConfig(d_model=64, n_layers=2, n_heads=8, bias_heads_per_matrix=1),
    "small": ModelConfig(d_model=256, n_layers=4, n_heads=8, bias_heads_per_matrix=1),
    "base": ModelConfig(d_model=512, n_layers=8, n_heads=16, bias_heads_per_matrix=2),
    "paper": ModelConfig(d_model=1024, n_layers=24, n_heads=16, bias_heads_per_matrix=2),
}


def get_model_config(name_or_config, **overrides) -> ModelConfig:
    """A preset by name (tiny, small, base, paper) or a ModelConfig, with fields replaced by `overrides`."""
    if isinstance(name_or_config, ModelConfig):
        config = name_or_config
    elif isinstance(name_or_config, str) and name_or_config.lower() in PRESETS:
        config = PRESETS[name_or_config.lower()]
    else:
        raise ValueError(f"unknown model {name_or_config!r}: expected one of {', '.join(PRESETS)} "
                         "or a ModelConfig")
    return config.replace(**overrides) if overrides else config
