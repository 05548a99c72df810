"""The QPT training loop: a batch of new geometries per step, the DFT energy as the loss, data parallel over
a device mesh, checkpoints that resume bit for bit.

Per step: the next batch of Samples comes from the background GeometryStream (worker processes); one
jitted function computes, for every geometry, the quantum features (constants), the loss E(D3) and its
gradient, averages them over the batch and applies the AdamW update. The batch is split over a 1-d
device mesh (qpt.train.parallel): under shard_map each device takes its share of the geometries
(jax.vmap of the per-geometry loss, so every op runs one kernel call per device for its whole share),
gradients are summed across devices by XLA's psum, and every device applies the same update to its
replica of the parameters. The same code runs on 1 device, N local devices and N processes. The
learning rate is computed on the host and passed in, so a time-budgeted run can fix its schedule length
after timing its first steps without recompiling.
"""
from __future__ import annotations

import functools
import os
import statistics
import time
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec

from qpt import ops as kernel_ops
from qpt.dft.functionals import get_functional
from qpt.dft.xc import tabulate_within
from qpt.model import TokenLayout, init_params
from qpt.train import checkpoint as checkpoints
from qpt.train import parallel
from qpt.data.batch import stack_systems
from qpt.train.config import TrainConfig
from qpt.data.samples import HELDOUT_STREAM, GeometryStream, SampleBuilder, default_workers
from qpt.train.features import quantum_features
from qpt.train.loss import make_predictor, qpt_loss
from qpt.train.optimizer import learning_rate, make_optimizer, with_learning_rate
from qpt.train.progress import Progress
from qpt.train.scheme import PAPER_SCHEME

# With a time budget only, the schedule length is fixed after _PROBE_STEPS steps from the median time of
# the last _TIMED_PROBE_STEPS of them: by then compilation is over and the prefetched Systems are used up,
# so the rate includes waiting for data. _PROBE_STEPS stays below TIME_BUDGET_WARMUP_STEPS, so the
# learning rates used before the length is known do not depend on it.
_PROBE_STEPS = 20
_TIMED_PROBE_STEPS = 10
_BUDGET_MARGIN = 0.9  # steps slow down later (other load, validation); a cut-off run ends at a high rate
# loss: the mean E(D3) over the step's batch. validation_loss: E(D3) of one fixed held-out geometry after
# the step, every validate_every steps (NaN in between), and validation_baseline its E(D3) with W = 0:
# their difference is a clean learning curve, free of the tens of mHa by which each training geometry's
# own energy differs. build_seconds: the batch's System builds summed over its worker processes;
# wait_seconds: how long the trainer waited for them (included in step_seconds). gradient_norm: of the
# batch-mean gradient, before clipping.
_HISTORY_FIELDS = ("step", "loss", "validation_loss", "validation_baseline", "learning_rate", "step_seconds",
                   "build_seconds", "wait_seconds", "gradient_norm")


class StepStats(NamedTuple):
    loss: jnp.ndarray            # mean E(D3) over the batch, Hartree
    gradient_norm: jnp.ndarray   # of the batch-mean gradient, before clipping


class TrainResult(NamedTuple):
    steps: int               # completed steps (in total, resumed ones included)
    schedule_steps: int
    stopped_by: str          # "steps", "time" or "stop_at"
    seconds: float           # wall time of this run() call
    checkpoint: str
    history: dict


