#!/bin/sh
# Generates ./configure from configure.ac (needs autoconf).
set -e
cd "$(dirname "$0")"
autoconf --force
rm -rf autom4te.cache
