"""``fastgmm`` / ``python -m fastgmm``: fit, select, use and demo mixtures
from the command line.

Subcommands (each has ``--help``)::

    fastgmm fit     [DATA] [-k K] [--covariance-type T] [-o MODEL]
    fastgmm select  [DATA] [-k 1-20] [--covariance-type full,diag] [--criterion bic] [-o MODEL]
    fastgmm predict MODEL DATA [--proba] [-o OUT]
    fastgmm score   MODEL DATA [--outliers Q] [-o OUT]
    fastgmm sample  MODEL N [--random-state S] [-o OUT]
    fastgmm demo    [--output DIR] [--quick]

Compatibility with the first command line: with no arguments, fastgmm fits a
3-component mixture to the iris data bundled with scikit-learn and prints it;
arguments that do not start with a subcommand are those of ``fit``
(``python -m fastgmm data.csv -k 3`` is ``fastgmm fit data.csv -k 3``).

DATA is a CSV file (comma-separated, ``.tsv``: tab-separated; the first row
is a header when any of its cells is not a number) or a ``.npy`` array
(loaded without pickle). ``fit`` and ``select`` without DATA use iris.
Models are saved as ``.npz`` files of plain arrays (no pickle, see
``fastgmm._io``). Tables written by predict/score/sample go to OUT (``.npy``
binary, anything else CSV with a header) or to stdout as CSV; the messages
about them go to stderr. Errors print one line ``fastgmm: error: ...`` and
exit with status 1 (2 for command-line usage errors).
"""

import argparse
import itertools
import os
import re
import sys
import time
import warnings

import numpy as np

PROG = "fastgmm"
COMMANDS = ("fit", "select", "predict", "score", "sample", "demo")
COV_TYPES = ("full", "tied", "diag", "spherical")
IRIS = "iris (bundled with scikit-learn, 150 x 4)"
#: significant digits of floats in CSV output (.npy output is exact)
CSV_DIGITS = 12


class CLIError(Exception):
    """A user error: printed as one line, exit status 1."""


# --------------------------------------------------------------------------
# data in and out
# --------------------------------------------------------------------------
def _is_number(cell, strict=False):
    """A cell Python reads as a float; ``strict``: one ``np.loadtxt`` reads
    (not ``1_000``, which ``float`` takes)."""
    if strict and "_" in cell:
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def load_data(path):
    """(X, description) from a CSV or .npy file, or iris when path is None."""
    if path is None:
        from sklearn.datasets import load_iris

        return load_iris().data, IRIS
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, not a data file")
    if path.lower().endswith(".npy"):
        with open(path, "rb") as f:
            head = f.read(6)
            if head != b"\x93NUMPY"[: len(head)]:  # (empty or cut short: said below)
                raise CLIError(f"{path}: not a .npy file (no NumPy header); data in "
                               "text must be a .csv (commas) or .tsv (tabs) file")
        try:
            X = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:  # EOFError: empty or cut short
            # (not NumPy's advice to load object arrays with pickle)
            why = "an array of Python objects" if "pickle" in str(exc) else exc
            raise CLIError(f"{path}: not a numeric .npy array ({why})") from None
        if not isinstance(X, np.ndarray):
            raise CLIError(f"{path}: not a .npy array")
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise CLIError(f"{path}: expected a 2-D array (rows x features), got shape {X.shape}")
        if X.dtype.kind not in "biuf":
            raise CLIError(f"{path}: expected numbers, got dtype {X.dtype}")
        return X, f"{path} ({X.shape[0]} x {X.shape[1]})"
    return _load_csv(path)


def _load_csv(path):
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            # the first line of data or header, and its number
            lines, first = next(_content_lines(f), (0, ""))
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not UTF-8 text (a CSV file in another encoding, or binary "
                       "data: save arrays as .npy)") from None
    if not first:
        raise CLIError(f"{path}: empty file")
    cells = [c.strip().strip('"') for c in first.rstrip("\r\n").split(delimiter)]
    header = not all(_is_number(c) for c in cells)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": said below
            X = np.loadtxt(
                path,
                delimiter=delimiter,
                quotechar='"',
                skiprows=lines if header else 0,  # loadtxt skips blank and # lines
                ndmin=2,
                dtype=np.float64,
                encoding="utf-8-sig",
            )
    except ValueError as exc:
        msg = _csv_problem(path, delimiter, header)
        if msg is None:
            msg = re.sub(r"; use `usecols`.*", "", str(exc).splitlines()[0])
        raise CLIError(f"{path}: {msg}") from None
    if X.size == 0:
        raise CLIError(f"{path}: no data rows")
    if not np.isfinite(X).all():
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise CLIError(f"{path}: line {_line_of_row(path, i, header)}, column {j + 1}: "
                       f"{X[i, j]} (NaN and infinity are not allowed)")
    what = f"{X.shape[0]} x {X.shape[1]}" + (", header skipped" if header else "")
    return X, f"{path} ({what})"


