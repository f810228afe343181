"""The ``pyvanish`` command line.

    pyvanish                 the tutorial network, step by step (= pyvanish seed)
    pyvanish seed            every chain factor of the 1-1-1-1-1 network: sigmoid, then ReLU + He
    pyvanish report ...      the per-layer gradient report of any dense network
    pyvanish compare ...     the fixes side by side (ReLU + He, batch norm, residual)
    pyvanish ensemble ...    statistics over thousands of random networks, next to mean-field theory
    pyvanish theory ...      mean-field theory: chi1, depth scales, the critical line
    pyvanish train ...       training dynamics: does the first layer learn?
    pyvanish sweep ...       a grid of configurations x seeds -> one tidy table

Bad arguments print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence

import numpy as np

from . import __version__
from ._activations import ACTIVATIONS
from ._text import format_table
from .architecture import LOSSES, MAX_DEPTH, Architecture
from .compare import DEFAULT_CONFIGS, METRICS, compare
from .ensemble import Ensemble
from .init import ALIASES, INITS
from .network import Network
from .tutorial import seed_network


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        raise _UsageError(f"{self.prog}: error: {message}")


def _floats(text: str) -> list:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _ints(text: str) -> list:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(not 1 <= v <= _MAX_SIZE for v in vals):
        raise argparse.ArgumentTypeError(f"widths must be positive integers up to {_MAX_SIZE}, got {text!r}")
    return vals


#: The largest size (width, depth, batch, members, steps) the command line accepts: beyond it
#: every command would need more memory than any machine has (a 23-digit --depth was an OverflowError).
_MAX_SIZE = 2**31 - 1


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= v <= _MAX_SIZE:
        raise argparse.ArgumentTypeError(f"expected a positive integer up to {_MAX_SIZE}, got {text!r}")
    return v


def _depth(text: str) -> int:
    v = _positive(text)
    if v > MAX_DEPTH:
        raise argparse.ArgumentTypeError(f"expected a depth up to {MAX_DEPTH:,} layers, got {text!r}")
    return v


#: Deeper networks are refused: a Python list per layer and one engine call per layer make them hang.


def _check_writable(path: str, option: str) -> None:
    """Before any computation: the directory of ``path`` exists and is writable (else a usage error)."""
    import os

    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise _UsageError(f"pyvanish: error: {option}: {path!r} is a directory")
    if not os.path.isdir(folder):
        raise _UsageError(f"pyvanish: error: {option}: directory {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise _UsageError(f"pyvanish: error: {option}: cannot write {path!r}")


def _shape_args(p: argparse.ArgumentParser, depth: int, width: int, batch: int = 64) -> None:
    """The network shape, batch, seed and dtype options shared by report, compare and ensemble."""
    p.add_argument("--depth", type=_depth, default=depth, help=f"number of hidden layers (default {depth})")
    p.add_argument("--width", type=_positive, default=width, help=f"hidden width (default {width})")
    p.add_argument("--input-width", type=_positive, help="input width (default: --width)")
    p.add_argument("--output-width", type=_positive, default=1, help="output width (default 1)")
    p.add_argument("--batch", type=_positive, default=batch, help=f"batch size (default {batch})")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and data (default 0)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64", help="(default float64)")
    _loss_arg(p, "mse")


def _loss_arg(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default=default,
        help="mse: 1/(2B) sum |y - t|^2; cross_entropy: softmax + NLL, mean over the batch; bce: sigmoid + "
        "binary cross-entropy, mean over the outputs; "
        + (f"default {default}" if default else "default cross_entropy for --task digits, else mse"),
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pyvanish", description="See, measure and explain vanishing and exploding gradients.")
    p.add_argument("--version", action="version", version=f"pyvanish {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser(
        "seed",
        help="walk through the tutorial network (sigmoid, then ReLU + He)",
        description="The tutorial's 1 -> 1 -> 1 -> 1 -> 1 network: every chain factor "
        "phi'(z_i) w_i, their products, and where each belongs.",
    )
    s.set_defaults(func=_seed)
    s.add_argument("--weights", type=_floats, help="w1,w2,...: explicit weights (default: w ~ N(0, 1))")
    s.add_argument("--biases", type=_floats, help="b1,b2,...: explicit biases (default 0)")
    s.add_argument(
        "--depth",
        type=_depth,
        default=4,
        help="weight layers (default 4: x->h1->h2->h3->y; --weights and --biases give one per layer)",
    )
    s.add_argument("--x", type=float, default=1.0, help="the input (default 1)")
    s.add_argument("--t", type=float, default=0.0, help="the target (default 0)")
    s.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")

    r = sub.add_parser(
        "report",
        help="per-layer gradient report of a dense network",
        description="Build a dense network, run one batch of Gaussian inputs x ~ N(0, 1) "
        "and targets t ~ N(0, 1), and print the per-layer gradient report.",
    )
    r.set_defaults(func=_report)
    _shape_args(r, depth=10, width=32)
    r.add_argument("--widths", type=_ints, help="all widths n0,n1,...,nL (overrides the four above)")
    r.add_argument("--activation", default="tanh", help=f"hidden activation: {', '.join(ACTIVATIONS)} (default tanh)")
    r.add_argument("--output-activation", default="identity", help="output activation (default identity)")
    r.add_argument(
        "--init",
        default="xavier",
        help=f"initialisation: {', '.join(INITS)} or an alias ({', '.join(sorted(ALIASES))}); default xavier",
    )
    r.add_argument(
        "--sigma-w",
        "--sw",
        dest="sw",
        type=float,
        default=1.0,
        help="sigma_w, the weight scale of --init normal: Var W = sigma_w^2/fan_in (default 1)",
    )
    r.add_argument(
        "--sigma-b", "--sb", dest="sb", type=float, default=0.0, help="sigma_b: biases ~ N(0, sigma_b^2) (default 0)"
    )
    r.add_argument("--batchnorm", action="store_true", help="batch normalisation on every hidden layer")
    r.add_argument("--residual", action="store_true", help="residual connections on the hidden layers")
    r.add_argument("--residual-block", type=_positive, default=1, help="layers per residual block (default 1)")
    r.add_argument("--residual-scale", type=float, default=1.0, help="scale of the residual branch (default 1)")
    r.add_argument("--json", action="store_true", help="print the report as JSON")
    r.add_argument("--plot", metavar="FILE.png", help="also draw the figure to FILE (needs matplotlib)")
    c = sub.add_parser(
        "compare",
        help="the recipes side by side: tutorial sigmoid, ReLU + He, batch norm, ResNet, transformer, isometry",
        description="Run several configurations on the same network shape, data and seed and "
        "print one table: a row per layer, a column per configuration, then both "
        "ratios and the verdict of each. Default configurations: " + "; ".join(DEFAULT_CONFIGS) + ".",
    )
    c.set_defaults(func=_compare)
    c.add_argument(
        "--config",
        action="append",
        metavar="SPEC",
        help="a recipe name or a configuration, repeatable: "
        "activation[,init][,bn][,ln][,res|resK][,preln][,scale=S][,gain=G][,sb=S], "
        "e.g. --config resnet --config tanh,xavier,bn --config relu,he,res",
    )
    _shape_args(c, depth=20, width=64)
    c.add_argument(
        "--metric",
        choices=sorted(METRICS),
        default="W",
        help="table column (default W): W = |dL/dW_l|, h = |dL/dh_l|, z = |dL/dz_l|, b = |dL/db_l|",
    )
    c.add_argument("--json", action="store_true", help="print the comparison as JSON")
    c.add_argument("--plot", metavar="FILE.png", help="also draw the figure to FILE (needs matplotlib)")
    e = sub.add_parser(
        "ensemble",
        help="statistics over many random initialisations (and mean-field theory)",
        description="Run n independently initialised networks of one architecture on one "
        "batch and print, per layer, the median and 5-95 % range of log10 "
        "|dL/dh_l|, |dL/dW_l| and the gain across members; --theory adds "
        "mean-field theory's predicted decay next to the measured one.",
    )
    _shape_args(e, depth=10, width=16, batch=1)
    e.set_defaults(func=_ensemble)
    e.add_argument("-n", "--members", type=_positive, default=10_000, help="networks (default 10000)")
    e.add_argument(
        "--storage",
        choices=["stored", "generated"],
        default="stored",
        help="stored: every member's parameters in memory; generated: drawn inside the run from "
        "(seed, member, layer), nothing stored per member (default stored)",
    )
    e.add_argument("--activation", default="tanh", help="hidden activation (default tanh)")
    e.add_argument("--output-activation", default="identity", help="output activation (default identity)")
    e.add_argument("--init", default="normal", help="initialisation (default normal: Var W = sigma_w^2/fan_in)")
    e.add_argument(
        "--sigma-w", "--sw", dest="sw", type=float, default=1.0, help="sigma_w for --init normal (default 1)"
    )
    e.add_argument(
        "--sigma-b", "--sb", dest="sb", type=float, default=0.0, help="sigma_b: biases ~ N(0, sigma_b^2) (default 0)"
    )
    e.add_argument("--residual", action="store_true", help="residual connections on the hidden layers")
    e.add_argument("--theory", action="store_true", help="compare with mean-field theory")
    e.add_argument("--json", action="store_true", help="print the summary as JSON")
    e.add_argument("--plot", metavar="FILE.png", help="also draw the figure to FILE (needs matplotlib)")

    tr = sub.add_parser(
        "train",
        help="train each configuration and watch the first layer learn (or not)",
        description="Train the same network shape under several configurations (as pyvanish "
        "compare) on a teacher-student regression task (or scikit-learn's digits) "
        "with SGD or Adam, and print the final loss of each and, per layer, the "
        "update ratio |dW|/|W| over time.",
    )
    tr.set_defaults(func=_train)
    tr.add_argument("--config", action="append", metavar="SPEC", help="a configuration, repeatable (see compare)")
    tr.add_argument("--depth", type=_depth, default=10, help="hidden layers (default 10)")
    tr.add_argument("--width", type=_positive, default=64, help="hidden width (default 64)")
    tr.add_argument(
        "--task",
        choices=["teacher", "digits"],
        default="teacher",
        help="(default teacher) teacher: a random tanh teacher network (16 inputs); digits: scikit-learn's digits",
    )
    tr.add_argument("--samples", type=_positive, default=256, help="samples of the teacher task (default 256)")
    tr.add_argument("--steps", type=_positive, default=200, help="optimiser steps (default 200)")
    tr.add_argument("--batch-size", type=_positive, default=32, help="minibatch size (default 32)")
    tr.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    tr.add_argument("--optimizer", choices=["sgd", "momentum", "adam"], default="sgd", help="(default sgd)")
    tr.add_argument("--record-every", type=_positive, default=1, help="record every k steps (default 1)")
    tr.add_argument("--seed", type=int, default=0, help="seed of weights, data and minibatches (default 0)")
    tr.add_argument("--dtype", choices=["float32", "float64"], default="float64", help="(default float64)")
    _loss_arg(tr, None)
    tr.add_argument("--json", action="store_true", help="print the histories as JSON")
    tr.add_argument("--plot", metavar="FILE.png", help="also draw the figure to FILE (needs matplotlib)")

    sw = sub.add_parser(
        "sweep",
        help="a grid of configurations x seeds -> one tidy table (CSV/JSON/Parquet)",
        description="Run every combination of the grid for every seed on the same data and write "
        "one row per configuration x seed x layer. Grid values are comma-separated.",
    )
    sw.set_defaults(func=_sweep)
    sw.add_argument("--depth", default="10", help="depths, e.g. 5,10,20 (default 10)")
    sw.add_argument("--width", default="32", help="widths (default 32)")
    sw.add_argument("--activation", default="tanh", help="activations, e.g. sigmoid,relu (default tanh)")
    sw.add_argument("--init", default="xavier", help="initialisations, e.g. xavier,he (default xavier)")
    sw.add_argument("--batchnorm", default="false", help="false,true (default false)")
    sw.add_argument("--residual", default="false", help="false,true (default false)")
    sw.add_argument("--seeds", type=_positive, default=1, help="seeds 0..n-1 per configuration (default 1)")
    sw.add_argument("--batch", type=_positive, default=64, help="batch size (default 64)")
    sw.add_argument("--workers", type=int, default=0, help="worker processes (default 0: serial)")
    sw.add_argument("--out", metavar="FILE", help="write the table: .csv, .json or .parquet")

    th = sub.add_parser(
        "theory",
        help="mean-field theory: q*, chi1, depth scales, criticality",
        description="Mean-field theory of random networks (Poole et al. 2016; Schoenholz et "
        "al. 2017): Var W = sigma_w^2/fan_in, Var b = sigma_b^2. --sigma-w2 is the weight variance "
        "sigma_w^2, the square of --sigma-w of report and ensemble.",
    )
    th.set_defaults(func=_theory)
    th.add_argument("--activation", default="tanh", help="activation (default tanh)")
    th.add_argument(
        "--sigma-w2",
        "--sw2",
        dest="sw2",
        type=float,
        default=None,
        help="weight variance sigma_w^2 (required unless --critical)",
    )
    th.add_argument(
        "--sigma-b2", "--sb2", dest="sb2", type=float, default=0.0, help="bias variance sigma_b^2 (default 0)"
    )
    th.add_argument("--alpha", type=float, default=None, help="leaky_relu slope / elu scale")
    th.add_argument("--critical", action="store_true", help="print the critical sigma_w^2 for --sigma-b2")
    th.add_argument(
        "--depth",
        type=_depth,
        help="the network's depth: judge the phase against it and print the predicted |dL/dh_l| profile",
    )
    th.add_argument("--json", action="store_true", help="print the results as JSON")
    th.add_argument("--plot", metavar="FILE.png", help="also draw the figure to FILE (needs matplotlib)")
    return p


def _save_plot(path, draw) -> None:
    """Draw with pyvanish.plot and save; a missing matplotlib is a one-line error."""
    try:
        from . import plot
    except ImportError as exc:
        raise _UsageError(f"pyvanish: error: --plot: {exc}") from None
    ax = draw(plot)
    first = ax[0] if isinstance(ax, (tuple, list, np.ndarray)) else ax
    first.figure.savefig(path, dpi=100)


def _architecture(args, fn: str, widths=None) -> Architecture:
    """The architecture a command's options describe (validated once, by Architecture.build)."""
    if widths is None:
        widths = [args.input_width or args.width] + [args.width] * args.depth + [args.output_width]
    return Architecture.build(
        widths,
        activation=args.activation,
        output_activation=args.output_activation,
        batchnorm=getattr(args, "batchnorm", False),
        residual=args.residual,
        residual_block=getattr(args, "residual_block", 1),
        residual_scale=getattr(args, "residual_scale", 1.0),
        dtype=args.dtype,
        loss=getattr(args, "loss", "mse"),
        fn=fn,
    )


