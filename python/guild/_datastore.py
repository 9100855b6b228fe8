"""Grid.ai's ``Datastore`` and ``list_datastores()`` on the guild home's
datastores: named, versioned, immutable sets of files stored by content.

::

    from guild import Datastore, list_datastores
    ds = Datastore(name="mnist", source="./data/mnist")
    ds.upload()             # stores the tree as the next version (1, 2, 3...)
    ds.version, ds.size     # 1, bytes
    [str(d) for d in list_datastores()]

An unchanged tree uploads no new version; an upload interrupted is
completed by calling ``upload()`` again. Datastores live in this machine's
guild home; a remote gets a version with the first run that mounts it
there (``Run(datastore=..., cluster_id=...)``), so ``cluster_id`` is not
taken here.
"""

import datetime
import os

from guild import _cli
from guild._cli import GuildError

_EPOCH = datetime.datetime(1970, 1, 1)


class Datastore:
    """A datastore version: ``name``, ``version`` (Grid numbers them from 1),
    and for an upload the ``source`` directory or file."""

    def __init__(
        self,
        name=None,
        source=None,
        team=None,
        user=None,
        version=None,
        compression=None,
        cluster_id=None,
    ):
        if cluster_id:
            raise GuildError(
                "Datastore(cluster_id=%r): datastores are created here and go to a "
                "remote with the first run that mounts one there; leave out cluster_id" % cluster_id,
                ["datastores"],
                1,
            )
        if not name:
            if not source:
                raise GuildError("give a datastore name (or a source to name it after)", ["datastores"], 1)
            name = os.path.basename(os.path.normpath(str(source)))
        self.name = name
        self.source = str(source) if source is not None else None
        self.version = version
        self.team = team
        self.user = user
        self.compression = compression
        self.cluster_id = None
        self._info = None

    def __repr__(self):
        return "<Datastore name=%s version=%s>" % (self.name, self.version)

    def __str__(self):
        return "%s:%s" % (self.name, self.version) if self.version else self.name

    def _spec(self):
        return "%s:%d" % (self.name, self.version) if self.version else self.name

    def _data(self):
        if self._info is None:
            self._info = _cli.json(["datastores", "info", self._spec(), "--json"])
            self.version = self._info["version"]
        return self._info

    def upload(self):
        """Store ``source`` as the next version (the same version when its
        content did not change). Returns this datastore."""
        if not self.source:
            raise GuildError(
                "this Datastore has no source to upload; give Datastore(name, source=DIR)",
                ["datastores", "create"],
                1,
            )
        created = _cli.json(["datastores", "create", self.name, os.path.abspath(self.source), "--json"])
        self._info = dict(created["version"])
        self.version = self._info["version"]
        return self

    def delete(self):
        """Delete this version (its data stays until ``guild datastores gc``)."""
        _cli.run(["datastores", "delete", self._spec(), "-y"])
        self._info = None

    @property
    def size(self):
        """The total size of its files in bytes."""
        return self._data()["size"]

    @property
    def files(self):
        """How many files it holds."""
        return self._data()["files"]

    @property
    def manifest(self):
        """The digest of its manifest: what identifies its content."""
        return self._data()["manifest"]

    @property
    def created_at(self):
        """When the version was created (UTC)."""
        return _EPOCH + datetime.timedelta(microseconds=self._data()["created"])

    @property
    def snapshot_status(self):
        """``succeeded``: a version exists only once stored whole."""
        self._data()
        return "succeeded"


def list_datastores():
    """Every version of every datastore of the guild home, oldest first."""
    out = []
    for d in _cli.json(["datastores", "--json"]) or []:
        for v in d["versions"]:
            ds = Datastore(name=v["name"], version=v["version"])
            ds._info = v
            out.append(ds)
    return out
