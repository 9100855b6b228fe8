"""Fit y = w*x by gradient descent on prepared.csv; prints scalars."""
import argparse
import csv
import os

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.01, help="Learning rate")
p.add_argument("--epochs", type=int, default=5, help="Passes over the data")
p.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum"])
p.add_argument("--seed", type=int, default=0)
p.add_argument("--no-shuffle", action="store_true")
args = p.parse_args()

with open("prepared.csv") as f:
    data = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
w, v = 0.0, 0.0
for epoch in range(1, args.epochs + 1):
    grad = sum(2 * (w * x - y) * x for x, y in data) / len(data)
    v = 0.9 * v + grad if args.optimizer == "momentum" else grad
    w -= args.lr * v
    loss = sum((w * x - y) ** 2 for x, y in data) / len(data)
    print("epoch %d: loss=%.4f w=%.4f" % (epoch, loss, w))
with open("model.txt", "w") as f:
    f.write("%f\n" % w)
print("run mode: %s" % os.environ.get("RUN_MODE"))