def _ensemble(args, out) -> None:
    arch = _architecture(args, "Ensemble")
    ens = Ensemble(arch, args.members, init=args.init, sw=args.sw, sb=args.sb, seed=args.seed, storage=args.storage)
    x, t = arch.default_batch(args.batch, args.seed)
    t0 = time.perf_counter()
    rep = ens.run(x, t)
    elapsed = time.perf_counter() - t0
    cmp = rep.compare_theory() if args.theory else None
    if args.plot:
        _save_plot(args.plot, lambda p: p.ensemble_bands(rep, theory=True if args.theory else None))
    if args.json:
        d = rep.to_dict()
        if cmp is not None:
            d["theory"] = {"chi1": cmp.chi1, "measured": cmp.measured.tolist(), "predicted": cmp.predicted.tolist()}
        print(json.dumps(d, indent=2), file=out)
        return
    print(rep, file=out)
    print(f"({args.members} networks in {elapsed * 1e3:.1f} ms)", file=out)
    if cmp is not None:
        print(file=out)
        print(cmp, file=out)


def _theory(args, out) -> None:
    from . import theory

    if args.plot:

        def draw(p):
            ax = p.phase_diagram(args.activation, sb2=np.linspace(0, max(0.3, args.sb2), 40), alpha=args.alpha)
            if args.sw2 is not None:
                ax.plot([args.sw2], [args.sb2], "k*", markersize=12)
            return ax

        _save_plot(args.plot, draw)
    if args.critical:
        sw2 = theory.critical_sw2(args.activation, args.sb2, alpha=args.alpha)
        if args.json:
            print(json.dumps({"activation": args.activation, "sb2": args.sb2, "critical_sw2": sw2}), file=out)
        else:
            print(
                f"{args.activation}: at sigma_b^2 = {args.sb2:g} the critical sigma_w^2 (chi1 = 1) is {sw2:.6g}",
                file=out,
            )
        return
    if args.sw2 is None:
        raise _UsageError("pyvanish theory: error: --sigma-w2 (--sw2) is required (or use --critical)")
    d = theory.depth_scales(args.activation, args.sw2, args.sb2, alpha=args.alpha)
    if args.json:
        res = dict(vars(d)) if hasattr(d, "__dict__") else d._asdict()  # type: ignore[attr-defined]
        res = {k: (v if np.isfinite(v) else str(v)) for k, v in res.items()}
        res["phase"] = d.phase(args.depth)
        if args.depth:
            res["gradient_profile"] = theory.gradient_profile(
                args.activation, args.sw2, args.sb2, args.depth, alpha=args.alpha
            ).tolist()
        print(json.dumps(res), file=out)
        return
    print(
        f"{args.activation}, sigma_w^2 = {args.sw2:g}, sigma_b^2 = {args.sb2:g}  (Var W = sigma_w^2/fan_in)", file=out
    )
    for line in str(d).splitlines()[:-1]:  # the values; the phase judged against --depth when given
        print(line, file=out)
    print(f"  phase: {d.phase(args.depth)}", file=out)
    if args.depth:
        prof = theory.gradient_profile(args.activation, args.sw2, args.sb2, args.depth, alpha=args.alpha)
        print(f"\npredicted |dL/dh_l| / |dL/dh_L| over {args.depth} layers:", file=out)
        for l, v in enumerate(prof):
            print(f"  {l:>4}  {v:.4e}", file=out)


