"""Plot a run's metrics.csv (train/val loss and learning rate per epoch) to a PNG."""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(csv_path: str, png_path: str) -> None:
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{csv_path}: no epochs recorded yet")
    epochs = [int(r["epoch"]) for r in rows]
    fig, (loss_ax, lr_ax) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=[3, 1])
    loss_ax.plot(epochs, [float(r["train_loss"]) for r in rows], label="train loss")
    loss_ax.plot(epochs, [float(r["val_loss"]) for r in rows], label="val loss")
    loss_ax.axhline(0.1, color="grey", linestyle=":", label="0.1")
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("cross-entropy (per token)")
    loss_ax.legend()
    total = sum(float(r["seconds"]) for r in rows)
    loss_ax.set_title(f"{csv_path}: {len(rows)} epochs, {total / 60:.1f} min of training")
    lr_ax.plot(epochs, [float(r["lr"]) for r in rows], color="tab:green")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_metrics.py RUN/metrics.csv OUT.png")
    main(sys.argv[1], sys.argv[2])
