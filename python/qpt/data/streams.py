"""Stream numbers of the geometry sources: one seed gives disjoint geometries for each purpose (thermal:
different trajectories; Gaussian: different draws)."""

TRAINING_STREAM = 0   # what a run trains on
HELDOUT_STREAM = 1    # a run's own held-out geometries (validation line, `qpt eval` without --dataset)
DATASET_STREAM = 2    # `qpt dataset` label sets: independent of every run's training and held-out streams
