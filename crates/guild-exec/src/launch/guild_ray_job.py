"""The entrypoint of a guild run sent to a Ray cluster as a job.

It runs `guild ray-job ARGS` (the guild binary beside this file, in the
same package), which starts the run and keeps its directory in the
remote's storage. For a sweep with `max-concurrent`, it first takes one of
the sweep's slots from a named Ray actor (so at most that many trials run
at once, whatever Ray could schedule) and gives it back at the end. A slot
whose job died (stopped, killed) is taken back: each holder keeps a small
actor of its own alive, which dies with the job's driver.

GUILD_RAY_SLOTS is `NAME:LIMIT:TOTAL` for a sweep's trial.
"""

import os
import signal
import subprocess
import sys
import time


def _slots(spec):
    import ray

    name, limit, total = spec.rsplit(":", 2)
    ray.init(address="auto", namespace="guild", logging_level="ERROR", log_to_driver=False)

    @ray.remote(num_cpus=0)
    class Slots:
        def __init__(self, limit, total):
            self.limit = limit
            self.total = total
            self.holders = {}
            self.done = set()

        def take(self, job, token):
            if job in self.holders:
                return True
            if len(self.holders) >= self.limit:
                alive = {}
                for j, t in self.holders.items():
                    try:
                        ray.get(t.ping.remote(), timeout=10)
                        alive[j] = t
                    except Exception:
                        self.done.add(j)
                self.holders = alive
            if len(self.holders) < self.limit:
                self.holders[job] = token
                return True
            return False

        def give(self, job):
            self.holders.pop(job, None)
            self.done.add(job)
            if len(self.done) >= self.total and not self.holders:
                ray.actor.exit_actor()

    @ray.remote(num_cpus=0)
    class Token:
        def ping(self):
            return True

    slots = Slots.options(
        name=name, lifetime="detached", get_if_exists=True
    ).remote(int(limit), int(total))
    token = Token.remote()
    job = os.environ.get("RAY_JOB_SUBMISSION_ID") or str(os.getpid())
    while not ray.get(slots.take.remote(job, token)):
        time.sleep(0.5)
    return slots, job, token


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    exe = os.path.join(here, "guild")
    held = None
    spec = os.environ.get("GUILD_RAY_SLOTS")
    if spec:
        held = _slots(spec)
    # Ray stops a job by signalling its process group, which the child is
    # in: this process only outlives it, to give the slot back.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    child = subprocess.Popen([exe, "ray-job"] + argv)
    while True:
        try:
            code = child.wait()
            break
        except InterruptedError:
            continue
    if held:
        import ray

        slots, job, _token = held
        try:
            ray.get(slots.give.remote(job), timeout=10)
        except Exception:
            pass
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