def _line_of_row(path, row, header):
    """The file line number of data row ``row`` (0-based) of a CSV file."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        for k, (line_no, _) in enumerate(_content_lines(f)):
            if k == row + header:
                return line_no
    return "?"  # pragma: no cover (the file changed meanwhile)


def _skipped_line(line):
    """A blank line or a ``#`` comment, as ``np.loadtxt`` skips them."""
    text = line.strip()
    return not text or text.startswith("#")


def _content_lines(f):
    """(line number, line) of the lines of ``f`` that are not skipped."""
    for line_no, line in enumerate(f, start=1):
        if not _skipped_line(line):
            yield line_no, line


def _csv_problem(path, delimiter, header):
    """The first bad line of a CSV file that NumPy refused, in words (slow
    path, only after an error), or None."""
    import csv

    n_cols = None
    with open(path, newline="", encoding="utf-8-sig") as f:
        seen_first = False
        for line_no, row in enumerate(csv.reader(f, delimiter=delimiter), start=1):
            if _skipped_line(delimiter.join(row)):
                continue
            if not seen_first:
                seen_first = True
                if header:
                    n_cols = len(row)
                    continue
            if n_cols is None:
                n_cols = len(row)
            if len(row) != n_cols:
                what = "the header" if header else "the first row"
                return (f"line {line_no} has {len(row)} columns, {what} has {n_cols} "
                        "(ragged rows)")
            for col_no, cell in enumerate(row, start=1):
                if not _is_number(cell.strip(), strict=True):
                    shown = cell.strip()
                    other = next((c for c in ";\t|" if c in shown and c != delimiter), None)
                    return (f"line {line_no}, column {col_no}: "
                            + (f"{shown!r} is not a number" if shown else "empty value")
                            + (" (the first line was read as a header)" if header else "")
                            + (f"; the file seems separated by {other!r}, fastgmm reads "
                               + ("tabs (.tsv)" if delimiter == "\t" else "commas (.tsv: tabs)")
                               if other else ""))
    return None


def _csv_header(columns):
    """Column names as a CSV line (a name holding a comma or a quote is quoted)."""
    import csv
    import io

    line = io.StringIO()
    csv.writer(line).writerow(columns)  # quotes a name holding a line break too
    return line.getvalue().rstrip("\r\n")


def _write_table(array, columns, out, what):
    """Write an (n,) or (n, m) array to OUT (.npy or CSV) or stdout (CSV)."""
    array = np.asarray(array)
    if out is not None and out.lower().endswith(".npy"):
        with open(out, "wb") as f:  # np.save(name) would append .npy to '.NPY'
            np.save(f, array)
        print(f"{what}: wrote {out} ({array.shape[0]} rows, .npy)", file=sys.stderr)
        return
    if array.dtype.kind == "f":
        fmt = f"%.{CSV_DIGITS}g"
    else:
        fmt = "%d"
    table = array if array.ndim == 2 else array[:, None]
    if out is None:
        np.savetxt(sys.stdout, table, fmt=fmt, delimiter=",", header=_csv_header(columns),
                   comments="")
        sys.stdout.flush()
        return
    with open(out, "w", newline="") as f:
        np.savetxt(f, table, fmt=fmt, delimiter=",", header=_csv_header(columns), comments="")
    print(f"{what}: wrote {out} ({array.shape[0]} rows, CSV)", file=sys.stderr)


def _load_model(path):
    from ._io import load_model

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such model file")
    return load_model(path)


def _save_model(model, path):
    from ._io import save_model

    written = save_model(model, path)
    print(f"saved model: {written}")


# --------------------------------------------------------------------------
# argument types
# --------------------------------------------------------------------------
_RANGE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")


