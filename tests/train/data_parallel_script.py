"""Run in a subprocess by test_data_parallel.py: JAX must see several CPU devices (XLA_FLAGS set before it
starts), which the pytest process itself must not change.

    python data_parallel_script.py OUT_NPZ STEPS BATCH DEVICES [DEVICES ...]

For each DEVICES count it trains the small setup for STEPS steps with batch size BATCH on a mesh of that
many devices and stores the final parameters as params/<devices>/<leaf>. It also stores reference/<leaf>:
the same steps computed without the trainer's machinery (no mesh, no shard_map, no vmap): each
geometry's gradient by jax.grad of the per-geometry loss, one jit per geometry, averaged in numpy and
applied with the optimiser.
"""
import sys
import tempfile

import jax
import numpy as np
import optax
from training_setup import small_config

from qpt.data.samples import SampleBuilder
from qpt.train.features import quantum_features
from qpt.train.loss import qpt_loss
from qpt.train.optimizer import with_learning_rate
from qpt.train.parallel import host_local
from qpt.train.trainer import Trainer


def reference_parameters(trainer, steps):
    config = trainer.config
    params, opt_state = host_local(trainer.params), host_local(trainer.opt_state)

    @jax.jit
    def geometry_gradient(params, system, positions):
        def loss(p):
            features = quantum_features(system, trainer.token_ids, positions, trainer.functional,
                                        ops=trainer.ops, dtype=config.dft_dtype)
            return qpt_loss(p, config.model, system, features, trainer.functional, ops=trainer.ops,
                            dtype=config.dft_dtype)[0]
        return jax.grad(loss)(params)

    @jax.jit
    def update(params, opt_state, grads, lr):
        updates, opt_state = trainer.optimizer.update(grads, with_learning_rate(opt_state, lr), params)
        return optax.apply_updates(params, updates), opt_state

    builder = SampleBuilder(config.molecule, config.basis, config.grid_level, trainer.layout.ao_atoms, config.seed,
                            config.sigma_bohr)
    gradient_norms = []
    for step in range(steps):
        samples = [builder.build(step * config.batch_size + row) for row in range(config.batch_size)]
        grads = [jax.tree_util.tree_map(np.asarray, geometry_gradient(params, s.system, s.positions))
                 for s in samples]
        mean = jax.tree_util.tree_map(lambda *g: np.sum(g, axis=0) / len(g), *grads)
        gradient_norms.append(np.sqrt(sum(np.sum(g * g) for g in jax.tree_util.tree_leaves(mean))))
        params, opt_state = update(params, opt_state, mean, np.float64(trainer.learning_rate_at(step)))
    return params, gradient_norms


def main():
    out, steps, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    device_counts = [int(n) for n in sys.argv[4:]]
    arrays = {}
    for devices in device_counts:
        config = small_config(steps=steps, batch_size=batch, devices=devices, warmup_steps=1, workers=2)
        trainer = Trainer(config, tempfile.mkdtemp(), progress=False)
        result = trainer.run()
        assert result.steps == steps
        for path, leaf in jax.tree_util.tree_flatten_with_path(trainer.local_params)[0]:
            arrays[f"params/{devices}/{jax.tree_util.keystr(path, simple=True, separator="/")}"] = leaf
        arrays[f"loss/{devices}"] = result.history["loss"]
        arrays[f"gradient_norm/{devices}"] = result.history["gradient_norm"]
    untrained = Trainer(small_config(steps=steps, batch_size=batch, devices=1, warmup_steps=1), tempfile.mkdtemp(),
                        progress=False)
    params, gradient_norms = reference_parameters(untrained, steps)
    arrays["reference_gradient_norm"] = np.asarray(gradient_norms)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        arrays[f"reference/{jax.tree_util.keystr(path, simple=True, separator="/")}"] = np.asarray(leaf)
    np.savez(out, **arrays)


if __name__ == "__main__":
    main()
