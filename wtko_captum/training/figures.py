"""Figures of training and evaluation: learning curves and confusion matrices."""
from __future__ import annotations

from pathlib import Path

from wtko_captum.core.figures import new_figure, save_figure


def plot_learning_curve(history, path, *, metric: str = "val_auroc", best_epoch: int | None = None,
                        title: str | None = None) -> Path:
    """Loss (left) and accuracy/auROC (right) per epoch.

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch with columns ``epoch``, ``train_loss``, ``val_loss`` and any of
        ``train_acc``, ``val_acc``, ``val_auroc``.
    path : path
        PNG (or any format matplotlib writes, by suffix), written atomically.
    best_epoch : int, optional
        Marked with a vertical line (the checkpoint that was kept).
    """
    fig = new_figure(9, 3.4)
    ax1, ax2 = fig.subplots(1, 2)
    ep = history["epoch"]
    for col, style in (("train_loss", "-"), ("val_loss", "--")):
        if col in history:
            ax1.plot(ep, history[col], style, marker=".", label=col.replace("_", " "))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    for col, style in (("train_acc", "-"), ("val_acc", "--"), ("val_auroc", ":")):
        if col in history:
            ax2.plot(ep, history[col], style, marker=".", label=col.replace("_", " ").replace("acc", "accuracy"))
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy / auROC")
    ax2.set_ylim(0, 1.02)
    for ax in (ax1, ax2):
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", lw=0.8, ls=":")
        ax.legend(fontsize=8, frameon=False)
    fig.suptitle(title or f"learning curve (best epoch {best_epoch} by {metric})", fontsize=10)
    return save_figure(fig, path)


def plot_confusion_matrix(matrix, class_names, path, *, title: str | None = None) -> Path:
    """Confusion matrix heat map, rows = true class, columns = predicted class, with counts
    and row percentages in the cells."""
    import numpy as np

    m = np.asarray(matrix)
    n = len(class_names)
    fig = new_figure(1.4 + 1.1 * n, 1.0 + 1.1 * n)
    ax = fig.subplots()
    rows = m.sum(axis=1, keepdims=True).clip(min=1)
    ax.imshow(m / rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            frac = m[i, j] / rows[i, 0]
            ax.text(j, i, f"{m[i, j]}\n{100 * frac:.0f}%", ha="center", va="center",
                    color="white" if frac > 0.6 else "black", fontsize=9)
    ax.set_xticks(range(n), class_names)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix", fontsize=10)
    return save_figure(fig, path)
