"""TensorBoard event files, written in pure Python.

An event file is a sequence of TFRecords: an 8-byte little-endian length,
its masked CRC32C, the serialized ``Event`` protobuf, and the protobuf's
masked CRC32C. TensorBoard, Guild AI 0.9 and ``guild compare`` read them.

Scalar events are the hot path (``guild.log`` is called once per step per
metric), so their CRC is not computed byte by byte. An event for one tag is
a fixed byte layout in which only the wall time, the step and the value
change; CRC32C is affine over GF(2), so the CRC of an event is the CRC of
the layout with those bytes zeroed, XORed with one table entry per changed
byte (tables built once per tag and step width).
"""

import os
import signal
import socket
import struct
import threading
import time
import weakref

_POLY = 0x82F63B78
_TABLE = None
_pack_d = struct.Struct("<d").pack
_pack_f32 = struct.Struct("<f").pack
_F32_MAX = 3.4028234663852886e38


def _pack_f(v):
    """A float32, values past its range as +-inf (a loss that blew up)."""
    try:
        return _pack_f32(v)
    except OverflowError:
        return _pack_f32(float("inf") if v > 0 else float("-inf"))

_pack_q = struct.Struct("<Q").pack
_pack_i = struct.Struct("<I").pack


def _table():
    global _TABLE
    if _TABLE is None:
        t = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ _POLY if c & 1 else c >> 1
            t.append(c)
        _TABLE = t
    return _TABLE


def crc32c(data):
    """CRC-32C (Castagnoli) of ``data``."""
    t = _table()
    crc = 0xFFFFFFFF
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    return _mask(crc32c(data))


def _mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def clamp_step(n):
    """A step as an int64, as the Event proto holds it."""
    return _I64_MIN if n < _I64_MIN else _I64_MAX if n > _I64_MAX else n


