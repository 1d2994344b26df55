# yurt: the build. `make` builds bin/yurt; `make check` runs every test;
# `make check SANITIZE=1` does the same with ASan+UBSan.  ./configure (from
# ./autogen.sh) writes config.mak, which this Makefile reads, as git does.
-include config.mak

prefix      ?= /usr/local
exec_prefix ?= $(prefix)
bindir      ?= $(exec_prefix)/bin
libdir      ?= $(exec_prefix)/lib
sysconfdir  ?= $(prefix)/etc
mandir      ?= $(prefix)/share/man
PKG_CONFIG  ?= pkg-config
CC          ?= cc
CFLAGS      ?= -O2 -g

PKGS := squashfuse_ll fuse3 libcap hwloc munge libdeflate
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
VERSION    := $(shell cat VERSION)

ifeq ($(SANITIZE),1)
  SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  BUILD     := build/san
else
  BUILD     := build/opt
endif

ALL_CFLAGS  = -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -fPIC $(SAN_FLAGS) $(CFLAGS) \
              -Isrc $(PKG_CFLAGS) -DYURT_VERSION='"$(VERSION)"' \
              -DYURT_SYSCONFDIR='"$(sysconfdir)"'
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

LIB_SRCS  := $(sort $(wildcard src/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libyurt.a
UNIT_SRCS := $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:test/unit/%.c=$(BUILD)/unit/%)

all: bin/yurt plugin

ifeq ($(PKG_LIBS),)
  ifeq ($(filter deps demo check clean distclean,$(MAKECMDGOALS)),)
    $(error libraries not found by pkg-config ($(PKGS)): run 'make deps' (as root it installs them))
  endif
endif
.PHONY: all plugin deps demo check check-build check-unit bench bench-slurm install clean distclean FORCE

# The flags stamp relinks bin/yurt whenever SANITIZE or CFLAGS change.
$(BUILD)/flags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' > $@
FORCE:

# bin/yurt and the plugin are the same files for both builds: relink them
# when the other build linked them last.
build/linked: FORCE
	@mkdir -p $(@D)
	@echo '$(BUILD)' | cmp -s - $@ || echo '$(BUILD)' > $@

$(BUILD)/%.o: %.c $(wildcard src/*.h) $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

bin/yurt: $(BUILD)/bin/yurt.o $(LIB) $(BUILD)/flags build/linked
	$(CC) $(ALL_LDFLAGS) -o $@ $(BUILD)/bin/yurt.o $(LIB) $(PKG_LIBS)

$(BUILD)/unit/%: test/unit/%.c $(LIB) $(wildcard test/unit/*.h) $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itest/unit $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) -lcriterion

include slurm-plugin/plugin.mk

# deps installs what is missing first; the sub-make then sees pkg-config's answers.
deps:
	@test/deps.sh build test

demo:
	@test/deps.sh build test
	@$(MAKE) --no-print-directory bin/yurt
	@examples/demo.sh

# As root, check prepares the machine as a site would (packages, a test user,
# /dev/fuse 0666, a delegated cgroup) and runs user-facing tests as that user.
# Only root can start the Slurm suite's daemons, so only root needs Slurm.
check:
	@test/deps.sh build test $(if $(filter 0,$(shell id -u)),slurm)
	@$(MAKE) --no-print-directory check-build
	@test/check.sh $(BUILD) $(sysconfdir)

check-build: bin/yurt plugin $(UNIT_BINS)

check-unit: $(UNIT_BINS)
	@test/run-unit.sh $(BUILD)/unit

bench: bin/yurt
	@test/bench/run.sh

bench-slurm: bin/yurt plugin
	@test/bench/slurm.sh

install: all
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(sysconfdir)/yurt
	install -m 0755 bin/yurt $(DESTDIR)$(bindir)/yurt
	install -m 0644 doc/yurt.1 $(DESTDIR)$(mandir)/man1/yurt.1
	test -e $(DESTDIR)$(sysconfdir)/yurt/yurt.conf || install -m 0644 examples/yurt.conf $(DESTDIR)$(sysconfdir)/yurt/yurt.conf
	$(PLUGIN_INSTALL)

clean:
	rm -rf build bin/yurt slurm-plugin/yurt.so test/tmp

distclean: clean
	rm -rf config.mak config.log config.status autom4te.cache configure
