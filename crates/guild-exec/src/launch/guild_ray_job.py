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
import threading
import time


def _slots(spec):
    import ray

    name, limit, total = spec.rsplit(":", 2)
    ray.init(address="auto", namespace="guild", logging_level="ERROR", log_to_driver=False)

    @ray.remote(num_cpus=0)
    class Slots:
        """The sweep's slots. A trial holds one while it runs and waits
        for one before. A holder or waiter whose job died (its token actor
        is gone with the job's driver) is dropped, by the next `take` and
        by a reaper thread every few seconds. The actor ends itself when
        every trial is done, or when nobody has held or waited for a slot
        for IDLE_S seconds (trials stopped before they asked): a stopped
        sweep leaves nothing behind on the cluster. Ending with no holder
        loses nothing: a later trial makes the actor again, with every
        slot free, as it was."""

        IDLE_S = 30

        def __init__(self, limit, total):
            self.limit = limit
            self.total = total
            self.holders = {}
            self.waiters = {}
            self.done = set()
            self.closing = False
            self.lock = threading.Lock()
            threading.Thread(target=self._reap, daemon=True).start()

        def _drop_dead(self, table):
            for j, t in list(table.items()):
                try:
                    ray.get(t.ping.remote(), timeout=10)
                except Exception:
                    table.pop(j, None)
                    self.done.add(j)

        def _reap(self):
            idle = 0
            while True:
                time.sleep(5)
                with self.lock:
                    self._drop_dead(self.holders)
                    self._drop_dead(self.waiters)
                    busy = bool(self.holders or self.waiters)
                    idle = 0 if busy else idle + 5
                    if not busy and (len(self.done) >= self.total or idle >= self.IDLE_S):
                        # Under the lock: no slot is given from here on.
                        self.closing = True
                        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
                        return

        def take(self, job, token):
            with self.lock:
                if self.closing:
                    return False
                if job in self.holders:
                    return True
                if len(self.holders) >= self.limit:
                    self._drop_dead(self.holders)
                if len(self.holders) < self.limit:
                    self.waiters.pop(job, None)
                    self.holders[job] = token
                    return True
                self.waiters[job] = token
                return False

        def give(self, job):
            with self.lock:
                self.holders.pop(job, None)
                self.waiters.pop(job, None)
                self.done.add(job)

    @ray.remote(num_cpus=0)
    class Token:
        def ping(self):
            return True

    def actor():
        return Slots.options(
            name=name, lifetime="detached", get_if_exists=True
        ).remote(int(limit), int(total))

    slots = actor()
    token = Token.remote()
    job = os.environ.get("RAY_JOB_SUBMISSION_ID") or str(os.getpid())
    while True:
        try:
            if ray.get(slots.take.remote(job, token)):
                return slots, job, token
        except ray.exceptions.RayActorError:
            # It ended, idle, as this trial came: make it again.
            slots = actor()
            continue
        time.sleep(0.5)


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
