"""Quantum-biased multi-head self-attention over AO tokens.

Some heads add a fixed matrix from the physics to their attention logits, so from the first step the
network attends along the couplings that H, D and J/K express. The matrices (BIAS_NAMES, in this
order) are each divided by their largest |entry|, which makes them O(1) whatever the molecule or unit.
"""
import jax
import jax.numpy as jnp
import numpy as np

BIAS_NAMES = (
    "core_hamiltonian",          # H_core
    "position_gram",             # r_a . r_b of the AOs' atoms (principal-axis frame)
    "orthogonal_core_hamiltonian",  # X^T H_core X
    "minao_density",             # D0
    "coulomb_exchange",          # J(D0) - K(D0)/2
    "xc_potential",              # V_xc(D0)
    "initial_hamiltonian",       # H_init = F(D0)
)


def normalised_bias_stack(matrices: dict, token_mask=None) -> jnp.ndarray:
    """[len(BIAS_NAMES), N, N]: each named matrix divided by its max |entry| (an all-zero one stays 0).
    With a token_mask [N], entries in a ghost token's row or column are zero and do not count for the max."""
    missing = [name for name in BIAS_NAMES if name not in matrices]
    if missing:
        raise ValueError(f"quantum biases: missing {missing}")
    scaled = []
    for name in BIAS_NAMES:
        matrix = matrices[name]
        if token_mask is not None:
            matrix = jnp.where(token_mask[:, None] & token_mask[None, :], matrix, 0.0)
        largest = jnp.max(jnp.abs(matrix))
        scaled.append(matrix / jnp.where(largest > 0, largest, 1.0))
    return jnp.stack(scaled)


def head_biases(biases, config) -> jnp.ndarray:
    """[n_heads, N, N]: bias matrix b goes to heads b*k .. b*k + k - 1 (k = bias_heads_per_matrix); the
    remaining heads get zeros."""
    repeated = jnp.repeat(biases, config.bias_heads_per_matrix, axis=0)
    free = config.n_heads - config.n_bias_heads
    zeros = jnp.zeros((free,) + biases.shape[1:], biases.dtype)
    return jnp.concatenate([repeated, zeros], axis=0)


def init_attention(rng, config, dtype):
    """Fresh attention weights from a numpy Generator (host-side: no XLA compilation per shape)."""
    d = config.d_model
    return {
        "qkv": (rng.normal(size=(d, 3 * d)) / np.sqrt(d)).astype(dtype),
        "qkv_bias": np.zeros((3 * d,), dtype),
        # Residual branches start small in deep stacks (GPT-2's 1/sqrt(2 L)), so the sum stays O(1).
        "out": (rng.normal(size=(d, d)) / np.sqrt(2.0 * d * config.n_layers)).astype(dtype),
        "out_bias": np.zeros((d,), dtype),
    }


def attention(params, x, biases, config, token_mask=None):
    """x [N, d], biases [n_heads, N, N] -> [N, d]. token_mask [N] bool: no token attends to a False one."""
    n, d = x.shape
    qkv = x @ params["qkv"] + params["qkv_bias"]
    q, k, v = (part.reshape(n, config.n_heads, config.head_dim).transpose(1, 0, 2)
               for part in jnp.split(qkv, 3, axis=-1))
    logits = q @ k.transpose(0, 2, 1) / jnp.sqrt(config.head_dim).astype(x.dtype) + biases
    if token_mask is not None:
        logits = jnp.where(token_mask[None, None, :], logits, -jnp.inf)  # every row keeps its real keys
    weights = jax.nn.softmax(logits, axis=-1)
    heads = (weights @ v).transpose(1, 0, 2).reshape(n, d)
    return heads @ params["out"] + params["out_bias"]