def _train(args, out) -> None:
    from .compare import parse_config
    from .training import digits_task, teacher_task, train

    if args.task == "digits":
        X, T = digits_task()
    else:
        X, T = teacher_task(args.samples, 16, seed=args.seed)
    if args.batch_size > X.shape[0]:
        raise _UsageError(f"pyvanish train: error: --batch-size {args.batch_size} exceeds the {X.shape[0]} samples")
    loss = args.loss or ("cross_entropy" if args.task == "digits" else "mse")
    widths = [X.shape[1]] + [args.width] * args.depth + [T.shape[1]]
    results, nets = {}, {}
    for spec in args.config or DEFAULT_CONFIGS:
        name, kw = parse_config(spec)
        net = Network(widths, **{"init": "xavier", "loss": loss, **kw, "seed": args.seed, "dtype": args.dtype})
        nets[name] = net
        results[name] = train(
            net,
            X,
            T,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            optimizer=args.optimizer,
            record_every=args.record_every,
            seed=args.seed,
        )
    if args.plot:
        _save_plot(args.plot, lambda p: _train_figure(p, results))
    if args.json:
        print(
            json.dumps(
                {
                    n: {
                        "final_loss": _jsonable(h.final_loss),
                        "loss": [_jsonable(v) for v in h.loss],
                        "step": h.step.tolist(),
                        "moved": [_jsonable(v) for v in h.moved],
                        "update_ratio": [[_jsonable(v) for v in row] for row in h.update_ratio],
                        "stopped": h.stopped,
                    }
                    for n, h in results.items()
                },
                indent=1,
            ),
            file=out,
        )
        return
    print(
        f"Training {len(widths) - 1} layers, widths {widths[0]}-{args.width}x{args.depth}-{widths[-1]}, "
        f"{args.task} task ({X.shape[0]} samples), {loss} loss, {args.optimizer} lr {args.lr:g}, "
        f"batch {args.batch_size}, {args.steps} steps",
        file=out,
    )
    print(file=out)
    names = list(results)
    hs = list(results.values())
    rows = [
        ["initial loss"] + [f"{h.loss[0]:.4g}" for h in hs],
        ["final loss"] + [f"{h.final_loss:.4g}" for h in hs],
        ["layer 1 moved %"] + [f"{100 * h.moved[0]:.3g}" for h in hs],
        ["layer L moved %"] + [f"{100 * h.moved[-1]:.3g}" for h in hs],
    ]
    if args.task == "digits":  # a classifier: how many digits it gets right
        labels = T.argmax(axis=1)
        rows.append(
            ["accuracy %"] + [f"{100 * np.mean(nets[n].forward(X).argmax(axis=1) == labels):.1f}" for n in names]
        )
    print(format_table([""] + names, rows, align="l" + "r" * len(names)), file=out)
    for n, h in results.items():
        if h.stopped:
            print(f"{n}: stopped early: {h.stopped}", file=out)
    print(file=out)
    print("update ratio |dW_l| / |W_l| per step, median over each fifth of the run:", file=out)
    for n, h in results.items():
        R = len(h.step)
        cuts = np.array_split(np.arange(R), min(5, R))
        print(f"\n  {n}", file=out)
        headers = ["layer"] + [f"steps {h.step[c[0]]}-{h.step[c[-1]]}" for c in cuts]
        rows = [
            [str(l + 1)] + [f"{np.median(h.update_ratio[c, l]):.2e}" for c in cuts]
            for l in range(h.update_ratio.shape[1])
        ]
        print(textwrap.indent(format_table(headers, rows, align="r" * len(headers)), "  "), file=out)


