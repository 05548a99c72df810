"""Loss-curve plot (matplotlib, an optional extra: without it the plot is skipped and the caller says so)."""
import numpy as np


def plot_loss_curve(history: dict, path) -> bool:
    """Writes the training curves to `path`; False if matplotlib is missing.

    Top: the training loss E(D3) of every step, which swings by tens of mHa with each step's geometry,
    and its running mean. Bottom: E(D3) - E(D3 with W = 0) of the fixed held-out validation geometry in
    mHa, the clean learning curve (negative: the network's H lands closer to self-consistency than
    H_init alone does).
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    steps = np.asarray(history["step"])
    loss = np.asarray(history["loss"])
    window = max(1, len(loss) // 20)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    validation = (np.asarray(history["validation_loss"]) - np.asarray(history["validation_baseline"])) * 1e3
    measured = np.isfinite(validation)

    figure, (loss_axis, validation_axis) = plt.subplots(2, 1, sharex=True, figsize=(7, 6), constrained_layout=True)
    loss_axis.plot(steps, loss, ".", ms=2, color="tab:grey", alpha=0.5, label="one training geometry")
    loss_axis.plot(steps[window - 1:], smooth, color="black", lw=1.2, label=f"running mean ({window} steps)")
    loss_axis.set_ylabel("training loss E(D3) [Ha]")
    loss_axis.legend(loc="upper right", fontsize=8)
    loss_axis.set_title("QPT training: DFT energy after two Fock iterations from H_init + W")
    validation_axis.axhline(0.0, color="black", lw=0.6)
    validation_axis.plot(steps[measured], validation[measured], "o-", color="tab:blue", ms=3, lw=1.5)
    validation_axis.set_ylabel("held-out E(D3) - E(D3, W=0) [mHa]")
    validation_axis.set_xlabel("training step (a new geometry each)")
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True
