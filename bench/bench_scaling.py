"""Data-parallel scaling of the QPT trainer: geometries per second on meshes of 1, 2 and 4 host devices, and
the fraction of step time the trainer spent waiting for System builds (worker processes).

    python bench/bench_scaling.py [--molecule uracil] [--basis sto-3g] [--grid-level 1] [--per-device 2]
                                  [--steps 6] [--devices 1 2 4] [--geometries gaussian|thermal]

Each device count runs in its own process with XLA_FLAGS=--xla_force_host_platform_device_count=N (JAX
reads it once, at start-up), trains `--per-device` geometries per device per step (weak scaling: the
batch grows with the mesh) and reports the steady state: the first two steps (compilation, workers
starting) and the last (it also evaluates the validation geometry) are left out, and only one batch is
built ahead (prefetch 1), so Systems built during compilation cannot flatter the throughput. Efficiency is
throughput(N) / (N x throughput(1)). On a CPU the host devices share the same cores, so expect little
speed-up there; what the table shows is that the sharded step and the data pipeline keep working.

--geometries: the training geometry source (default gaussian, as in the README's table; thermal adds the
MD of each frame to the workers' build time).

Under pytest (`pytest --benchmark-only bench/bench_scaling.py`) one small case runs: water, sto-3g.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

_SKIPPED_FIRST, _SKIPPED_LAST = 2, 1


def _measure(args) -> dict:
    """In the child process: train and report the steady-state numbers as one JSON line."""
    import jax
    import numpy as np

    from qpt.train.config import TrainConfig
    from qpt.train.trainer import Trainer

    config = TrainConfig(molecule=args.molecule, basis=args.basis, grid_level=args.grid_level, model="tiny",
                         steps=args.steps, warmup_steps=1, geometries=args.geometries, batch_size=args.per_device * args.inner,
                         devices=args.inner, validate_every=10 ** 6, checkpoint_every=10 ** 6, prefetch=1)
    trainer = Trainer(config, tempfile.mkdtemp(prefix="qpt-bench-scaling-"), progress=False)
    history = trainer.run().history
    steady = slice(_SKIPPED_FIRST, args.steps - _SKIPPED_LAST)
    seconds = float(np.sum(history["step_seconds"][steady]))
    steps = len(history["step_seconds"][steady])
    return {"devices": args.inner, "jax_devices": jax.device_count(), "batch": config.batch_size,
            "steps": steps, "seconds": seconds, "geometries_per_second": steps * config.batch_size / seconds,
            "wait_fraction": float(np.sum(history["wait_seconds"][steady])) / seconds,
            "build_seconds_per_geometry": float(np.sum(history["build_seconds"][steady])) / (steps * config.batch_size),
            "workers": config.workers or "auto"}


def run_scaling(molecule, basis, grid_level, per_device, steps, device_counts, timeout=1800,
                geometries="gaussian") -> list:
    if steps <= _SKIPPED_FIRST + _SKIPPED_LAST:
        raise ValueError(f"--steps must exceed {_SKIPPED_FIRST + _SKIPPED_LAST} (warm-up and last steps are not timed)")
    rows = []
    for devices in device_counts:
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        command = [sys.executable, os.path.abspath(__file__), "--inner", str(devices), "--molecule", molecule,
                   "--basis", basis, "--grid-level", str(grid_level), "--per-device", str(per_device),
                   "--steps", str(steps), "--geometries", geometries]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"scaling run on {devices} devices failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = rows[0]["geometries_per_second"] / rows[0]["devices"]
    for row in rows:
        row["efficiency"] = row["geometries_per_second"] / (row["devices"] * base)
    return rows


def format_table(rows, title) -> str:
    lines = [title, "| devices | batch | geometries/s | efficiency | step time waiting for Systems | build s/geometry |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(f"| {row['devices']} | {row['batch']} | {row['geometries_per_second']:.2f} | "
                     f"{row['efficiency']:.0%} | {row['wait_fraction']:.0%} | {row['build_seconds_per_geometry']:.2f} |")
    return "\n".join(lines)


def _parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molecule", default="uracil")
    parser.add_argument("--basis", default="sto-3g")
    parser.add_argument("--grid-level", type=int, default=1)
    parser.add_argument("--per-device", type=int, default=2, help="geometries per device per step")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--geometries", choices=("gaussian", "thermal"), default="gaussian")
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)  # the child process' device count
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.inner is not None:
        print(json.dumps(_measure(args)))
        return 0
    rows = run_scaling(args.molecule, args.basis, args.grid_level, args.per_device, args.steps, args.devices,
                       geometries=args.geometries)
    print(format_table(rows, f"{args.molecule} {args.basis} b3lyp5 grid level {args.grid_level}, tiny model, "
                             f"{args.per_device} geometries per device per step, {os.cpu_count()} CPU cores"))
    return 0


def bench_scaling(benchmark):
    benchmark.group = "qpt data-parallel scaling"
    rows = benchmark.pedantic(run_scaling, args=("water", "sto-3g", 0, 2, 5, [1, 2]), rounds=1, iterations=1)
    print("\n" + format_table(rows, "water sto-3g grid level 0"))
    benchmark.extra_info.update({f"{row['devices']}_devices": row for row in rows})
    assert all(row["jax_devices"] == row["devices"] for row in rows)


if __name__ == "__main__":
    sys.exit(main())
