"""Using a trained model: predictions for new geometries (`Predictor`) and SCF started from them."""
from qpt.predict.predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]
