"""Evaluation of trained QPT models against converged SCF labels on held-out geometries."""
from qpt.eval.evaluate import BASELINE_NAME, EvaluationResult, evaluate
from qpt.eval.labels import Label, LabelCache
from qpt.eval.metrics import format_table, geometry_metrics, mean_metrics

__all__ = ["BASELINE_NAME", "EvaluationResult", "evaluate", "Label", "LabelCache", "format_table",
           "geometry_metrics", "mean_metrics"]
