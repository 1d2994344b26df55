#!/bin/sh
# The demo job: what a batch job sees inside a yurt container.
echo "== inside the container"
echo "image:        $(cat /etc/os-release 2>/dev/null | sed -n 's/^PRETTY_NAME=//p' | tr -d '"')"
echo "user:         $(id -un) (uid $(id -u)), home $HOME"
echo "workdir:      $(pwd)"
echo "PATH:         $PATH"
echo "root fs:      $(awk '$5 == "/" {print $6}' /proc/self/mountinfo)"
echo "capabilities: $(grep CapEff /proc/self/status | awk '{print $2}'), no_new_privs $(grep NoNewPrivs /proc/self/status | awk '{print $2}')"
if touch /usr-is-writable 2>/dev/null; then echo "image:        writable?!"; else echo "image:        read-only, as it should be"; fi
echo "== a small computation: primes below 20000"
awk 'BEGIN { n = 0; for (i = 2; i < 20000; i++) { p = 1; for (j = 2; j * j <= i; j++) if (i % j == 0) { p = 0; break } n += p } print "primes:       " n }'
echo "== results written to the host through the bound working directory"
echo "job done at $(date -u +%FT%TZ)" > demo-result.txt
cat demo-result.txt
