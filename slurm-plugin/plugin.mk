# The SPANK plugin is built only where Slurm's spank.h is found.
SPANK_H := $(firstword $(wildcard /usr/include/slurm/spank.h))
PLUGIN_INSTALL :=
plugin:
