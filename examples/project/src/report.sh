#!/bin/sh
# An `exec` operation: flags arrive as arguments and as FLAG_* variables.
echo "report title: $FLAG_TITLE"
echo "args: $*"
