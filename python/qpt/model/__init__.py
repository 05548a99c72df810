"""The QPT Transformer: AO tokens with quantum-biased attention, predicting a correction to H_init."""
from qpt.model.attention import BIAS_NAMES, normalised_bias_stack
from qpt.model.config import PRESETS, ModelConfig, get_model_config
from qpt.model.tokens import ModelInputs, TokenLayout
from qpt.system.principal_axes import principal_axis_coordinates
from qpt.model.transformer import hamiltonian_correction, init_params, parameter_count

__all__ = ["BIAS_NAMES", "normalised_bias_stack", "PRESETS", "ModelConfig", "get_model_config", "ModelInputs",
           "TokenLayout", "principal_axis_coordinates", "hamiltonian_correction", "init_params",
           "parameter_count"]
