"""``SummaryWriter``: TensorBoard scalars and text from any script.

A drop-in for code written for ``torch.utils.tensorboard``, tensorboardX
or Guild AI's ``guild.summary.SummaryWriter``::

    from guild.summary import SummaryWriter
    w = SummaryWriter()                 # in a run: the run directory
    w.add_scalar("loss", 0.25, step)
    w.add_text("note", "lr halved", step)
    w.close()

Pure Python, no TensorFlow or protobuf needed. Events are buffered and
written about once a second and at exit; :meth:`flush` writes now.
"""

import os
import sys
import time

from guild import _events


class SummaryWriter:
    """Writes one TensorBoard event file in ``logdir``.

    ``logdir`` (or ``log_dir``) defaults to the current run's directory;
    outside a run without one, nothing is recorded (said once on stderr).
    ``filename_base`` and ``filename_suffix`` name the file as Guild AI's
    writer does; other TensorBoard keyword arguments are accepted.
    """

    def __init__(
        self,
        logdir=None,
        filename_base=None,
        filename_suffix="",
        log_dir=None,
        comment="",
        purge_step=None,
        max_queue=10,
        flush_secs=120,
        **_ignored
    ):
        logdir = logdir or log_dir or os.environ.get("RUN_DIR")
        self.logdir = logdir
        self._writer = None
        if not logdir:
            sys.stderr.write(
                "guild.summary.SummaryWriter: no logdir and not in a run: "
                "nothing is recorded\n"
            )
            return
        try:
            self._writer = _events.EventWriter(logdir, filename_base, filename_suffix)
        except OSError as e:
            sys.stderr.write(
                "guild.summary.SummaryWriter: cannot write to %s (%s): "
                "nothing is recorded\n" % (logdir, e)
            )

    def get_logdir(self):
        return self.logdir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, **_kw):
        """One scalar value at a step (0 when not given)."""
        w = self._writer
        if w is None:
            return
        try:
            v = float(scalar_value)
        except (TypeError, ValueError):
            sys.stderr.write("SummaryWriter: %s=%r is not a number; skipped\n" % (tag, scalar_value))
            return
        w.add_scalar(
            tag, v, int(global_step or 0), time.time() if walltime is None else walltime
        )

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several scalars under ``main_tag/NAME``, in one event."""
        w = self._writer
        if w is None:
            return
        values = []
        for name, value in tag_scalar_dict.items():
            try:
                values.append(_events.scalar_value("%s/%s" % (main_tag, name), float(value)))
            except (TypeError, ValueError):
                pass
        if values:
            w.add_values(
                values, int(global_step or 0), time.time() if walltime is None else walltime
            )

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Text for TensorBoard's text dashboard."""
        w = self._writer
        if w is None:
            return
        w.add_values(
            [_events.text_value(tag, str(text_string))],
            int(global_step or 0),
            time.time() if walltime is None else walltime,
        )

    def flush(self):
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()