def _train_figure(plot, results):
    from matplotlib.figure import Figure

    axes = Figure(figsize=(9, 3 + 2.5 * len(results)), layout="constrained").subplots(1 + len(results), 1)
    plot.loss_curves(results, ax=axes[0])
    plot.training_heatmaps(results, axes=axes[1:])  # one colour scale: layers compare across configurations
    return axes


def _jsonable(v):
    v = float(v)
    return v if np.isfinite(v) else str(v)


def _sweep(args, out) -> None:
    from .sweep import sweep

    def ints(text, name):
        try:
            vals = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise _UsageError(
                f"pyvanish sweep: error: --{name}: expected comma-separated integers, got {text!r}"
            ) from None
        if not vals or min(vals) < 1:
            raise _UsageError(f"pyvanish sweep: error: --{name}: expected positive integers, got {text!r}")
        return vals

    def bools(text, name):
        table = {"false": False, "true": True, "0": False, "1": True, "no": False, "yes": True}
        try:
            return [table[v.strip().lower()] for v in text.split(",") if v.strip()]
        except KeyError:
            raise _UsageError(f"pyvanish sweep: error: --{name}: expected true/false values, got {text!r}") from None

    grid = {
        "depth": ints(args.depth, "depth"),
        "width": ints(args.width, "width"),
        "activation": [v.strip() for v in args.activation.split(",") if v.strip()],
        "init": [v.strip() for v in args.init.split(",") if v.strip()],
        "batchnorm": bools(args.batchnorm, "batchnorm"),
        "residual": bools(args.residual, "residual"),
    }
    if args.out and not args.out.endswith((".csv", ".json", ".parquet")):
        raise _UsageError("pyvanish sweep: error: --out must end in .csv, .json or .parquet")
    if args.workers > 0:
        import concurrent.futures
        import multiprocessing

        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=spawn) as ex:
            res = sweep(grid, seeds=range(args.seeds), batch=args.batch, executor=ex)
    else:
        res = sweep(grid, seeds=range(args.seeds), batch=args.batch)
    print(res, file=out)
    if args.out:
        writer = {".csv": res.to_csv, ".json": res.to_json, ".parquet": res.to_parquet}[
            args.out[args.out.rindex(".") :]
        ]
        writer(args.out)
        print(f"wrote {len(res.records)} rows to {args.out}", file=out)