@functools.lru_cache(maxsize=8)  # trainers of one configuration share the compiled step
def make_train_step(model_config, functional, optimizer, *, ops, dft_dtype, mesh, scheme=PAPER_SCHEME,
                    grid_table_bytes=0, padded=False):
    """The jitted update (params, opt_state, systems, token_ids, positions, lr) -> (params, opt_state,
    StepStats). systems and positions carry the batch axis, split over `mesh` (a qpt.train.parallel data
    mesh); params, opt_state, token_ids and lr are replicated. `scheme`: the loss's LossScheme.
    grid_table_bytes: when the AO tables of a device's geometries fit in it (and JAX runs on the CPU), each
    geometry's grid is tabulated once per step (qpt.dft.xc.tabulate_within), so the step's dozen XC
    passes read the AO values instead of evaluating them; the results are the same bits.

    padded: the batch holds padded Systems of different molecules (qpt.data.padding), and the update is
    (params, opt_state, systems, token_ids, positions, token_masks, lr) with token_ids and token_masks [B, N]
    split over the mesh like the Systems; ghost AOs change neither the loss nor the gradient."""
    def geometry_loss(params, system, token_ids, positions, token_mask, geometries):
        system = tabulate_within(system, ops, dft_dtype, grid_table_bytes, geometries)
        features = quantum_features(system, token_ids, positions, functional, ops=ops, dtype=dft_dtype,
                                    scheme=scheme, token_mask=token_mask)
        return qpt_loss(params, model_config, system, features, functional, ops=ops, dtype=dft_dtype,
                        scheme=scheme)[0]

    per_geometry = 0 if padded else None  # token ids (and masks) per geometry, or one set for the batch

    def shard_loss_sum(params, systems, token_ids, positions, token_masks):
        loss = functools.partial(geometry_loss, geometries=positions.shape[0])
        losses = jax.vmap(loss, in_axes=(None, 0, per_geometry, 0, per_geometry))(
            params, systems, token_ids, positions, token_masks)
        return jnp.sum(losses)

    def update(params, opt_state, systems, token_ids, positions, token_masks, lr):
        count = jax.lax.psum(positions.shape[0], parallel.AXIS)  # the global batch size
        loss_sum, grads = jax.value_and_grad(shard_loss_sum)(params, systems, token_ids, positions, token_masks)
        loss, grads = jax.lax.psum((loss_sum, grads), parallel.AXIS)
        loss, grads = loss / count, jax.tree_util.tree_map(lambda g: g / count, grads)
        opt_state = with_learning_rate(opt_state, lr)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, StepStats(loss, optax.tree.norm(grads))

    batch, replica = PartitionSpec(parallel.AXIS), PartitionSpec()
    if padded:
        step, tokens = update, (batch, batch, batch)   # token_ids, positions, token_masks
    else:
        def step(params, opt_state, systems, token_ids, positions, lr):
            return update(params, opt_state, systems, token_ids, positions, None, lr)
        tokens = (replica, batch)                       # token_ids, positions
    # check_vma=False: the ops' custom VJPs return cotangents without shard_map's varying-axis annotation,
    # which the check rejects. Without it nothing is summed implicitly: the explicit psum above is the one
    # reduction, and the update is the same on every device, so the replicated outputs are consistent.
    sharded = jax.shard_map(step, mesh=mesh, in_specs=(replica, replica, batch) + tokens + (replica,),
                            out_specs=(replica, replica, replica), check_vma=False)
    return jax.jit(sharded)


