"""One model trained across many molecules: the QPT loss needs no labels, so each step can be a new molecule.

The run's molecules (TrainConfig.molecules) are cut into at most max_buckets buckets by size
(qpt.data.buckets), each with one padding layout (qpt.data.padding). A MoleculeSchedule gives every step one
bucket and a row per geometry (which molecule, which of its conformers); worker processes build each row's
conformer and pad it to its bucket (qpt.data.padded_samples), and the padded training step (make_train_step
with padded=True) trains on it. Ghost AOs change neither the loss nor the gradient, so the step is each
molecule's own; the compiled steps are at most one per bucket. Everything else (the optimiser, the learning
rate schedule, checkpoints and their bit-exact resume, the data-parallel mesh, the validation geometry) is
the single-molecule Trainer's.
"""
from __future__ import annotations

import os

import numpy as np

from qpt.data.batch import stack_systems
from qpt.data.buckets import plan_buckets, probe_shape
from qpt.data.molecule_schedule import MoleculeSchedule
from qpt.data.padded_samples import PaddedSampleBuilder
from qpt.data.samples import TRAINING_STREAM, GeometryStream, SampleBuilder, default_workers
from qpt.data.samples import TRAJECTORY_DIRECTORY
from qpt.model import TokenLayout
from qpt.train import parallel
from qpt.train.trainer import Trainer


class ManyMoleculeTrainer(Trainer):
    def __init__(self, config, out_dir, **options):
        if config.molecules is None:
            raise ValueError("ManyMoleculeTrainer: the config has no molecules")
        if config.loss_scheme.initial_hamiltonian == "perturbed":
            raise ValueError("training on many molecules needs H_init 'minao' or 'core': the perturbed H_init "
                             "would couple the padding to the molecules")
        self.molecule_layouts = tuple(TokenLayout.from_molecule(m, config.basis) for m in config.molecules)
        super().__init__(config, out_dir, **options)
        density_fitted = config.jk in ("auto", "df")
        shapes = [probe_shape(m, config.basis, config.grid_level, density_fitted=density_fitted,
                              auxbasis=config.auxbasis) for m in config.molecules]
        self.buckets = plan_buckets(shapes, config.max_buckets, config.jk)
        self.bucket_of = {m: b for b, bucket in enumerate(self.buckets) for m in bucket.members}
        self.schedule = MoleculeSchedule([bucket.members for bucket in self.buckets], config.batch_size, config.seed)
        self.compiled_buckets = set()  # buckets whose step has been compiled in this process

    def _token_vocabulary(self) -> tuple:
        return tuple(sorted(set().union(*(layout.vocabulary() for layout in self.molecule_layouts))))

    def describe_buckets(self) -> str:
        parts = []
        for index, bucket in enumerate(self.buckets):
            layout = bucket.layout
            parts.append(f"bucket {index}: {len(bucket.members)} molecules, {layout.nao} AOs, {layout.n_occ} occupied, "
                         f"{layout.grid_points} grid points, J/K {bucket.engine}")
        return "; ".join(parts)

    def _training_stream(self, start, end) -> GeometryStream:
        config = self.config
        cache_dir = os.path.join(self.out_dir, TRAJECTORY_DIRECTORY)
        builders = tuple(
            SampleBuilder(molecule, config.basis, config.grid_level, layout.ao_atoms, config.seed, config.sigma_bohr,
                          TRAINING_STREAM, config.thermal_settings, cache_dir,
                          jk=self.buckets[self.bucket_of[m]].engine, auxbasis=config.auxbasis)
            for m, (molecule, layout) in enumerate(zip(config.molecules, self.molecule_layouts)))
        builder = PaddedSampleBuilder(builders, tuple(layout.token_ids(self.vocabulary) for layout in self.molecule_layouts),
                                      tuple(self.bucket_of[m] for m in range(len(builders))),
                                      tuple(bucket.layout for bucket in self.buckets))
        return GeometryStream(builder, self._rows(start, end), prefetch=config.prefetch * len(self.rows),
                              workers=config.workers or default_workers(len(self.mesh.local_devices)))

    def _rows(self, start, end):
        step = start
        while end is None or step < end:
            rows = self.schedule.rows(step)
            yield from (rows[row] for row in self.rows)
            step += 1

    def next_batch(self, stream, grid_points):
        """((systems, token_ids, positions, token_masks), samples) of the next step, split over the mesh."""
        samples = [next(stream) for _ in self.rows]
        bucket = samples[0].bucket
        if bucket not in self.compiled_buckets:
            self.compiled_buckets.add(bucket)
            self.log(f"step {self.step}: first batch of bucket {bucket} ({self.buckets[bucket].layout.nao} AOs); "
                     f"compiled shapes so far: {len(self.compiled_buckets)} of at most {len(self.buckets)}")
        local = (stack_systems([s.system for s in samples]), np.stack([s.token_ids for s in samples]),
                 np.stack([s.positions for s in samples]), np.stack([s.token_mask for s in samples]))
        return parallel.sharded_batch(local, self.rows, self.mesh, self.config.batch_size), samples

    def _apply_step(self, batch, lr):
        systems, token_ids, positions, token_masks = batch
        lr = parallel.replicated(np.float64(lr), self.mesh)
        return self._train_step(self.params, self.opt_state, systems, token_ids, positions, token_masks, lr)
