"""Training: a tensor batch loader, the per-epoch train/test functions, and a full run.

The loop body reads like PyTorch's MNIST example: zero_grad, forward, loss, backward, step.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, update_bn
from tqdm import tqdm

from digitlab import __version__, distributed, runs
from digitlab.augment import augment_batch, policy_for
from digitlab.checkpoint import start_from
from digitlab.config import TrainConfig
from digitlab.datasets import Dataset, Split, load_dataset
from digitlab.distributed import World
from digitlab.errors import DigitlabError
from digitlab.models import build_model, count_parameters, to_model_input

if TYPE_CHECKING:
    from digitlab.predict import Predictor


def select_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when PyTorch sees a GPU, else the CPU; any torch device name is accepted."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DigitlabError(f"unknown device {name!r}: expected auto, cpu or cuda[:N].") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DigitlabError(f"device {name} asked for, but PyTorch sees no CUDA GPU here; use device cpu.")
    return device


class TensorLoader:
    """Batches of a `Split` held as one tensor on `device`, sliced by index (no per-sample work).

    Yields `(x, y)` with `x` from `to_model_input`, augmented when `augment_policy` is set, drawing
    from `augment_generator` (default: `generator`, which shuffles). In a data-parallel `world`
    each process takes its shard of every order (`distributed.shard`), `batch_size` at a time.
    """

    def __init__(self, split: Split, batch_size: int, device: torch.device, shuffle: bool = False,
                 generator: torch.Generator | None = None, augment_policy: str | None = None,
                 augment_generator: torch.Generator | None = None, world: World | None = None) -> None:
        self.images = split.images.to(device)
        self.labels = split.labels.to(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        if generator is None and (shuffle or augment_policy):
            generator = torch.Generator(device=device)
            generator.seed()  # pass a seeded generator to make the order reproducible
        self.generator = generator
        self.augment_policy = augment_policy
        self.augment_generator = augment_generator or generator
        self.world = world or World()

    def __len__(self) -> int:
        return math.ceil(len(self.labels) // self.world.size / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
            order = order.to(self.images.device)
        else:
            order = torch.arange(n, device=self.images.device)
        order = distributed.shard(order, self.world)
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            x = to_model_input(self.images[index])
            if self.augment_policy:
                # Augmentation returns the default layout; the model runs fastest channels-last.
                x = augment_batch(x, self.augment_generator, self.augment_policy).contiguous(
                    memory_format=torch.channels_last)
            yield x, self.labels[index]


def one_cycle_lr(step: int, total_steps: int, peak_lr: float, warmup: float = 0.2) -> float:
    """Linear warm-up to `peak_lr`, then cosine decay to ~0: a function of the step, so resuming
    needs no scheduler state."""
    warm = max(1, int(total_steps * warmup))
    if step < warm:
        return peak_lr * (0.04 + 0.96 * step / warm)
    progress = (step - warm) / max(1, total_steps - warm)
    return peak_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def count_correct(output: torch.Tensor, target: torch.Tensor) -> int:
    """How many of a batch's answers (the class with the highest logit) are right."""
    return int((output.argmax(1) == target).sum().item())


def train(model: nn.Module, device: torch.device, loader: Iterable, optimizer: torch.optim.Optimizer,
          epoch: int, lr_at_batch: Callable[[int], float] | None = None, criterion: Callable = F.cross_entropy,
          correct_in: Callable = count_correct, show_progress: bool = True, bf16: bool = False) -> tuple[float, float]:
    """One epoch of training; returns (mean loss, accuracy) over the epoch's batches.
    `criterion(output, target)` is the loss (cross-entropy unless given), `correct_in(output,
    target)` counts right answers; `bf16` runs the forward pass under bfloat16 autocast (weights
    and optimizer stay float32)."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    batches = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not show_progress, file=sys.stderr)
    for batch_index, (data, target) in enumerate(batches):
        data, target = data.to(device), target.to(device)
        if lr_at_batch is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at_batch(batch_index)
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            output = model(data)
            loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(target)
        correct += correct_in(output, target)
        seen += len(target)
    return total_loss / seen, correct / seen


@torch.no_grad()
def test(model: nn.Module, device: torch.device, loader: Iterable, criterion: Callable = F.cross_entropy,
         correct_in: Callable = count_correct) -> tuple[float, float]:
    """Mean loss (cross-entropy unless given) and accuracy on `loader`."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        output = model(data)
        total_loss += criterion(output, target).item() * len(target)
        correct += correct_in(output, target)
        seen += len(target)
    return total_loss / seen, correct / seen