def _compare(args, out) -> None:
    cmp = compare(
        args.config or DEFAULT_CONFIGS,
        depth=args.depth,
        width=args.width,
        input_width=args.input_width,
        output_width=args.output_width,
        batch=args.batch,
        seed=args.seed,
        metric=args.metric,
        dtype=args.dtype,
        loss=args.loss,
    )
    print(json.dumps(cmp.to_dict(), indent=2) if args.json else cmp, file=out)
    if args.plot:
        _save_plot(args.plot, lambda p: p.gradient_flow(cmp))


def _seed(args, out) -> None:
    L = args.depth
    rng = np.random.default_rng(args.seed)
    w = args.weights if args.weights is not None else list(rng.standard_normal(L))
    b = args.biases if args.biases is not None else [0.0] * L
    # both networks first: a bad --weights/--biases/--depth fails before anything is printed
    ex_sig = seed_network(weights=w, biases=b, depth=L).explain(args.x, args.t)
    he = (
        np.abs(np.random.default_rng(args.seed).normal(0.0, np.sqrt(2.0), L))
        if args.weights is None
        else np.abs(np.asarray(w))
    )
    ex_relu = seed_network(weights=he, biases=b, depth=L, activation="relu").explain(args.x, args.t)
    names = " -> ".join(["x"] + [f"h{i}" for i in range(1, L)] + ["y"])
    print(f"The tutorial network {names}: one unit per layer, MSE loss.", file=out)
    print(file=out)
    print(f"1. Sigmoid on every layer, w_i {'given' if args.weights else f'~ N(0, 1) (seed {args.seed})'}.", file=out)
    print("   sigma'(z) <= 1/4, so every factor sigma'(z_i) w_i shrinks the gradient unless |w_i| > 4.", file=out)
    print(file=out)
    print(_indent(str(ex_sig)), file=out)
    print(file=out)
    print(
        "2. ReLU hidden layers with He initialisation (w ~ N(0, 2/fan_in), taken positive so every unit is active;",
        file=out,
    )
    print("   a unit with z_i <= 0 would make its factor 0 and stop the chain), sigmoid output.", file=out)
    print("   relu'(z) is 1 or 0, so each hidden factor is w_i itself.", file=out)
    print(file=out)
    print(_indent(str(ex_relu)), file=out)
    print(file=out)
    r1 = _ratio(ex_sig.grad_w)
    r2 = _ratio(ex_relu.grad_w)
    print(f"First layer vs last, |dL/dw1| / |dL/dw{L}|:  sigmoid {r1:.2e}   ReLU + He {r2:.2e}", file=out)
    print("Other cures keep the product near 1 too: batch normalisation and residual connections.", file=out)