def parse_ks(text):
    """'1-20' -> 1..20, '50-200:10' -> 50, 60, ..., 200, '1,2,5' (and mixes).

    Returns a tuple of ranges, listed only as select_model checks them
    against n_samples: '1-1000000000' is refused at once, not after a
    billion-element list.
    """
    ks = []
    for part in text.replace(" ", "").split(","):
        m = _RANGE.match(part)
        if not m:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected K, A-B, A-B:STEP or a comma-separated "
                "list of them (e.g. 3, 1-20, 50-200:10, 1,2,5)"
            )
        a = int(m.group(1))
        if m.group(2) is None:
            ks.append(range(a, a + 1))
            continue
        b, step = int(m.group(2)), int(m.group(3) or 1)
        if b < a or step < 1:
            raise argparse.ArgumentTypeError(
                f"invalid range {part!r}: needs A <= B and STEP >= 1"
            )
        ks.append(range(a, b + 1, step))
    return tuple(ks)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _cov_types(text):
    cts = [c.strip() for c in text.split(",") if c.strip()]
    if text.strip() == "all":
        return list(COV_TYPES)
    bad = [c for c in cts if c not in COV_TYPES]
    if bad or not cts:
        raise argparse.ArgumentTypeError(
            f"invalid covariance type(s) {text!r}: expected a comma-separated list of "
            f"{', '.join(COV_TYPES)} (or 'all')"
        )
    return cts


def _quantile(text):
    try:
        q = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid quantile: {text!r}") from None
    if not 0 < q < 1:
        raise argparse.ArgumentTypeError(
            f"the quantile must be between 0 and 1 (or 0% and 100%), got {text}"
        )
    return q


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------
def _add_fit_options(p, select=False):
    p.add_argument("--n-init", type=_positive_int, default=1, metavar="N",
                   help="initialisations per fit; the best is kept (default 1)")
    p.add_argument("--random-state", type=int, default=0, metavar="SEED",
                   help="integer seed of the initialisation (default 0)")
    p.add_argument("--max-iter", type=int, default=100, metavar="N",
                   help="EM iterations at most (default 100)")
    p.add_argument("--tol", type=float, default=1e-3, metavar="TOL",
                   help="convergence threshold on the lower bound (default 1e-3)")
    p.add_argument("--reg-covar", type=float, default=1e-6, metavar="REG",
                   help="added to the covariances' diagonal (default 1e-6)")
    p.add_argument("-o", "--output", metavar="MODEL",
                   help=("save the " + ("best " if select else "") +
                         "model to MODEL (.npz of plain arrays, no pickle)"))


def build_parser():
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        formatter_class=fmt,
        description=(
            "Gaussian mixtures with fastgmm: fit, select the number of components, "
            "predict, score, sample, demo."
        ),
        epilog=(
            "With no arguments, fits a 3-component mixture to iris and prints it.\n"
            "Arguments without a subcommand are fit's: 'fastgmm data.csv -k 3'.\n"
            "DATA: CSV (header row detected) or .npy. Run 'fastgmm COMMAND --help'."
        ),
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fastgmm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("fit", help="fit one mixture and print it", formatter_class=fmt,
                       description="Fit one Gaussian mixture and print weights, means, "
                       "BIC, AIC, convergence and time.",
                       epilog="Without DATA, fits the iris data bundled with scikit-learn.")
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="CSV or .npy file (default: iris)")
    p.add_argument("-k", "--n-components", type=_positive_int, default=3, metavar="K",
                   help="number of components (default 3)")
    p.add_argument("--covariance-type", default="full", choices=COV_TYPES,
                   help="covariance type (default full)")
    _add_fit_options(p)

    p = sub.add_parser("select", help="fit a grid of K x covariance types, keep the best",
                       formatter_class=fmt,
                       description="Fit every number of components x covariance type "
                       "(fastgmm.select_model), print the table and the best model.",
                       epilog="-k accepts 3, 1-20, 50-200:10 (step 10, 200 included), "
                       "1,2,5 and mixes.\nWithout DATA, uses iris.")
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="CSV or .npy file (default: iris)")
    p.add_argument("-k", "--n-components", type=parse_ks, default=(range(1, 11),),
                   metavar="KS", help="numbers of components (default 1-10)")
    p.add_argument("--covariance-type", type=_cov_types, default=list(COV_TYPES),
                   metavar="TYPES",
                   help="comma-separated covariance types, or 'all' (default all)")
    p.add_argument("--criterion", default="bic", choices=("bic", "aic"),
                   help="what the best model minimises (default bic)")
    progress = p.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="show progress on stderr (default: when it is a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false",
                          help="never show progress")
    _add_fit_options(p, select=True)

    p = sub.add_parser("predict", help="component labels or probabilities",
                       description="Predict the component of each row of DATA "
                       "(or, with --proba, the probability of each component).")
    p.add_argument("model", metavar="MODEL", help="model file from fit/select -o")
    p.add_argument("data", metavar="DATA", help="CSV or .npy file")
    p.add_argument("--proba", action="store_true", help="write probabilities, not labels")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write to OUT (.npy, else CSV); default: CSV on stdout")

    p = sub.add_parser("score", help="per-row log-likelihood, outliers",
                       description="Log-likelihood of each row of DATA under the model. "
                       "With --outliers Q, rows in the lowest quantile Q of the "
                       "log-likelihood are flagged (the threshold is the Q-quantile, "
                       "rows strictly below it are outliers).")
    p.add_argument("model", metavar="MODEL", help="model file from fit/select -o")
    p.add_argument("data", metavar="DATA", help="CSV or .npy file")
    p.add_argument("--outliers", type=_quantile, metavar="Q",
                   help="flag the rows below the Q-quantile, e.g. 0.04 or 4%%")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write to OUT (.npy, else CSV); default: CSV on stdout")

    p = sub.add_parser("sample", help="draw new rows from a model",
                       description="Draw N rows from the model (rows grouped by "
                       "component, as GaussianMixture.sample).")
    p.add_argument("model", metavar="MODEL", help="model file from fit/select -o")
    p.add_argument("n_samples", metavar="N", type=_positive_int, help="number of rows")
    p.add_argument("--random-state", type=int, default=None, metavar="SEED",
                   help="seed (default: the model's random_state)")
    p.add_argument("--labels", action="store_true",
                   help="add the component of each row as a last column")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write to OUT (.npy, else CSV); default: CSV on stdout")

    p = sub.add_parser("demo", help="the Python Data Science Handbook walkthrough",
                       description="Run the 'In Depth: Gaussian Mixture Models' walkthrough "
                       "(blobs, moons, digits) with fastgmm; with --output, write its "
                       "figures there (needs matplotlib).")
    p.add_argument("--output", metavar="DIR", help="folder for the figures (PNG)")
    p.add_argument("--quick", action="store_true", help="smaller grids, a few seconds")
    return parser


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
def _model_line(gm):
    return (f"model: GaussianMixture(n_components={gm.n_components}, "
            f"covariance_type={gm.covariance_type!r})")