def train_model(model: nn.Module, train_loader: Iterable, num_epochs: int,
                optimizer: torch.optim.Optimizer | None = None, device: torch.device | str | None = None,
                ) -> list[float]:
    """The lab's `train_model`: Adam (lr 1e-3) unless given an optimizer; prints and returns the
    training loss of each epoch. `train_loader` is any iterable of `(images, labels)` batches,
    a `TensorLoader` or a `torch.utils.data.DataLoader`."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for epoch in range(1, num_epochs + 1):
        loss, _ = train(model, device, train_loader, optimizer, epoch, show_progress=False)
        print(f"Epoch [{epoch}/{num_epochs}], Loss: {loss:.4f}")
        losses.append(loss)
    return losses


# ---------------------------------------------------------------- a full run


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    history: list[dict]


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        if config.weight_decay:
            return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                               weight_decay=config.weight_decay)
    raise DigitlabError(f"unknown optimizer {config.optimizer!r}: expected adam or sgd.")


def task_test_size(task: Task) -> int:
    """How many test images this process measures on (weights the average across processes)."""
    loader = task.test_loader
    return len(loader.labels) if isinstance(loader, TensorLoader) else sum(len(target) for _, target in loader)


def run_info(config: TrainConfig, task: Task, device: torch.device) -> dict:
    return {"train": config.to_dict(), "dataset": task.data,
            "digitlab_version": __version__, "torch_version": torch.__version__,
            "python": platform.python_version(), "device": str(device),
            "threads": torch.get_num_threads(), "parameters": count_parameters(task.model)}


@dataclass
class Task:
    """What `fit` needs to train one kind of model: the digit classifier (`digit_task`), the
    line reader (`linetask.line_task`) or the orientation model (`orientationtask.orientation_task`).
    The loop, the checkpoints and the run directory are the same for all."""

    model: nn.Module
    classes: tuple[str, ...]
    train_loader: Iterable
    test_loader: Iterable
    criterion: Callable          # training loss(output, target)
    test_criterion: Callable     # loss reported on the test split
    correct_in: Callable         # right answers in a batch
    data: dict                   # what config.json says of the data
    finish: Callable             # (model, history, run_dir, report, log) -> (metrics, model metadata)
    # Whether `finish` reports the last epoch's test loss (the line and orientation tasks) rather
    # than measuring the model it is given: a run with averaged weights then measures the average's.
    loss_of_last_epoch: bool = False


def digit_task(config: TrainConfig, device: torch.device, generator: torch.Generator,
               augment_generator: torch.Generator, world: World, dataset: Dataset | None = None) -> Task:
    """The digit (or clothing) classifier on a data set of 28x28 images: in a data-parallel
    `world`, this process's share of each batch and of the test split (`distributed`)."""
    dataset = dataset or load_dataset(config.data, config.data_dir)
    for split_name, split in (("train", dataset.train), ("test", dataset.test)):
        if len(split) == 0:
            raise DigitlabError(f"data set {dataset.name} has an empty {split_name} split: there is nothing to "
                                f"{'learn from' if split_name == 'train' else 'measure on'}.")
    model = build_model(config.arch, len(dataset.classes)).to(device, memory_format=torch.channels_last)
    augment_policy = policy_for(dataset.name) if config.augment else None
    train_loader = TensorLoader(dataset.train, distributed.local_batch_size(config.batch_size, world), device,
                                shuffle=True, generator=generator, augment_policy=augment_policy,
                                augment_generator=augment_generator, world=world)

    def finish(model: nn.Module, history: list[dict], run_dir: Path, report: bool,
               log: Callable[[str], None]) -> tuple[dict, dict]:
        from digitlab.evaluation import evaluate  # matplotlib etc. only once trained
        from digitlab.predict import Predictor

        predictor = Predictor.from_module(model, list(dataset.classes), {})
        calibration = {}
        if dataset.val is not None:
            calibration = calibrate(predictor, dataset.val, config.flag_rate)
            log("calibrated on the validation split: " + ", ".join(f"{k} {v:.4g}" for k, v in calibration.items()))
        evaluation = evaluate(predictor, dataset.test)
        metrics = evaluation.metrics(n_train=len(dataset.train), train_seconds=sum(row["seconds"] for row in history))
        metrics.update(dataset=dataset.name, arch=config.arch, **calibration)
        if report:
            from digitlab.report import write_report
            write_report(run_dir / "report", history, evaluation, dataset.test.images, title=str(run_dir))
        return metrics, {key: str(value) for key, value in calibration.items()}

    data = {"name": dataset.name, "source": dataset.source, "n_train": len(dataset.train),
            "n_test": len(dataset.test), "classes": list(dataset.classes)}
    criterion = partial(F.cross_entropy, label_smoothing=config.label_smoothing)
    test_loader = TensorLoader(distributed.shard_split(dataset.test, world), 1024, device)
    return Task(model, dataset.classes, train_loader, test_loader, criterion, F.cross_entropy, count_correct, data,
                finish)


