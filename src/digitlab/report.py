"""The report people look at: curves, confusion heatmap, worst mistakes, one HTML page.

Figures use matplotlib's object API (no pyplot state); each file is written atomically.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from digitlab.atomic import write_bytes, write_text
from digitlab.evaluation import Evaluation


def save_figure(fig: Figure, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes(path, buffer.getvalue())


def say_in_empty_figure(fig: Figure, text: str) -> None:
    """A note across a figure that has nothing to show, so that it does not come out blank."""
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.axis("off")


def plot_learning_curves(history: list[dict], path: Path) -> None:
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(10, 4))
    for ax, key, label in ((fig.add_subplot(1, 2, 1), "accuracy", "Accuracy"),
                           (fig.add_subplot(1, 2, 2), "loss", "Loss")):
        ax.plot(epochs, [row[key] for row in history], "o-", label=key)
        ax.plot(epochs, [row[f"val_{key}"] for row in history], "o-", label=f"val_{key}")
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    # Without this, a training loss far above val_loss (label smoothing alone keeps it near 0.5)
    # reads like a bug.
    fig.text(0.5, 0.01, "loss and accuracy: on the training batches as trained (augmented, label-smoothed "
             "loss where the run uses them); val_: on the untouched test split", ha="center", fontsize=8,
             color="#555555")
    fig.subplots_adjust(bottom=0.2)
    save_figure(fig, path)


def plot_confusion_matrix(matrix: np.ndarray, classes: tuple[str, ...], path: Path) -> None:
    from sklearn.metrics import ConfusionMatrixDisplay

    fig = Figure(figsize=(7.5, 6.5))
    ax = fig.add_subplot()
    ConfusionMatrixDisplay(matrix, display_labels=list(classes)).plot(
        ax=ax, cmap="Blues", colorbar=True, values_format="d",
        xticks_rotation=45 if max(map(len, classes)) > 2 else "horizontal")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    save_figure(fig, path)


def write_confusion_csv(matrix: np.ndarray, classes: tuple[str, ...], path: Path) -> None:
    lines = ["true\\predicted," + ",".join(classes)]
    lines += [f"{name}," + ",".join(str(v) for v in row) for name, row in zip(classes, matrix)]
    write_text(path, "\n".join(lines) + "\n")


def plot_misclassified(evaluation: Evaluation, images: torch.Tensor, path: Path, count: int = 36) -> int:
    """A grid of the most confident mistakes; returns how many are shown."""
    wrong = np.flatnonzero(evaluation.predictions != evaluation.labels)
    confidence = evaluation.probabilities[wrong, evaluation.predictions[wrong]]
    worst = wrong[np.argsort(-confidence)][:count]
    columns = 6
    rows = max(1, int(np.ceil(len(worst) / columns)))
    fig = Figure(figsize=(columns * 1.6, rows * 1.9))
    for k, index in enumerate(worst):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.imshow(images[index].numpy(), cmap="gray", vmin=0, vmax=255)
        true, pred = evaluation.classes[evaluation.labels[index]], evaluation.classes[evaluation.predictions[index]]
        ax.set_title(f"true {true}\npred {pred} ({evaluation.probabilities[index].max():.0%})", fontsize=8)
        ax.axis("off")
    if len(worst) == 0:
        say_in_empty_figure(fig, "no mistakes on this split")
    fig.suptitle("Most confident mistakes")
    save_figure(fig, path)
    return len(worst)


def write_report(report_dir: Path, history: list[dict], evaluation: Evaluation, images: torch.Tensor,
                 title: str = "digitlab run") -> Path:
    """Write every report file into `report_dir`; returns the path of `report.html`."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    matrix = evaluation.confusion_matrix()
    if history:
        plot_learning_curves(history, report_dir / "learning_curves.png")
    plot_confusion_matrix(matrix, evaluation.classes, report_dir / "confusion_matrix.png")
    write_confusion_csv(matrix, evaluation.classes, report_dir / "confusion_matrix.csv")
    text_report = evaluation.classification_report()
    write_text(report_dir / "classification_report.txt", text_report)
    shown = plot_misclassified(evaluation, images, report_dir / "misclassified.png")
    mistakes = int((evaluation.predictions != evaluation.labels).sum())
    curves = ('<h2>Learning curves</h2><img src="learning_curves.png" alt="learning curves">'
              if history else "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}}
img{{max-width:100%}} pre{{background:#f6f6f6;padding:1em;overflow:auto}} .big{{font-size:1.4em}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p class="big">Test accuracy <b>{evaluation.accuracy:.2%}</b> &middot; test loss {evaluation.loss:.4f}
&middot; {len(evaluation.labels)} test images &middot; {mistakes} mistakes</p>
{curves}
<h2>Confusion matrix</h2><img src="confusion_matrix.png" alt="confusion matrix">
<p><a href="confusion_matrix.csv">confusion_matrix.csv</a></p>
<h2>Classification report</h2><pre>{html.escape(text_report)}</pre>
<h2>Most confident mistakes ({shown} shown)</h2><img src="misclassified.png" alt="misclassified images">
</body></html>
"""
    write_text(report_dir / "report.html", page)
    return report_dir / "report.html"


def plot_misread_lines(images: list[np.ndarray], results: list[tuple[str, str, float]], path: Path,
                       count: int = 24, measure: str = "lowest") -> int:
    """A gallery of misread test lines, as the reader saw them; returns how many are shown.
    `measure` names the number beside each answer (the line reader's lowest digit confidence)."""
    wrong = [i for i, (truth, read, _) in enumerate(results) if truth != read][:count]
    columns = 2
    rows = max(1, int(np.ceil(len(wrong) / columns)))
    fig = Figure(figsize=(10, 1.1 * rows + 0.8))
    for k, index in enumerate(wrong):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.imshow(images[index], cmap="gray", vmin=0, vmax=1, aspect="equal")
        truth, read, lowest = results[index]
        ax.set_title(f"true {truth}  read {read or '(nothing)'}  ({measure} {lowest:.0%})", fontsize=8, loc="left")
        ax.axis("off")
    if not wrong:
        say_in_empty_figure(fig, "every test line read exactly")
    fig.suptitle("Misread lines")
    save_figure(fig, path)
    return len(wrong)


def write_line_report(report_dir: Path, history: list[dict], images: list[np.ndarray],
                      results: list[tuple[str, str, float]], metrics: dict,
                      title: str = "digitlab line reader", orientation: bool = False) -> Path:
    """The line reader's report: learning curves (accuracy = lines read exactly) and misread lines;
    with `orientation`, the orientation model's (accuracy = lines whose way up it tells right)."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    if history:
        plot_learning_curves(history, report_dir / "learning_curves.png")
    shown = plot_misread_lines(images, results, report_dir / "misread_lines.png",
                               measure="sure" if orientation else "lowest")
    curves = ('<h2>Learning curves</h2><img src="learning_curves.png" alt="learning curves">'
              + ('<p>accuracy: lines whose way up is told right; loss: cross-entropy</p>' if orientation else
                 '<p>accuracy: lines read exactly; loss: CTC</p>') if history else "")
    headline = (f"Test lines whose way up is told right <b>{metrics['test_accuracy']:.2%}</b> &middot; upright kept "
                f"{metrics['test_upright_kept']:.2%} &middot; turned found {metrics['test_turned_found']:.2%}"
                if orientation else f"Test lines read exactly <b>{metrics['test_accuracy']:.2%}</b> &middot; digit "
                f"error rate {metrics['digit_error_rate']:.2%}")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}}
img{{max-width:100%}} .big{{font-size:1.4em}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p class="big">{headline} &middot; {metrics['n_test']} test lines</p>
{curves}
<h2>Misread lines ({shown} shown)</h2><img src="misread_lines.png" alt="misread lines">
</body></html>
"""
    write_text(report_dir / "report.html", page)
    return report_dir / "report.html"
