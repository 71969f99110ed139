"""`digitlab` command line: a thin layer over the Python API. Heavy modules (torch, matplotlib)
are imported inside the command that needs them, so `predict --model x.onnx` starts fast."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from digitlab import __version__
from digitlab.errors import DigitlabError

if TYPE_CHECKING:
    import numpy as np


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitlab", description="Handwritten-digit recognition: "
                                     "train, evaluate, predict scans, read numbers, export, serve.")
    parser.add_argument("--version", action="version", version=f"digitlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model and write a run directory with its report")
    train.add_argument("--recipe", default=None, help="preset settings: default, lab (the lab's exact CNN and "
                       "settings), reader (the shipped digit model), lines (the shipped line reader), second-reader "
                       "(the shipped line reader that checks it; pass --init), orientation (the shipped orientation "
                       "model: which way up a line is)")
    add_config_flags(train)
    train.add_argument("--out", type=Path, default=None, help="run directory (default runs/DATA-ARCH-TIME)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out after a stop")
    train.add_argument("--no-report", action="store_true", help="skip the plots and HTML report")

    evaluate = commands.add_parser("evaluate", help="metrics and report of a model (a run or an .onnx file) on "
                                   "any data set")
    evaluate.add_argument("model", help="run directory, model.safetensors or .onnx file")
    evaluate.add_argument("--data", default=None, help="data set (default: the one it was trained on)")
    evaluate.add_argument("--data-dir", default=None)

    for name, text in (("predict", "classify one digit per image"),
                       ("read", "read the numbers on a picture: one line, or every line of a page")):
        command = commands.add_parser(name, help=text)
        command.add_argument("images", nargs="+", help="image files, directories or globs")
        kind = "digit model" if name == "predict" else "line reader"
        command.add_argument("--model", default=None, help=f"run directory or .onnx file (default: the {kind} "
                             "shipped with digitlab)")
        command.add_argument("--json", action="store_true", help="one JSON object per line")
        if name == "read":
            command.add_argument("--digit-model", default=None,
                                 help="digit model also asked about each digit that stands alone in a line: run "
                                      "directory or .onnx file (default: the shipped one; 'none': the line reader "
                                      "alone)")
            command.add_argument("--orientation-model", default=None,
                                 help="model that tells a line upside down from one the right way up: run "
                                      "directory or .onnx file (default: the shipped one; 'none': the line reader's "
                                      "confidence alone decides)")
            command.add_argument("--second-reader", default=None,
                                 help="line reader that reads again the lines the first is least sure of; where "
                                      "the two disagree the line is 'not sure': run directory or .onnx file "
                                      "(default: the shipped one with the shipped reader, none with --model; "
                                      "'none': without)")
        if name == "predict":
            command.add_argument("--deskew", action="store_true",
                                 help="read only the digit straightened by its moments "
                                      "(default: average of it as written and straightened)")
            command.add_argument("--top-k", type=int, default=2, help="how many candidates to show")
            command.add_argument("--save-preprocessed", type=Path, default=None,
                                 help="write the 28x28 image the model saw, enlarged, into this folder")

    export = commands.add_parser("export", help="export a trained model to ONNX")
    export.add_argument("--model", default=None, help="run directory or .safetensors file (default: the shipped "
                        "digit model)")
    export.add_argument("--onnx", type=Path, required=True, help="output .onnx file")

    serve = commands.add_parser("serve", help="web page and HTTP API")
    serve.add_argument("--model", default=None, help="digit model: run directory or .onnx file (default: the "
                       "shipped one)")
    serve.add_argument("--reader", default=None, help="line reader for /api/read: run directory or .onnx file "
                       "(default: the shipped one)")
    serve.add_argument("--second-opinion", action=argparse.BooleanOptionalAction, default=True,
                       help="/api/read asks --model about the digits the line reader doubts (when --model reads "
                            "digits); --no-second-opinion: the line reader alone")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-upload-mb", type=float, default=10.0)
    serve.add_argument("--workers", type=int, default=None,
                       help="server processes sharing the port, each with its own model (default: one per core)")

    fonts = commands.add_parser("fonts", help="the handwriting faces the shipped models learn from")
    fonts_commands = fonts.add_subparsers(dest="fonts_command", required=True, metavar="fetch|list")
    fonts_commands.add_parser("fetch", help="fetch the faces from the npm registry (`npm pack`) into the cache")
    fonts_commands.add_parser("list", help="the faces and whether each is in the cache")

    data = commands.add_parser("data", help="list data sets or show one")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="list|info")
    data_list = data_commands.add_parser("list", help="data sets and whether each is available here")
    data_list.add_argument("--data-dir", default=None)
    info = data_commands.add_parser("info", help="sizes and class counts of a data set")
    info.add_argument("name")
    info.add_argument("--data-dir", default=None)
    return parser


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainConfig` field, its help from the field: a new setting needs no CLI code.
    Defaults are None so that only what the user typed overrides the recipe."""
    import dataclasses

    from digitlab.config import TrainConfig

    for config_field in dataclasses.fields(TrainConfig):
        if not config_field.metadata.get("flag", True):  # recorded by the run, never set by hand
            continue
        flag = "--" + config_field.name.replace("_", "-")
        kind = type(config_field.default) if config_field.default is not None else str
        # No argparse `choices`: TrainConfig.validate says what is wrong in one line, for the API too.
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=config_field.metadata["help"])
        else:
            parser.add_argument(flag, type=kind, default=None, help=config_field.metadata["help"])