def fit(config: TrainConfig, run_dir: Path, resume: bool = False, report: bool = True,
        dataset: Dataset | None = None, log: Callable[[str], None] = print,
        show_progress: bool | None = None) -> RunResult:
    """Train `config` into `run_dir`: config.json, history.csv, model.safetensors, metrics.json
    and report/. Each epoch ends with an atomic checkpoint, so a killed run loses at most one
    epoch and `resume=True` continues it.

    Started by torchrun, each process trains a DistributedDataParallel replica on its shard of the
    data and rank 0 alone writes and prints (see `digitlab.distributed` for the rules)."""
    run_dir = Path(run_dir)
    world = World.from_env()
    if resume:
        config = runs.config_to_resume(run_dir)
        if config.world_size != world.size:
            how = ("plain `digitlab train --resume`" if config.world_size == 1
                   else f"torchrun with {config.world_size} processes in all")
            raise DigitlabError(f"{run_dir} was trained with world_size {config.world_size} and this is world_size "
                                f"{world.size}; resume it with {how}.")
    else:
        runs.refuse_to_overwrite(run_dir)
        config = dataclasses.replace(config, world_size=world.size)
    config.validate()
    if config.task != "digits" and world.size > 1:
        raise DigitlabError(f"task {config.task} trains in one process (its lines are generated as it trains); run "
                            "it without torchrun.")
    threads = config.threads or distributed.default_threads(world)
    if threads:
        torch.set_num_threads(threads)
    device = distributed.rank_device(select_device(config.device), world)
    backend = distributed.init(world, device)
    torch.manual_seed(config.seed)
    if show_progress is None:
        show_progress = sys.stderr.isatty() and world.is_main
    if not world.is_main:
        log = lambda message: None  # noqa: E731 - rank 0 alone speaks

    generator = torch.Generator(device=device).manual_seed(config.seed)  # shuffles, the same on every rank
    augment_generator = torch.Generator(device=device)  # seeded for each rank and epoch below
    if config.task == "lines":
        from digitlab.linetask import line_task
        task = Task(**line_task(config, device))
    elif config.task == "orientation":
        from digitlab.orientationtask import orientation_task
        task = Task(**orientation_task(config, device))
    else:
        task = digit_task(config, device, generator, augment_generator, world, dataset)
    model = task.model
    if config.init is not None and not resume:
        start_from(model, Path(config.init))
    optimizer = make_optimizer(config, model)
    averaged = AveragedModel(model) if config.average_from else None  # see TrainConfig.average_from

    info = run_info(config, task, device)
    start_epoch, history = 0, []
    if resume:
        start_epoch, history = runs.restore_checkpoint(run_dir, model, optimizer, generator, config.arch,
                                                       task.classes, write=world.is_main, averaged=averaged)
        log(f"resuming {run_dir} after epoch {start_epoch}/{config.epochs}")
    elif world.is_main:
        runs.start(run_dir, info)
    log(f"config: {json.dumps(config.to_dict())}")
    log(f"data: {task.data['name']} ({task.data['n_train']} train / {task.data['n_test']} test), arch: "
        f"{config.arch} ({info['parameters']:,} parameters), device: {device}, threads: {info['threads']}")
    if world.size > 1:
        log(f"distributed: {world.size} processes ({backend}), batch {config.batch_size} = {world.size} x "
            f"{config.batch_size // world.size}")

    net = distributed.wrap(model, world, device)  # DistributedDataParallel under torchrun, else the model itself
    steps_per_epoch = len(task.train_loader)
    total_steps = steps_per_epoch * config.epochs
    for epoch in range(start_epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        first_step = (epoch - 1) * steps_per_epoch
        if hasattr(task.train_loader, "set_epoch"):  # generated data: each epoch's own
            task.train_loader.set_epoch(epoch)
        # Augmentation and dropout differ between ranks, and a resumed run re-derives their seeds
        # rather than needing every rank's saved generator state.
        epoch_seed = distributed.rank_seed(config.seed, world.rank, epoch)
        augment_generator.manual_seed(epoch_seed)
        torch.manual_seed(epoch_seed)

        def lr_at_batch(i: int, first_step: int = first_step) -> float:
            if config.schedule == "constant":
                return config.lr
            return one_cycle_lr(first_step + i, total_steps, config.lr)

        loss, accuracy = train(net, device, task.train_loader, optimizer, epoch, lr_at_batch, task.criterion,
                               task.correct_in, show_progress, bf16=config.precision == "bf16")
        distributed.average_buffers(model, world)
        if averaged is not None and epoch >= config.average_from:
            averaged.update_parameters(model)
        val_loss, val_accuracy = test(model, device, task.test_loader, task.test_criterion, task.correct_in)
        loss, accuracy = distributed.average([loss, accuracy], world, device)
        val_loss, val_accuracy = distributed.average([val_loss, val_accuracy], world, device,
                                                     count=task_test_size(task))
        seconds = time.perf_counter() - started
        history.append({"epoch": epoch, "loss": loss, "accuracy": accuracy, "val_loss": val_loss,
                        "val_accuracy": val_accuracy, "lr": optimizer.param_groups[0]["lr"],
                        "seconds": seconds})
        if world.is_main:
            runs.save_checkpoint(run_dir, model, optimizer, generator, epoch, history, config.arch, task.classes,
                                 averaged)
        log(f"epoch {epoch:>3}/{config.epochs}  loss {loss:.4f}  accuracy {accuracy:.4f}  "
            f"val_loss {val_loss:.4f}  val_accuracy {val_accuracy:.4f}  {seconds:.1f}s")

    del net  # before leaving the process group (see `distributed.cleanup`)
    distributed.cleanup(world)
    if not world.is_main:
        return RunResult(run_dir, {}, history)

    if averaged is not None:
        # Batch norm's statistics belong to the weights they were measured with, and the average's
        # are no single epoch's: measured again, over one more epoch of training batches.
        log(f"averaged the weights of epochs {config.average_from}-{config.epochs}; measuring batch norm again")
        update_bn(task.train_loader, averaged, device)
        model.load_state_dict(averaged.module.state_dict())
    metrics, model_info = task.finish(model, history, run_dir, report, log)
    if averaged is not None and task.loss_of_last_epoch:  # the last epoch's loss is not the average's
        metrics["test_loss"] = test(model, device, task.test_loader, task.test_criterion, task.correct_in)[0]
    # The model file says how it was made and how well it did, wherever it is copied to.
    summary = {k: v for k, v in metrics.items() if k != "per_class"}
    model_info.update(recipe=json.dumps(config.to_dict()), data=task.data["name"], metrics=json.dumps(summary),
                      test_accuracy=str(metrics["test_accuracy"]), dataset=task.data["name"])
    runs.save_trained(run_dir, model, config.arch, task.classes, model_info, metrics)
    log(f"done: test_accuracy {metrics['test_accuracy']:.4f}  test_loss {metrics['test_loss']:.4f}  "
        f"trained {metrics['train_seconds']:.1f}s  -> {run_dir}")
    return RunResult(run_dir, metrics, history)


def calibrate(predictor: Predictor, val: Split, flag_rate: float) -> dict:
    """Fit the predictor's temperature on the validation split, then the confidence under which
    answers are flagged "not sure" (at most `flag_rate` of correct validation answers), measured
    as `predict` reads scans: the average of each digit as written and deskewed."""
    from digitlab.calibration import best_digit, fit_temperature, flag_threshold, is_uncertain

    images, labels = val.images.numpy(), val.labels.numpy()
    predictor.temperature = 1.0
    logits = np.log(np.clip(predictor.predict_proba(images), 1e-30, None))  # softmax with T = 1 keeps logit gaps
    temperature = fit_temperature(logits, labels)
    predictor.temperature = temperature
    probabilities = predictor.scan_probabilities(images)
    reject = predictor.reject_class
    threshold = flag_threshold(probabilities, labels, flag_rate, reject)
    flagged = is_uncertain(probabilities, threshold, reject)
    digits = labels != reject
    # Counted as `evaluate` counts: the best digit, the "not a digit" class aside.
    correct = digits & (best_digit(probabilities, reject) == labels)
    result = {"temperature": temperature, "uncertain_below": threshold,
              "calibration_accuracy": float(correct.sum() / max(1, digits.sum())),
              "val_correct_flagged": float(flagged[correct].mean()) if correct.any() else 0.0}
    if reject is not None and (~digits).any():
        result["val_not_digits_flagged"] = float(flagged[~digits].mean())
    return result
