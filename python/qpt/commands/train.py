"""`qpt train`: train a QPT model, the DFT energy as the loss (registered by qpt.commands)."""
from __future__ import annotations

import os

from qpt.commands.options import add_run_arguments, check_output_directory, describe, finish_training, ops_module, \
    train_config

# Options that --resume honours (how to run, not what to train); every other one comes from the checkpoint.
# Options that describe the machine, not the run: a resumed run takes them from the command line.
_RESUME_OPTIONS = {"no_progress", "ops", "distributed", "coordinator_address", "num_processes", "process_id",
                   "peer_timeout", "grid_table_gib"}


def add_parser(commands) -> None:
    train = commands.add_parser("train", help="train a QPT model (the DFT energy is the loss)",
                                description=_train.__doc__)
    add_run_arguments(train, grid_level=3, learning_rate=5e-4)
    train.add_argument("--molecules",
                       help="train one model on many molecules: a list file (one catalog name, xyz file or SMILES "
                            "per line, optionally tagged train or heldout) or a built-in list (organic9); the "
                            "entries not tagged heldout are trained on; replaces --molecule")
    train.add_argument("--max-buckets", type=int, default=4,
                       help="--molecules: padding layouts, so compiled steps, at most (default 4)")
    train.add_argument("--out", required=True, help="run directory (checkpoint.npz, loss_curve.png, labels/)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run saved in --out with its stored settings (other options ignored)")
    train.add_argument("--distributed", action="store_true",
                       help="one of several processes (hosts): calls jax.distributed.initialize first; the mesh "
                            "spans every process' devices and process 0 writes the checkpoints")
    train.add_argument("--coordinator-address",
                       help="host:port of process 0 (default: $JAX_COORDINATOR_ADDRESS or cluster auto-detection)")
    train.add_argument("--num-processes", type=int, help="default: $JAX_NUM_PROCESSES or cluster auto-detection")
    train.add_argument("--process-id", type=int, help="default: $JAX_PROCESS_ID or cluster auto-detection")
    train.add_argument("--peer-timeout", type=int, default=30,
                       help="seconds without a heartbeat before a lost process ends the run with an error")
    train.set_defaults(run=_train, run_option_defaults={
        action.dest: action.default for action in train._actions
        if action.dest not in {"help", "out", "resume", *_RESUME_OPTIONS}})


def _many_molecule_values(args) -> dict:
    if args.molecules is None:
        if args.max_buckets != 4:
            raise ValueError("--max-buckets is for --molecules")
        return {}
    if args.molecule != "water":
        raise ValueError("give --molecule or --molecules, not both")
    return {"molecules": args.molecules, "max_buckets": args.max_buckets}


def _train(args):
    """Train a QPT model: H = H_init + W(network), loss = the DFT energy after differentiable Kohn-Sham
    iterations (the paper's two by default: E(D3))."""
    from qpt.train.checkpoint import FILE_NAME
    from qpt.train.trainer import Trainer

    check_output_directory(args.out)
    if args.resume:
        ignored = sorted(f"--{dest.replace('_', '-')}" for dest, default in args.run_option_defaults.items()
                         if getattr(args, dest) != default)
        if ignored:
            raise ValueError(f"--resume continues the run with the settings stored in its checkpoint; "
                             f"{', '.join(ignored)} would be ignored: leave them out")
    if args.distributed:
        from qpt.train.parallel import initialize_distributed

        initialize_distributed(args.coordinator_address, args.num_processes, args.process_id,
                               heartbeat_timeout=args.peer_timeout)
    ops = ops_module(args.ops)
    checkpoint = os.path.join(args.out, FILE_NAME)
    if args.resume:
        if not os.path.exists(checkpoint):
            raise ValueError(f"--resume: no checkpoint at {checkpoint}")
        trainer = Trainer.from_checkpoint(checkpoint, ops=ops, progress=not args.no_progress,
                                          grid_table_gib=args.grid_table_gib)
    else:
        if os.path.exists(checkpoint):
            raise ValueError(f"{checkpoint} exists: continue it with --resume or choose another --out")
        trainer = Trainer(train_config(args, **_many_molecule_values(args)), args.out, ops=ops,
                          progress=not args.no_progress)
    if trainer.is_main_process:
        describe(trainer, print)
    result = trainer.run()
    if trainer.is_main_process:
        finish_training(trainer, result, print)
    return 0
