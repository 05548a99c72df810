"""`qpt info`: version, compiler, CUDA module, registered FFI targets, devices (registered by qpt.commands)."""
import platform


def add_parser(commands) -> None:
    commands.add_parser("info", help="build info, devices and versions").set_defaults(run=_info)


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
