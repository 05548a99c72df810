"""QPT training: the DFT energy as the loss, on-the-fly geometries, AdamW, resumable checkpoints.

Names are imported on first use (PEP 562), so `qpt.commands` can register its commands without
loading JAX, PySCF and the kernels.
"""
import importlib

_EXPORTS = {
    "TrainConfig": "qpt.train.config",
    "Trainer": "qpt.train.trainer",
    "TrainResult": "qpt.train.trainer",
    "make_train_step": "qpt.train.trainer",
    "qpt_loss": "qpt.train.loss",
    "qpt_iterations": "qpt.train.loss",
    "make_predictor": "qpt.train.loss",
    "quantum_features": "qpt.train.features",
    "QuantumFeatures": "qpt.train.features",
    "GeometryStream": "qpt.data.samples",
    "stack_systems": "qpt.data.batch",
    "make_data_mesh": "qpt.train.parallel",
    "initialize_distributed": "qpt.train.parallel",
    "SampleBuilder": "qpt.data.samples",
    "sample_geometry": "qpt.data.samples",
    "make_optimizer": "qpt.train.optimizer",
    "learning_rate": "qpt.train.optimizer",
    "save_checkpoint": "qpt.train.checkpoint",
    "load_checkpoint": "qpt.train.checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qpt.train' has no attribute {name!r}")
