"""A long-running process: stopping it counts as success (stoppable)."""
import time
print("serving", flush=True)
for i in range(600):
    time.sleep(0.1)