def varint(n):
    """Protobuf base-128 varint; negative int64 values take ten bytes."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


_HEADER_CACHE = {}


def record(event):
    """One TFRecord holding the serialized ``event``."""
    n = len(event)
    head = _HEADER_CACHE.get(n)
    if head is None:
        h = _pack_q(n)
        head = h + _pack_i(masked_crc32c(h))
        _HEADER_CACHE[n] = head
    return head + event + _pack_i(masked_crc32c(event))


def event(wall_time, step=None, summary=None, file_version=None):
    """A serialized ``Event`` (wall_time, step, file_version or summary)."""
    out = b"\x09" + _pack_d(wall_time)
    if step:
        out += b"\x10" + varint(step)
    if file_version is not None:
        out += _field_bytes(3, file_version.encode())
    if summary is not None:
        out += _field_bytes(5, summary)
    return out


def tag_bytes(tag):
    """A tag as UTF-8 (anything else is made a string; unencodable
    characters replaced)."""
    if tag.__class__ is not str:
        tag = str(tag)
    return tag.encode("utf-8", "replace")


def scalar_value(tag, value):
    """A ``Summary.Value`` with ``simple_value``."""
    return _field_bytes(1, tag_bytes(tag)) + b"\x15" + _pack_f(value)


def text_value(tag, text):
    """A ``Summary.Value`` holding a string tensor for TensorBoard's text
    plugin."""
    plugin = _field_bytes(1, _field_bytes(1, b"text"))
    shape = _field_bytes(2, _field_bytes(2, b"\x08\x01"))
    tensor = b"\x08\x07" + shape + _field_bytes(8, text.encode())
    return (
        _field_bytes(1, tag_bytes(tag)) + _field_bytes(9, plugin) + _field_bytes(8, tensor)
    )


def summary(values):
    """A ``Summary`` of serialized values."""
    return b"".join(_field_bytes(1, v) for v in values)


class _ScalarShape:
    """The byte layout of a one-value scalar event for one tag and step
    width, with its CRC tables."""

    __slots__ = ("mid", "base", "tabs", "head")

    def __init__(self, tag, step_len):
        value = _field_bytes(1, tag_bytes(tag)) + b"\x15"
        # Everything between the step and the 4 value bytes.
        self.mid = (
            b"\x2a"
            + varint(len(value) + 4 + len(varint(len(value) + 4)) + 1)
            + b"\x0a"
            + varint(len(value) + 4)
            + value
        )
        n = 1 + 8 + 1 + step_len + len(self.mid) + 4
        zero = b"\x09" + bytes(8) + b"\x10" + bytes(step_len) + self.mid + bytes(4)
        self.base = crc32c(zero)
        positions = (
            list(range(1, 9)) + list(range(10, 10 + step_len)) + list(range(n - 4, n))
        )
        self.tabs = [_byte_table(n - 1 - p) for p in positions]
        h = _pack_q(n)
        self.head = h + _pack_i(masked_crc32c(h))


_DIST_CACHE = {}


def _byte_table(dist):
    """For each byte value, its CRC contribution when ``dist`` bytes follow
    it (zero initial state, no final XOR)."""
    tab = _DIST_CACHE.get(dist)
    if tab is not None:
        return tab
    t = _table()
    basis = []
    for bit in range(8):
        s = t[1 << bit]
        for _ in range(dist):
            s = t[s & 0xFF] ^ (s >> 8)
        basis.append(s)
    tab = [0] * 256
    for b in range(1, 256):
        low = b & -b
        tab[b] = tab[b ^ low] ^ basis[low.bit_length() - 1]
    _DIST_CACHE[dist] = tab
    return tab


class EventWriter:
    """Appends records to one new event file in ``logdir``.

    Records are buffered in memory and written by :meth:`flush`; the
    module's flusher thread flushes every writer about once a second, at
    interpreter exit and on SIGTERM (``guild stop``). A write that fails
    part way (a full disk) is cut back to the last whole record, so the
    file stays readable; the events of that flush are dropped.
    """

    def __init__(self, logdir, filename_base=None, filename_suffix=""):
        os.makedirs(logdir, exist_ok=True)
        if filename_base is None:
            filename_base = "%010d.%s.%d.%d" % (
                int(time.time()),
                socket.gethostname(),
                os.getpid(),
                _next_seq(),
            )
        self.path = os.path.join(
            logdir, "events.out.tfevents." + filename_base + filename_suffix
        )
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending = []
        self._shapes = {}
        self._closed = False
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        self._pending.append(record(event(time.time(), file_version="brain.Event:2")))
        self.flush()
        _register(self)

    def add_scalar(self, tag, value, step, wall_time):
        """Queue one scalar event (the fast path)."""
        sb = varint(step)
        key = (tag, len(sb))
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = _ScalarShape(tag, len(sb))
        wb = _pack_d(wall_time)
        vb = _pack_f(value)
        c = shape.base
        for t, b in zip(shape.tabs, wb + sb + vb):
            c ^= t[b]
        rec = b"".join(
            (
                shape.head,
                b"\x09",
                wb,
                b"\x10",
                sb,
                shape.mid,
                vb,
                _pack_i((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF),
            )
        )
        with self._lock:
            self._pending.append(rec)

    def add_values(self, values, step, wall_time):
        """Queue one event holding several serialized ``Summary.Value``s."""
        rec = record(event(wall_time, step, summary=summary(values)))
        with self._lock:
            self._pending.append(rec)

    def flush(self):
        with self._write_lock:
            with self._lock:
                if not self._pending:
                    return
                data = b"".join(self._pending)
                self._pending = []
            if self._closed:
                return
            self._write(data)

    def _write(self, data):
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self._size += len(data)
        except OSError:
            # A full disk or a removed directory must not end the training
            # script: these events are dropped, the file cut back to its
            # last whole record.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass

    def close(self):
        """Write what is buffered and close the file; later events to this
        writer are dropped."""
        with self._write_lock:
            with self._lock:
                data = b"".join(self._pending)
                self._pending = []
                was_closed, self._closed = self._closed, True
            if was_closed:
                return
            if data:
                self._write(data)
            try:
                os.close(self._fd)
            except OSError:
                pass
        _unregister(self)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _after_fork_in_child(self):
        # The parent writes what it had buffered; this process's events go
        # to a file of its own (a new writer).
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending = []
        self._closed = True


_SEQ = [0]
_WRITERS = weakref.WeakSet()
_WRITERS_LOCK = threading.Lock()
_FLUSHER = []


def _next_seq():
    with _WRITERS_LOCK:
        _SEQ[0] += 1
        return _SEQ[0]


def _register(writer):
    with _WRITERS_LOCK:
        _WRITERS.add(writer)
        start = not _FLUSHER
        if start:
            _FLUSHER.append(True)
    if start:
        import atexit

        atexit.register(flush_all)
        _flush_on_sigterm()
        try:
            threading.Thread(target=_flush_loop, name="guild-events", daemon=True).start()
        except RuntimeError:
            # Interpreter shutting down: no thread; atexit writes the rest.
            pass


def _unregister(writer):
    with _WRITERS_LOCK:
        _WRITERS.discard(writer)


def flush_all():
    """Write what every open writer has buffered."""
    with _WRITERS_LOCK:
        writers = list(_WRITERS)
    for w in writers:
        try:
            w.flush()
        except Exception:
            pass


FLUSH_SECS = 1.0


def _flush_loop():
    while True:
        time.sleep(FLUSH_SECS)
        flush_all()


def _flush_on_sigterm():
    """SIGTERM (``guild stop``) ends Python without ``atexit``: when the
    script has no handler of its own, flush first, then end as SIGTERM
    would have."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):
        pass


def _on_sigterm(signum, _frame):
    flush_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _after_fork_in_child():
    global _WRITERS_LOCK
    _WRITERS_LOCK = threading.Lock()
    for w in list(_WRITERS):
        w._after_fork_in_child()
    _WRITERS.clear()
    del _FLUSHER[:]
    for hook in _FORK_HOOKS:
        hook()


_FORK_HOOKS = []
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=flush_all, after_in_child=_after_fork_in_child)