def config_overrides(args: argparse.Namespace) -> dict:
    import dataclasses

    from digitlab.config import TrainConfig

    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
            if getattr(args, f.name, None) is not None}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "read": cmd_read,
                "export": cmd_export, "serve": cmd_serve, "fonts": cmd_fonts, "data": cmd_data}
    try:
        return handlers[args.command](args)
    except DigitlabError as exc:
        print(f"digitlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("digitlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `digitlab predict DIR | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 141


# ---------------------------------------------------------------- train / evaluate


def cmd_train(args: argparse.Namespace) -> int:
    import time

    from digitlab.config import TrainConfig
    from digitlab.distributed import is_main
    from digitlab.training import fit

    if args.resume:
        from digitlab.runs import refuse_changed_settings

        if args.out is None:
            raise DigitlabError("--resume needs --out RUN_DIR, the run to continue.")
        if args.recipe is not None:
            raise DigitlabError("--resume continues a run with its saved settings: leave out --recipe.")
        refuse_changed_settings(args.out, config_overrides(args))
        result = fit(TrainConfig(), args.out, resume=True, report=not args.no_report)
    else:
        config = TrainConfig.from_recipe(args.recipe or "default", **config_overrides(args))
        out = args.out or Path("runs") / f"{config.data.replace(':', '-').replace('/', '_').replace('+', '_')}-" \
                                         f"{config.arch}-{time.strftime('%Y%m%d-%H%M%S')}"
        result = fit(config, out, report=not args.no_report)
    if not is_main():  # under torchrun, rank 0 alone reports
        return 0
    print(f"model:   {result.run_dir / 'model.safetensors'}")
    print(f"metrics: {result.run_dir / 'metrics.json'}")
    if not args.no_report:
        print(f"report:  {result.run_dir / 'report' / 'report.html'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from digitlab.config import TrainConfig
    from digitlab.datasets import load_dataset
    from digitlab.evaluation import evaluate
    from digitlab.predict import Predictor
    from digitlab.report import write_report
    from digitlab.runs import read_history, read_metrics, write_metrics

    source = Path(args.model)
    predictor = Predictor.load(source)
    run_dir = source if source.is_dir() else None
    trained_on = TrainConfig.from_run(run_dir) if run_dir else None
    data = args.data or (trained_on.data if trained_on else predictor.info.get("dataset") or "mnist-5k")
    same_data = trained_on is not None and data == trained_on.data
    dataset = load_dataset(data, args.data_dir or (trained_on.data_dir if same_data else None))
    if predictor.classes[:len(dataset.classes)] != list(dataset.classes):
        raise DigitlabError(f"{source} predicts {len(predictor.classes)} classes ({', '.join(predictor.classes[:3])}, "
                            f"...) that do not match {data}'s ({', '.join(dataset.classes[:3])}, ...).")
    evaluation = evaluate(predictor, dataset.test)
    metrics = evaluation.metrics() | {"dataset": dataset.name, "arch": predictor.info.get("arch")}
    slug = data.replace(":", "-").replace("/", "_").replace("+", "_")
    if same_data:
        out = run_dir
        metrics = read_metrics(run_dir) | metrics
    else:
        out = run_dir / "evaluations" / slug if run_dir else Path("evaluations") / f"{source.stem}-{slug}"
    write_metrics(out, metrics)
    history = read_history(run_dir) if same_data else []
    page = write_report(out / "report", history, evaluation, dataset.test.images, title=f"{source} on {data}")
    print(evaluation.classification_report())
    print(f"{data}: test_accuracy {metrics['test_accuracy']:.4f}  test_loss {metrics['test_loss']:.4f}  "
          f"({metrics['n_test']} images)")
    print(f"metrics: {out / 'metrics.json'}\nreport:  {page}")
    return 0


# ---------------------------------------------------------------- predict / read


def expand_inputs(patterns: list[str]) -> tuple[list[Path], list[str]]:
    """Files, directories (their images, sorted) and globs -> (image paths, problems)."""
    from digitlab.images import image_files

    paths, problems = [], []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            problems.append(f"{pattern}: no file matches")
        for match in map(Path, matches):
            if match.is_dir():
                images = image_files(match)
                if not images:
                    problems.append(f"{match}: directory has no images")
                paths += images
            else:
                paths.append(match)
    return paths, problems


def report_problems(problems: list[str]) -> int:
    for problem in problems:
        emit(f"digitlab: error: {problem}", sys.stderr)
    return 1 if problems else 0


def emit(line: str, stream=None) -> None:
    """Print one answer (or error) now, clearing and redrawing a progress bar on the terminal."""
    from tqdm import tqdm

    stream = stream or sys.stdout
    tqdm.write(line, file=stream)
    stream.flush()


def with_progress(items, total: int):
    """`items` with a progress bar on stderr when stderr is a terminal (never in logs or pipes)."""
    from tqdm import tqdm

    return tqdm(items, total=total, unit="image", file=sys.stderr, disable=not sys.stderr.isatty(),
                dynamic_ncols=True, leave=False)


def cmd_predict(args: argparse.Namespace) -> int:
    from digitlab.predict import Predictor
    from digitlab.preprocessing import POOL_THRESHOLD

    if args.top_k < 1:
        raise DigitlabError(f"--top-k must be at least 1, got {args.top_k}.")
    if args.save_preprocessed:  # before any work, so that a bad folder does not stop the batch half-way
        from digitlab.atomic import make_folder

        make_folder(args.save_preprocessed)
    paths, problems = expand_inputs(args.images)
    if not paths:  # nothing to do: one line saying why
        raise DigitlabError("; ".join(problems) if problems else "no images to predict.")
    if len(paths) >= POOL_THRESHOLD:
        # Worker processes will keep every core busy preprocessing; PyTorch threads for the model
        # beside them would only spin (set before torch is imported: 2.5x slower otherwise).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    predictor = Predictor.load(args.model)
    status = report_problems(problems)
    # Answers stream out in input order as they are ready; memory does not grow with the number of files.
    results = predictor.predict_iter(paths, [str(p) for p in paths], deskew=args.deskew)
    saved_names: set[str] = set()
    for path, result in with_progress(zip(paths, results), len(paths)):
        if isinstance(result, DigitlabError):
            status = report_problems([str(result).rstrip(".")])
            continue
        order = sorted(range(len(result.probabilities)), key=lambda k: -result.probabilities[k])[:args.top_k]
        if args.save_preprocessed:
            save_preprocessed(result.image, args.save_preprocessed / unique_name(path.stem, saved_names))
        if args.json:
            record = result.to_json() | {"top_k": [{"digit": k, "confidence": round(result.probabilities[k], 6)}
                                                   for k in order]}
            emit(json.dumps(record))
            continue
        flag = "  (not sure)" if result.uncertain else ""
        if result.others_beside:
            flag = "  (not sure: there is more writing beside it; `digitlab read` reads numbers)"
        if result.not_a_digit is not None and result.label != predictor.classes[result.digit]:
            # The model finds the picture no digit: say so, then the digit it would be at best.
            emit(f"{path}: not a digit ({result.not_a_digit:.1%}), then {predictor.classes[result.digit]} "
                 f"({result.confidence:.1%})" + flag)
        else:
            others = ", ".join(f"{predictor.classes[k]} ({result.probabilities[k]:.1%})" for k in order[1:])
            emit(f"{path}: {result.label} ({result.confidence:.1%})" + (f", then {others}" if others else "") + flag)
    return status


def unique_name(stem: str, taken: set[str]) -> str:
    """`stem`.png, or `stem`-2.png and on when inputs from different folders share a name."""
    name, k = f"{stem}.png", 1
    while name in taken:
        k += 1
        name = f"{stem}-{k}.png"
    taken.add(name)
    return name


def save_preprocessed(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    from digitlab.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(image).resize((280, 280), Image.Resampling.NEAREST).save(tmp, format="PNG")


def cmd_read(args: argparse.Namespace) -> int:
    from digitlab.predict import Reader

    paths, problems = expand_inputs(args.images)
    if not paths:  # nothing to do: one line saying why
        raise DigitlabError("; ".join(problems) if problems else "no images to read.")
    alone = args.digit_model == "none"
    reader = Reader.load(args.model, None if alone else args.digit_model, second_opinion=not alone,
                         orientation=args.orientation_model, second_reader=args.second_reader)
    status = report_problems(problems)
    for path in with_progress(paths, len(paths)):
        try:
            reading = reader.read(path, str(path))
        except DigitlabError as exc:
            status = report_problems([str(exc).rstrip(".")])
            continue
        if args.json:
            emit(json.dumps(reading.to_json()))
            continue
        low = min((d["confidence"] for d in reading.digits), default=0.0)
        flag = "  (not sure)" if reading.uncertain else ""
        lines = f"{len(reading.lines)} lines, " if len(reading.lines) > 1 else ""
        count = len(reading.digits)
        emit(f"{path}: {reading.text.replace(chr(10), ' | ')}  ({lines}{count} digit{'s' * (count != 1)}, "
             f"{'lowest ' * (count != 1)}confidence {low:.1%}){flag}")
    return status


# ---------------------------------------------------------------- export / serve / data


def cmd_export(args: argparse.Namespace) -> int:
    from digitlab.export import export_onnx
    from digitlab.networks import shipped_model

    source = Path(args.model) if args.model else shipped_model()
    export_onnx(source, args.onnx)
    print(f"wrote {args.onnx} (from {source})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from digitlab.server import serve

    serve(args.model, args.reader, host=args.host, port=args.port,
          max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), workers=args.workers,
          second_opinion=args.second_opinion)
    return 0


def cmd_fonts(args: argparse.Namespace) -> int:
    from digitlab.fonts import TRAINING_FACES, cached_files, fetch_faces, font_cache_dir

    if args.fonts_command == "fetch":
        files = fetch_faces()
        print(f"{len(files)} faces ({sum(map(len, files.values()))} font files) in {font_cache_dir()}")
        return 0
    for face, version in TRAINING_FACES.items():
        cached = cached_files(face)
        print(f"{face:<26} {version:<7} {f'{len(cached)} files' if cached else 'not fetched'}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from digitlab.datasets import list_datasets, load_dataset

    if args.data_command == "list":
        print(f"{'name':<14} {'available':<10} description / where")
        for info in list_datasets(args.data_dir):
            print(f"{info.name:<14} {'yes' if info.available else 'no':<10} {info.description}  [{info.where}]")
        return 0
    dataset = load_dataset(args.name, args.data_dir, download=False)
    print(f"{dataset.name}: {len(dataset.train)} train / {len(dataset.test)} test images, 28x28 uint8")
    print(f"source: {dataset.source}")
    print(f"{'class':<14} {'train':>7} {'test':>7}")
    n = len(dataset.classes)
    for name, n_train, n_test in zip(dataset.classes, dataset.train.class_counts(n), dataset.test.class_counts(n)):
        print(f"{name:<14} {n_train:>7} {n_test:>7}")
    return 0