def _print_model(gm, X, seconds, timing="including compilation on first use"):
    print(_model_line(gm))
    print(f"converged: {gm.converged_} after {gm.n_iter_} iterations "
          f"({seconds:.3f} s {timing})")
    print(f"weights: {gm.weights_}")
    print("means:")
    print(gm.means_)
    print(f"mean log-likelihood: {gm.score(X):.6f}")
    print(f"BIC: {gm.bic(X):.4f}")
    print(f"AIC: {gm.aic(X):.4f}")


def _fit_params(args):
    """The GaussianMixture parameters that `fit` and `select` share."""
    return dict(n_init=args.n_init, random_state=args.random_state, max_iter=args.max_iter,
                tol=args.tol, reg_covar=args.reg_covar)


def cmd_fit(args):
    from . import GaussianMixture

    X, name = load_data(args.data)
    gm = GaussianMixture(
        args.n_components, covariance_type=args.covariance_type, **_fit_params(args)
    )
    t0 = time.perf_counter()
    gm.fit(X)
    seconds = time.perf_counter() - t0
    print(f"data: {name}")
    _print_model(gm, X, seconds)
    if args.output:
        _save_model(gm, args.output)
    return 0


def cmd_select(args):
    from . import select_model

    X, name = load_data(args.data)
    print(f"data: {name}", flush=True)
    t0 = time.perf_counter()
    result = select_model(
        X,
        itertools.chain.from_iterable(args.n_components),
        args.covariance_type,
        criterion=args.criterion,
        progress=args.progress,
        **_fit_params(args),
    )
    seconds = time.perf_counter() - t0
    print(f"{len(result)} fits in {seconds:.3f} s; lowest {args.criterion.upper()} "
          "marked *")
    print(result.to_string())
    best = result.best_estimator_
    print(f"best: n_components={best.n_components}, covariance_type="
          f"{best.covariance_type!r}, {args.criterion.upper()} {result.best_score_:.4f}")
    _print_model(best, X, float(result.table_["seconds"][result.best_index_]),
                 timing="to fit")
    if args.output:
        _save_model(best, args.output)
    return 0


def cmd_predict(args):
    gm = _load_model(args.model)
    X, _ = load_data(args.data)
    if args.proba:
        P = gm.predict_proba(X)
        _write_table(P, [f"p{k}" for k in range(P.shape[1])], args.output, "probabilities")
    else:
        _write_table(gm.predict(X), ["label"], args.output, "labels")
    return 0


