"""The paper's optimiser: clip_by_global_norm(1.0), then AdamW (b2 0.95, eps 1e-12, weight decay 0.1),
with a linear warmup and cosine decay of the learning rate.

The learning rate is an injected hyperparameter that the trainer sets every step from
`learning_rate(step, ...)` on the host, instead of a schedule baked into the compiled step: a run
with a time budget (`--minutes`) fixes its schedule length only after timing its first steps, and
the compiled step stays valid. Weight decay applies to matrices only, not to LayerNorm gains or biases.
"""
import functools
import math

import jax
import jax.numpy as jnp
import optax

CLIP_NORM = 1.0
B1, B2, EPS, WEIGHT_DECAY = 0.9, 0.95, 1e-12, 0.1


def _matrices_only(params):
    return jax.tree_util.tree_map(lambda leaf: leaf.ndim >= 2, params)


@functools.lru_cache(maxsize=None)  # one object per dtype, so jitted steps built from it can be cached too
def make_optimizer(dtype="float64") -> optax.GradientTransformation:
    adamw = optax.inject_hyperparams(optax.adamw, static_args=("mask",), hyperparam_dtype=jnp.dtype(dtype))
    return optax.chain(
        optax.clip_by_global_norm(CLIP_NORM),
        adamw(learning_rate=0.0, b1=B1, b2=B2, eps=EPS, weight_decay=WEIGHT_DECAY, mask=_matrices_only),
    )


def with_learning_rate(opt_state, learning_rate):
    """opt_state (from make_optimizer) with its AdamW learning rate replaced (traceable)."""
    clip_state, adamw_state = opt_state
    hyperparams = dict(adamw_state.hyperparams)
    hyperparams["learning_rate"] = jnp.asarray(learning_rate, hyperparams["learning_rate"].dtype)
    return clip_state, adamw_state._replace(hyperparams=hyperparams)


def learning_rate(step: int, peak: float, warmup_steps: int, total_steps: int, end: float = 1e-7) -> float:
    """Linear warmup from 0 over warmup_steps (step 0 already gets peak/warmup_steps), then cosine from
    peak down to `end` at step total_steps - 1."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    decay_steps = max(total_steps - 1 - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return end + 0.5 * (peak - end) * (1.0 + math.cos(math.pi * progress))
