"""A stand-in for your data, training and evaluation code in examples/workflows/retrain.yml.

Standard library only, and deterministic: the same seed writes the same bytes on every machine
(only `random.random()` is used, whose sequence Python guarantees across versions).

    python standin.py data --seed 0 --rows 400 -o holdout.csv     # labelled rows, as CSV
    python standin.py train --data train.csv --seed 7 --out model/ --metrics metrics.json
    python standin.py evaluate --model model/ --data holdout.csv --metrics holdout.json

`train` fits a logistic regression by a few passes of stochastic gradient descent from a random
start, so some seeds give a better model than others: a challenger can win or lose. Replace this
file with your own code; the workflow only needs a model directory and metrics as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from pathlib import Path

TRUE_WEIGHTS = (2.0, -1.0, 0.5)  # the rule behind the labels
TRUE_BIAS = 0.2


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _score(w: list[float], b: float, x: list[float]) -> float:
    return _sigmoid(sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b)


def make_data(seed: int, rows: int, out: Path) -> None:
    rng = random.Random(seed)
    with out.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["x1", "x2", "x3", "y"])
        for _ in range(rows):
            x = [round(2 * rng.random() - 1, 6) for _ in TRUE_WEIGHTS]
            y = int(rng.random() < _score(list(TRUE_WEIGHTS), TRUE_BIAS, x))  # noisy labels
            writer.writerow([*x, y])


def read_data(path: Path) -> tuple[list[list[float]], list[int]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [[float(r["x1"]), float(r["x2"]), float(r["x3"])] for r in rows], [int(r["y"]) for r in rows]


def auc(scores: list[float], labels: list[int]) -> float:
    """The area under the ROC curve (Mann-Whitney U, ties get their mean rank)."""
    pairs = sorted(zip(scores, labels, strict=True))
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        rank_sum += sum(label for _, label in pairs[i : j + 1]) * ((i + j) / 2 + 1)
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def metrics(w: list[float], b: float, xs: list[list[float]], ys: list[int]) -> dict[str, float]:
    scores = [_score(w, b, x) for x in xs]
    accuracy = sum((s >= 0.5) == bool(y) for s, y in zip(scores, ys, strict=True)) / len(ys)
    return {"auc": round(auc(scores, ys), 4), "accuracy": round(accuracy, 4)}


def train(data: Path, seed: int, out: Path, metrics_file: Path) -> None:
    xs, ys = read_data(data)
    rng = random.Random(seed)
    w = [4 * rng.random() - 2 for _ in TRUE_WEIGHTS]  # a random start ...
    b = 0.0
    order = list(range(len(xs)))
    for _ in range(2):  # ... and only two passes: the start still shows
        rng.shuffle(order)
        for i in order:
            err = _score(w, b, xs[i]) - ys[i]
            w = [wi - 0.05 * err * xi for wi, xi in zip(w, xs[i], strict=True)]
            b -= 0.05 * err
    out.mkdir(parents=True, exist_ok=True)
    (out / "weights.json").write_text(json.dumps({"w": [round(v, 6) for v in w], "b": round(b, 6)}) + "\n")
    metrics_file.write_text(json.dumps(metrics(w, b, xs, ys), indent=2) + "\n")


def evaluate(model: Path, data: Path, metrics_file: Path) -> None:
    weights = json.loads((model / "weights.json").read_text())
    xs, ys = read_data(data)
    metrics_file.write_text(json.dumps(metrics(weights["w"], weights["b"], xs, ys), indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="write labelled rows as CSV")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--rows", type=int, default=400)
    p.add_argument("-o", "--output", type=Path, required=True)
    p = sub.add_parser("train", help="fit the model, write it and its training metrics")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--metrics", type=Path, required=True)
    p = sub.add_parser("evaluate", help="measure a model on a dataset, write the metrics")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "data":
        make_data(args.seed, args.rows, args.output)
    elif args.command == "train":
        train(args.data, args.seed, args.out, args.metrics)
    else:
        evaluate(args.model, args.data, args.metrics)


if __name__ == "__main__":
    main()
