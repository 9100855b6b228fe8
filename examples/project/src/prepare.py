"""Prepare data: scale the raw CSV and write prepared.csv (a generated file
that operations depending on `prepare` receive)."""
import argparse
import csv

p = argparse.ArgumentParser()
p.add_argument("--scale", type=float, default=1.0)
args = p.parse_args()

with open("raw.csv") as f:
    rows = list(csv.DictReader(f))
with open("prepared.csv", "w") as f:
    f.write("x,y\n")
    for r in rows:
        f.write("%s,%s\n" % (float(r["x"]) * args.scale, r["y"]))
print("rows: %d" % len(rows))