def cmd_score(args):
    gm = _load_model(args.model)
    X, _ = load_data(args.data)
    lpn = gm.score_samples(X)
    if args.outliers is None:
        _write_table(lpn, ["log_likelihood"], args.output, "log-likelihoods")
        return 0
    threshold = float(np.quantile(lpn, args.outliers))
    flags = lpn < threshold
    print(
        f"outliers: {int(flags.sum())} of {lpn.shape[0]} rows have a log-likelihood "
        f"below the {args.outliers:g}-quantile threshold {threshold:.6g}",
        file=sys.stderr,
    )
    table = np.column_stack([lpn.astype(np.float64), flags.astype(np.float64)])
    if args.output is not None and args.output.lower().endswith(".npy"):
        _write_table(table, None, args.output, "log-likelihoods and outlier flags")
        return 0
    _write_csv_mixed(lpn, flags, args.output)
    return 0


def _write_csv_mixed(lpn, flags, out):
    lines = ["log_likelihood,outlier"]
    lines += [f"{v:.{CSV_DIGITS}g},{int(f)}" for v, f in zip(lpn.tolist(), flags.tolist())]
    text = "\n".join(lines) + "\n"
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with open(out, "w", newline="") as f:
            f.write(text)
        print(f"log-likelihoods and outlier flags: wrote {out} ({len(lpn)} rows, CSV)",
              file=sys.stderr)


def cmd_sample(args):
    gm = _load_model(args.model)
    if args.random_state is not None:
        gm.random_state = args.random_state
    if args.n_samples > np.iinfo(np.int64).max:
        raise CLIError(f"N={args.n_samples} is too large")
    X, y = gm.sample(args.n_samples)
    names = list(getattr(gm, "feature_names_in_", [f"x{j}" for j in range(X.shape[1])]))
    if args.labels:
        X = np.column_stack([X, y])
        names.append("component")
    _write_table(X, names, args.output, "samples")
    return 0


def cmd_demo(args):
    try:
        from . import _demo
    except ImportError as exc:
        raise CLIError(f"the demo is not available in this installation ({exc})") from None
    _demo.run(output_dir=args.output, quick=args.quick)
    return 0


COMMAND_FUNCS = {
    "fit": cmd_fit,
    "select": cmd_select,
    "predict": cmd_predict,
    "score": cmd_score,
    "sample": cmd_sample,
    "demo": cmd_demo,
}


def _compat_argv(argv):
    """The first command line had no subcommands: it was today's ``fit``."""
    if not argv:
        return ["fit"]
    first = argv[0]
    if first in COMMANDS or first in ("-h", "--help", "--version"):
        return argv
    if not first.startswith("-") and not os.path.exists(first) and not re.search(
        r"[./\\]", first
    ):
        # a word that is no file: a mistyped command rather than fit's DATA
        _Parser(prog=PROG).error(
            f"unknown command {first!r} (choose from {', '.join(COMMANDS)}, "
            "or give fit's DATA file)"
        )
    return ["fit", *argv]


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    print(f"{PROG}: warning: {text}", file=sys.stderr)


def main(argv=None):
    """Entry point of the ``fastgmm`` console script and ``python -m fastgmm``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success, 1 on an error, 2 on a command-line usage error.
    """
    argv = _compat_argv(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    np.set_printoptions(precision=4, suppress=True)
    previous = warnings.showwarning
    warnings.showwarning = _one_line_warnings
    stdout = sys.stdout
    if stdout is not None:  # None: the interpreter started with stdout closed
        sys.stdout = _PipeSafe(stdout)
    try:
        status = COMMAND_FUNCS[args.command](args)
        if sys.stdout is not None:
            sys.stdout.flush()  # here, not at exit: a reader gone is then no error
        return status
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except (ValueError, OSError, MemoryError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        for note in getattr(exc, "__notes__", ()):
            text += " " + " ".join(str(note).split())
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
            text = f"{exc.filename}: {text}"
        print(f"{PROG}: error: {text}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous
        sys.stdout = stdout
    return 1


class _PipeSafe:
    """``sys.stdout`` for a command: once the reader has gone away (``| head``),
    further output is dropped quietly and the command runs to its end, so
    that an output file (``-o``) is still written. Unix tools stop instead;
    fastgmm's output on stdout is a by-product of the files it writes."""

    def __init__(self, stream):
        self._stream = stream

    def _gone(self):
        try:  # the interpreter's own flush at exit then writes nowhere, quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        self._stream = open(os.devnull, "w")

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def __getattr__(self, name):
        return getattr(self._stream, name)


if __name__ == "__main__":
    sys.exit(main())
