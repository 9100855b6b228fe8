import argparse
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1, help="Learning rate")
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--opt", choices=["adam", "sgd"], default="adam")
p.add_argument("--debug", action="store_true")
p.add_argument("--fail-code", type=int, default=0)
p.add_argument("--sleep", type=float, default=0)
args = p.parse_args()

for epoch in range(1, args.epochs + 1):
    loss = round(1.0 / (epoch * (1 + args.lr * 10)), 4)
    acc = round(1.0 - loss / 2, 4)
    print("step: %i" % epoch)
    print("loss: %s" % loss)
    print("acc: %s" % acc)
    sys.stdout.flush()

sys.stderr.write("done training opt=%s debug=%s\n" % (args.opt, args.debug))
sys.stderr.flush()

if args.sleep > 0:
    time.sleep(args.sleep)

if os.getenv("FAIL") == "1":
    sys.exit(3)

if args.fail_code:
    sys.exit(args.fail_code)
