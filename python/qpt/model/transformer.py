"""The QPT Transformer: AO tokens in, a symmetric Hamiltonian correction W [N, N] out.

x_a = embedding[token_a] + position_embedding(r_a); n_layers pre-LayerNorm blocks
x <- x + attention(LN(x), quantum biases); x <- x + W2 gelu(W1 LN(x)); then q = LN(x) W_q and
W = q q^T / sqrt(d). Parameters are a plain dict pytree; the layers' arrays are stacked on a leading
axis and run with lax.scan, so compile time does not grow with depth (the paper's 24 layers).
"""
import jax
import jax.numpy as jnp
import numpy as np

from qpt.model.attention import attention, head_biases, init_attention
from qpt.model.config import ModelConfig

_LAYER_NORM_EPSILON = 1e-5
_SHORTEST_WAVELENGTH, _LONGEST_WAVELENGTH = 0.5, 16.0  # bohr: bond-length changes up to molecule size


def _layer_norm(params, x):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    variance = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(variance + _LAYER_NORM_EPSILON) * params["scale"] + params["bias"]


def _init_layer_norm(d, dtype):
    return {"scale": np.ones((d,), dtype), "bias": np.zeros((d,), dtype)}


def _wavenumbers(config, dtype):
    if config.position_frequencies == 0:
        return np.zeros((0,), dtype)
    wavelengths = np.geomspace(_SHORTEST_WAVELENGTH, _LONGEST_WAVELENGTH, config.position_frequencies)
    return (2 * np.pi / wavelengths).astype(dtype)


def position_features(positions, config):
    """[N, 3 (1 + 2 F)]: the coordinates and their sines and cosines at F wavelengths."""
    phases = (positions[:, :, None] * _wavenumbers(config, positions.dtype)).reshape(positions.shape[0], -1)
    return jnp.concatenate([positions, jnp.sin(phases), jnp.cos(phases)], axis=-1)


def _init_layer(rng, config, dtype):
    d, d_ff = config.d_model, config.d_ff
    return {
        "attention_norm": _init_layer_norm(d, dtype),
        "attention": init_attention(rng, config, dtype),
        "mlp_norm": _init_layer_norm(d, dtype),
        "mlp": {
            "w_in": (rng.normal(size=(d, d_ff)) / np.sqrt(d)).astype(dtype),
            "b_in": np.zeros((d_ff,), dtype),
            "w_out": (rng.normal(size=(d_ff, d)) / np.sqrt(2.0 * d_ff * config.n_layers)).astype(dtype),
            "b_out": np.zeros((d,), dtype),
        },
    }


def init_params(config: ModelConfig, vocabulary_size: int, seed: int = 0) -> dict:
    """Fresh parameters (dtype config.dtype) for a vocabulary of `vocabulary_size` AO token types.

    Drawn with numpy's Generator seeded by `seed` and built in numpy: deterministic, and no XLA
    compilation for each parameter shape.
    """
    if isinstance(vocabulary_size, bool) or not isinstance(vocabulary_size, int) or vocabulary_size < 1:
        raise ValueError(f"vocabulary_size must be a positive integer, got {vocabulary_size!r}")
    rng = np.random.default_rng(seed)
    dtype = np.dtype(config.dtype)
    d = config.d_model
    n_position = 3 * (1 + 2 * config.position_frequencies)
    layers = [_init_layer(rng, config, dtype) for _ in range(config.n_layers)]
    params = {
        "token_embedding": rng.normal(size=(vocabulary_size, d)).astype(dtype),
        "position_embedding": {
            "w": (rng.normal(size=(n_position, d)) / np.sqrt(n_position)).astype(dtype),
            "b": np.zeros((d,), dtype),
        },
        "layers": jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *layers),
        "final_norm": _init_layer_norm(d, dtype),
        "head": {
            "w": (config.output_init_scale * rng.normal(size=(d, d)) / np.sqrt(d)).astype(dtype),
            "b": np.zeros((d,), dtype),
        },
    }
    return jax.tree_util.tree_map(jnp.asarray, params)


def parameter_count(params) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(params))


def _block(config, biases, token_mask):
    def block(x, layer):
        x = x + attention(layer["attention"], _layer_norm(layer["attention_norm"], x), biases, config, token_mask)
        mlp = layer["mlp"]
        hidden = jax.nn.gelu(_layer_norm(layer["mlp_norm"], x) @ mlp["w_in"] + mlp["b_in"])
        return x + hidden @ mlp["w_out"] + mlp["b_out"], None

    return block


def hamiltonian_correction(params: dict, config: ModelConfig, inputs) -> jnp.ndarray:
    """W [N, N] = q q^T / sqrt(d), exactly symmetric, in the network's dtype (config.dtype); zero in the rows
    and columns of ghost tokens (inputs.token_mask False)."""
    dtype = jnp.dtype(config.dtype)
    positions = jnp.asarray(inputs.positions, dtype)
    biases = head_biases(jnp.asarray(inputs.biases, dtype), config)
    embedding = params["position_embedding"]
    x = (params["token_embedding"][inputs.token_ids]
         + position_features(positions, config) @ embedding["w"] + embedding["b"])
    token_mask = None if inputs.token_mask is None else jnp.asarray(inputs.token_mask, bool)
    x, _ = jax.lax.scan(_block(config, biases, token_mask), x, params["layers"])
    q = _layer_norm(params["final_norm"], x) @ params["head"]["w"] + params["head"]["b"]
    if token_mask is not None:
        q = jnp.where(token_mask[:, None], q, 0.0)
    w = q @ q.T / jnp.sqrt(config.d_model).astype(dtype)
    return (w + w.T) / 2  # a blocked GEMM may round (i, j) and (j, i) differently; the DFT needs exact symmetry
