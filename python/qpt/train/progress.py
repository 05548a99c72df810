"""Training progress: a tqdm bar when tqdm is installed, else a plain line every few seconds."""
import sys
import time

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is an optional extra ('train'); plain lines do the job without it
    tqdm = None


def describe(loss, gain_mha, learning_rate, step_seconds, wait_seconds=0.0):
    """gain_mha: E(D3) - E(D3 with W = 0) of the held-out validation geometry; negative once the network helps.
    wait_seconds: the part of the step spent waiting for the data (System builds)."""
    return (f"loss {loss:.6f} Ha  validation E vs W=0 {gain_mha:+.3f} mHa  lr {learning_rate:.2e}  "
            f"{step_seconds * 1e3:.0f} ms/step (data wait {wait_seconds * 1e3:.0f} ms)")


class Progress:
    """update() after every step; close() at the end. total may be None until the run length is known."""

    def __init__(self, initial: int, total=None, *, enabled=True, every_seconds=10.0, stream=sys.stderr):
        self.enabled = enabled
        self.every_seconds = every_seconds
        self.stream = stream
        self.total = total
        self._last_print = -float("inf")
        self._bar = None
        if enabled and tqdm is not None:
            self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, file=stream)

    def set_total(self, total):
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def update(self, step, loss, gain_mha, learning_rate, step_seconds, wait_seconds=0.0):
        """`step` is the number of completed steps."""
        if not self.enabled:
            return
        text = describe(loss, gain_mha, learning_rate, step_seconds, wait_seconds)
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            self._bar.set_postfix_str(text, refresh=False)
            return
        now = time.monotonic()
        if now - self._last_print >= self.every_seconds or step == self.total:
            self._last_print = now
            of_total = f"/{self.total}" if self.total else ""
            print(f"step {step}{of_total}  {text}", file=self.stream, flush=True)

    def message(self, log, text):
        """log(text) without tearing the bar: it is cleared around the call and redrawn after."""
        if self._bar is None:
            log(text)
            return
        with tqdm.external_write_mode():
            log(text)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