def _ratio(g) -> float:
    return abs(g[0]) / abs(g[-1]) if g[-1] != 0 else float("nan")


def _indent(text: str) -> str:
    return "\n".join("   " + line if line else line for line in text.splitlines())


def _report(args, out) -> None:
    if args.widths is not None:
        widths = args.widths
        if len(widths) < 2:
            raise _UsageError("pyvanish report: error: --widths needs at least 2 entries")
    else:
        widths = None
    arch = _architecture(args, "Network", widths)
    net = Network(arch, init=args.init, sw=args.sw, sb=args.sb, seed=args.seed)
    x, t = arch.default_batch(args.batch, args.seed)
    rep = net.gradient_report(x, t)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2), file=out)
    else:
        print(repr(net), file=out)
        print(rep, file=out)
    if args.plot:
        _save_plot(args.plot, lambda p: p.gradient_flow(rep))


def main(argv: Sequence[str] | None = None, out=None) -> int:
    """Run the command line; returns the exit status."""
    out = out or sys.stdout
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:  # bare `pyvanish` is `pyvanish seed`
            args = parser.parse_args(["seed"])
        for option in ("plot", "out"):  # fail before computing, not after the table printed
            if getattr(args, option, None):
                _check_writable(getattr(args, option), f"--{option}")
        args.func(args, out)
        return 0
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except _UsageError as exc:
        print(_one_line(str(exc)), file=sys.stderr)
        return 2
    except (ValueError, TypeError, IndexError) as exc:
        print(f"pyvanish: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(f"pyvanish: error: out of memory: {_one_line(str(exc)) or 'the sizes are too large'}", file=sys.stderr)
        return 2
    except OverflowError as exc:
        print(f"pyvanish: error: a number is too large: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except ImportError as exc:  # an optional dependency (matplotlib, scikit-learn, pandas, pyarrow)
        print(f"pyvanish: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head (before OSError, its base class)
        return 0
    except OSError as exc:  # writing --out / --plot
        print(f"pyvanish: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2


def _one_line(text: str) -> str:
    return " ".join(text.split())