class Trainer:
    """Owns the parameters, optimiser state, step counter and history of one run, saved in out_dir.

    A config with `molecules` gets a qpt.train.many_molecules.ManyMoleculeTrainer (Trainer(config) and
    Trainer.from_checkpoint choose it), which trains one model on padded batches of many molecules."""

    def __new__(cls, config, *args, **kwargs):
        if cls is Trainer and getattr(config, "molecules", None) is not None:
            from qpt.train.many_molecules import ManyMoleculeTrainer  # it builds on this module

            cls = ManyMoleculeTrainer
        return super().__new__(cls)

    def __init__(self, config: TrainConfig, out_dir, *, ops=kernel_ops, progress: bool = True, log=print):
        self.config = config
        self.out_dir = os.fspath(out_dir)
        self.ops = ops
        self.progress = progress and jax.process_index() == 0  # one progress bar per run, not per process
        self.log = log
        self.functional = get_functional(config.xc)
        self.layout = TokenLayout.from_molecule(config.molecule, config.basis)
        self.vocabulary = self._token_vocabulary()
        self.token_ids = self.layout.token_ids(self.vocabulary)
        self.optimizer = make_optimizer(config.model.dtype)
        self.mesh = parallel.make_data_mesh(config.devices)
        parallel.check_batch_size(config.batch_size, self.mesh)
        self.rows = parallel.local_rows(self.mesh, config.batch_size)  # this process' share of each batch
        self.step = 0
        self.schedule_steps = config.steps
        params = init_params(config.model, len(self.vocabulary), config.seed)
        self.set_state(params, self.optimizer.init(params))
        self.history = {name: [] for name in _HISTORY_FIELDS}
        self._train_step = make_train_step(config.model, self.functional, self.optimizer, ops=ops,
                                           dft_dtype=config.dft_dtype, mesh=self.mesh,
                                           grid_table_bytes=config.grid_table_bytes,
                                           scheme=config.loss_scheme, padded=config.molecules is not None)
        self._predict = make_predictor(config.model, self.functional, ops=ops, dtype=config.dft_dtype,
                                       grid_table_bytes=config.grid_table_bytes,
                                       scheme=config.loss_scheme)
        self._validation_gain = float("nan")  # mHa, latest E(D3) - E(D3, W = 0) of the validation geometry

    def _token_vocabulary(self) -> tuple:
        """The token types the embedding table has rows for."""
        return self.layout.vocabulary()

    def set_state(self, params, opt_state):
        """Parameters and optimiser state (host or device arrays), replicated over the mesh."""
        self.params = parallel.replicated(params, self.mesh)
        self.opt_state = parallel.replicated(opt_state, self.mesh)

    @property
    def local_params(self):
        """The parameters as numpy arrays of this host (for evaluation outside the mesh)."""
        return parallel.host_local(self.params)

    @property
    def is_main_process(self) -> bool:
        return jax.process_index() == 0

    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.out_dir, checkpoints.FILE_NAME)

    # ---- checkpoints -------------------------------------------------------------------------

    def metadata(self) -> dict:
        return {"train_config": self.config.to_dict(), "vocabulary": list(self.vocabulary),
                "schedule_steps": self.schedule_steps}

    def save(self) -> str:
        """Writes the checkpoint (the main process only: every process holds the same replicated state)."""
        if not self.is_main_process:
            return self.checkpoint_path
        history = {name: np.asarray(values, dtype=np.int64 if name == "step" else np.float64)
                   for name, values in self.history.items()}
        paths = [self.checkpoint_path]
        if self.config.keep_checkpoints:
            paths.append(os.path.join(self.out_dir, checkpoints.SNAPSHOT_PATTERN.format(step=self.step)))
        for path in paths:
            checkpoints.save_checkpoint(path, step=self.step, params=self.local_params,
                                        opt_state=parallel.host_local(self.opt_state), metadata=self.metadata(),
                                        history=history)
        return self.checkpoint_path

    @classmethod
    def from_checkpoint(cls, path, *, ops=kernel_ops, progress: bool = True, log=print,
                        grid_table_gib: Optional[float] = None) -> "Trainer":
        """The trainer of a saved run, ready to continue it (path: a checkpoint file or its run directory).
        grid_table_gib: this machine's AO-table budget instead of the stored one (it changes no result)."""
        path = checkpoints.checkpoint_file(path)
        metadata = checkpoints.read_metadata(path)
        config = TrainConfig.from_dict(metadata["train_config"])
        if grid_table_gib is not None:
            config = config.replace(grid_table_gib=grid_table_gib)
        trainer = cls(config, os.path.dirname(os.path.abspath(path)), ops=ops, progress=progress, log=log)
        if tuple(metadata["vocabulary"]) != trainer.vocabulary:
            raise ValueError(f"{path}: the stored token vocabulary does not match the molecule and basis")
        state = checkpoints.load_checkpoint(path, trainer.params, trainer.opt_state)
        trainer.step = state.step
        trainer.set_state(state.params, state.opt_state)
        trainer.schedule_steps = metadata["schedule_steps"]
        trainer.history = {name: list(state.history.get(name, [])) for name in _HISTORY_FIELDS}
        return trainer

    # ---- training ----------------------------------------------------------------------------

    def learning_rate_at(self, step: int) -> float:
        config = self.config
        if self.schedule_steps is None and step >= config.resolved_warmup_steps:
            return config.learning_rate  # run length not known yet: the cosine starts from the peak
        total = self.schedule_steps if self.schedule_steps is not None else step + 1
        return learning_rate(step, config.learning_rate, config.resolved_warmup_steps, total,
                             config.end_learning_rate)

    def _fix_schedule_length(self, elapsed, budget, step_times, progress):
        """With a time budget only: as many steps as the remaining time allows at the median step time,
        less a margin, so the cosine decay usually completes before the budget runs out."""
        per_step = statistics.median(step_times)
        remaining = max(int(_BUDGET_MARGIN * (budget - elapsed) / per_step), 0)
        self.schedule_steps = max(self.step + remaining, self.config.resolved_warmup_steps + 1)
        progress.message(self.log, f"time budget: {per_step * 1e3:.0f} ms per step -> "
                                   f"{self.schedule_steps} steps in total")
        progress.set_total(self.schedule_steps)

    def run(self, stop_at: Optional[int] = None) -> TrainResult:
        """Trains until the schedule ends, the time budget is spent, or `stop_at` steps are complete
        (an interruption that still checkpoints). Ctrl-C also checkpoints before it propagates."""
        config = self.config
        budget = config.minutes * 60.0 if config.minutes is not None else None
        end = self.schedule_steps
        if stop_at is not None:
            end = stop_at if end is None else min(end, stop_at)
        # The workers start (spawning takes seconds) while this process builds the validation geometry.
        stream = self._training_stream(self.step, end)
        progress = Progress(self.step, self.schedule_steps, enabled=self.progress)
        try:
            validation = self._validation_geometry()
            start_time = time.perf_counter()
            step_times, stopped_by = [], "steps"
            while self.schedule_steps is None or self.step < self.schedule_steps:
                if stop_at is not None and self.step >= stop_at:
                    stopped_by = "stop_at"
                    break
                elapsed = time.perf_counter() - start_time
                if budget is not None and step_times and elapsed + statistics.median(step_times) > budget:
                    stopped_by = "time"
                    break
                self._one_step(stream, step_times, progress, validation)
                if self.schedule_steps is None and len(step_times) == _PROBE_STEPS:
                    self._fix_schedule_length(time.perf_counter() - start_time, budget,
                                              step_times[-_TIMED_PROBE_STEPS:], progress)
                if self.step % config.checkpoint_every == 0:
                    self.save()
        except KeyboardInterrupt:
            self.save()
            raise
        finally:
            stream.close()
            progress.close()
        self.save()
        if stopped_by == "time" and self.schedule_steps is not None and self.step < self.schedule_steps:
            self.log(f"time budget spent after {self.step} of {self.schedule_steps} steps")
        history = {name: np.asarray(values) for name, values in self.history.items()}
        return TrainResult(self.step, self.schedule_steps, stopped_by, time.perf_counter() - start_time,
                           self.checkpoint_path, history)

    def _training_stream(self, start, end) -> GeometryStream:
        """The Samples of steps start ... end - 1 (or forever) for this process' rows, built ahead."""
        config = self.config
        builder = SampleBuilder.for_run(config, self.layout.ao_atoms, self.out_dir)
        return GeometryStream(builder, self._geometry_indices(start, end), prefetch=config.prefetch * len(self.rows),
                              workers=config.workers or default_workers(len(self.mesh.local_devices)))

    def _geometry_indices(self, start, end):
        """This process' geometry indices of steps start, start + 1, ... (up to end, exclusive, or forever):
        step s trains on geometries s * batch_size ... (s + 1) * batch_size - 1, whatever the mesh."""
        step = start
        while end is None or step < end:
            yield from (step * self.config.batch_size + row for row in self.rows)
            step += 1

    def _validation_geometry(self):
        """(Sample, E(D3) with W = 0) of held-out geometry 0: never trained on, the same in every run."""
        config = self.config
        sample = SampleBuilder.for_run(config, self.layout.ao_atoms, self.out_dir, HELDOUT_STREAM).build(0)
        return sample, self._validation_energy(None, sample)

    def _validation_energy(self, params, sample):
        return float(self._predict(params, sample.system, self.token_ids, sample.positions).terms.total)

    def next_batch(self, stream, grid_points):
        """(systems, positions) of the next step as global arrays split over the mesh, and the samples of
        this process' rows."""
        samples = [next(stream) for _ in self.rows]
        local = (stack_systems([s.system for s in samples], grid_points), np.stack([s.positions for s in samples]))
        return parallel.sharded_batch(local, self.rows, self.mesh, self.config.batch_size), samples

    def _apply_step(self, batch, lr):
        """The compiled update on one batch from next_batch: (params, opt_state, StepStats)."""
        systems, positions = batch
        token_ids, lr = parallel.replicated((self.token_ids, np.float64(lr)), self.mesh)
        return self._train_step(self.params, self.opt_state, systems, token_ids, positions, lr)

    def _one_step(self, stream, step_times, progress, validation):
        started = time.perf_counter()  # waiting for the Systems counts: the budget is wall time
        waited = stream.wait_seconds
        validation_sample, validation_baseline = validation
        batch, samples = self.next_batch(stream, validation_sample.system.grid.size)
        wait_seconds = stream.wait_seconds - waited
        lr = self.learning_rate_at(self.step)
        params, opt_state, stats = self._apply_step(batch, lr)
        stats = parallel.host_local(stats)
        loss, gradient_norm = float(stats.loss), float(stats.gradient_norm)
        if not np.isfinite(loss) or not np.isfinite(gradient_norm):
            raise FloatingPointError(f"step {self.step}: non-finite loss {loss} or gradient "
                                     f"(|g| = {gradient_norm}); the last checkpoint is "
                                     f"{self.checkpoint_path}; try a lower --lr")
        self.params, self.opt_state = params, opt_state
        validation_loss = float("nan")
        if self.step % self.config.validate_every == 0 or self.step + 1 == self.schedule_steps:
            validation_loss = self._validation_energy(self.local_params, validation_sample)
        seconds = time.perf_counter() - started
        step_times.append(seconds)
        build_seconds = sum(s.build_seconds for s in samples)
        for name, value in zip(_HISTORY_FIELDS, (self.step, loss, validation_loss, validation_baseline, lr, seconds,
                                                 build_seconds, wait_seconds, gradient_norm)):
            self.history[name].append(value)
        self.step += 1
        if np.isfinite(validation_loss):
            self._validation_gain = (validation_loss - validation_baseline) * 1e3
        progress.update(self.step, loss, self._validation_gain, lr, seconds, wait_seconds)
