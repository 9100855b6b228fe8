"""Evaluate model.txt; flags are module globals (flags-dest: globals)."""
threshold = 0.5
verbose = False

w = float(open("model.txt").read())
error = abs(w - 2.0)
if verbose:
    print("w=%.4f" % w)
print("error: %.4f" % error)
print("passed: %d" % (error < threshold))
