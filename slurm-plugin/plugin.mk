# The SPANK plugin, slurm-plugin/yurt.so: built only where Slurm's spank.h is
# found, from the plugin's files and libyurt (-fPIC), exporting only what
# Slurm looks up (yurt-spank.map); spank_* and slurm_* come from the process
# that loads it (srun, slurmstepd...), so it links no libslurm.  Installed into Slurm's plugin directory:
# SLURM_PLUGINDIR from configure, else pkg-config's slurm, else Debian's.
SPANK_H := $(firstword $(wildcard /usr/include/slurm/spank.h))
# (configure writes SLURM_PLUGINDIR empty unless --with-slurm-plugindir.)
ifeq ($(strip $(SLURM_PLUGINDIR)),)
SLURM_PLUGINDIR := $(or $(shell $(PKG_CONFIG) --variable=libdir slurm 2>/dev/null | sed 's|$$|/slurm|;/^\/slurm$$/d'),/usr/lib/x86_64-linux-gnu/slurm-wlm)
endif

SPANK_SRCS := slurm-plugin/spank.c slurm-plugin/stepd.c slurm-plugin/options.c
SPANK_OBJS := $(SPANK_SRCS:%.c=$(BUILD)/%.o)
SPANK_SO   := slurm-plugin/yurt.so
SPANK_CFLAGS = -Islurm-plugin -DYURT_BINDIR='"$(bindir)"'

$(BUILD)/slurm-plugin/%.o: slurm-plugin/%.c $(wildcard slurm-plugin/*.h) $(wildcard src/*.h) $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SPANK_CFLAGS) -c -o $@ $<

$(SPANK_SO): $(SPANK_OBJS) $(LIB) slurm-plugin/yurt-spank.map
	$(CC) $(ALL_LDFLAGS) -shared -Wl,--version-script=slurm-plugin/yurt-spank.map \
		-o $@ $(SPANK_OBJS) $(LIB) $(PKG_LIBS)

# The unit test of the option parser links options.o, before libyurt, which it uses.
$(BUILD)/unit/test_spank_options: $(BUILD)/slurm-plugin/options.o
$(BUILD)/unit/test_spank_options: ALL_CFLAGS += -Islurm-plugin
$(BUILD)/unit/test_spank_options: LIB := $(BUILD)/slurm-plugin/options.o $(LIB)

ifeq ($(SPANK_H),)
plugin:
	@echo "slurm-plugin: /usr/include/slurm/spank.h not found; the SPANK plugin is not built"
PLUGIN_INSTALL :=
else
ifeq ($(SANITIZE),1)
# srun and slurmstepd load the plugin, and they are not built with ASan, whose
# runtime must come first: the plugin is always the plain build (the yurt it
# runs is the sanitized one).
plugin:
	@$(MAKE) --no-print-directory SANITIZE= plugin
else
plugin: $(SPANK_SO)
endif
PLUGIN_INSTALL = install -d $(DESTDIR)$(SLURM_PLUGINDIR) && \
	install -m 0755 $(SPANK_SO) $(DESTDIR)$(SLURM_PLUGINDIR)/yurt.so
endif
