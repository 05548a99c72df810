"""`qpt` command line (also `python -m qpt`)."""
import argparse
import platform
import sys


def _info(_args):
    import jax
    import numpy
    import pyscf

    import qpt
    import qpt_kernels

    build = qpt_kernels.build_info()
    print(f"qpt {qpt.__version__}")
    print(f"  kernels: version {build['version']}, compiled with {build['compiler']}")
    if build["cuda_compiled"]:
        print(f"  CUDA module: compiled (CUDA {build['cuda_version']}, "
              f"architectures {build['cuda_architectures']})")
    else:
        reason = build.get("cuda_import_error", "built without nvcc")
        print(f"  CUDA module: not available ({reason})")
    for platform_name, names in build["targets"].items():
        print(f"  FFI targets [{platform_name}]: {', '.join(names) if names else '(none)'}")
    print(f"python {platform.python_version()}, jax {jax.__version__}, numpy {numpy.__version__}, "
          f"pyscf {pyscf.__version__}")
    print(f"  float64 enabled: {jax.config.jax_enable_x64}")
    print(f"  devices: {', '.join(f'{d.platform}:{d.id} ({d.device_kind})' for d in jax.devices())}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="qpt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="build info, devices and versions")
    info.set_defaults(run=_info)
    from qpt import energy_check
    from qpt.predict.cli import add_parser as add_predict_parser
    from qpt.eval.cli import add_parser as add_dataset_parser
    from qpt.train.cli import add_parsers as add_training_parsers

    energy_check.add_parser(commands)
    add_training_parsers(commands)
    add_predict_parser(commands)
    add_dataset_parser(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"qpt {args.command}: {error}", file=sys.stderr)
        return 2
