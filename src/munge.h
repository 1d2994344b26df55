/* MUNGE self-check for --slurm / --container-slurm: before the command starts,
 * prove that a munged answers on the socket Slurm uses, so a broken MUNGE shows
 * up as one clear yurt error instead of an obscure failure of srun inside. */
#ifndef YURT_MUNGE_H
#define YURT_MUNGE_H

#include <stddef.h>

#include "error.h"

/* The MUNGE socket Slurm uses on this node.  libmunge itself has no override
 * (no environment variable; only `munge --socket`), but Slurm's auth/munge and
 * cred/munge take one from slurm.conf, AuthInfo=socket=PATH (or the old form
 * AuthInfo=PATH), so that wins when $SLURM_CONF (else /etc/slurm/slurm.conf)
 * sets it; otherwise libmunge's compiled-in default, /run/munge/munge.socket.2
 * on Debian.  Decided on the first call and cached, so a later call inside the
 * container returns the same path.  Never NULL. */
const char *yurt_munge_default_socket(void);

/* The socket named by AuthInfo in the slurm.conf at CONF_PATH, copied into buf.
 * Returns 1 when AuthInfo names a socket, 0 when it does not (no AuthInfo, or
 * one without socket=) or the file cannot be read, -1 with err set when the
 * path does not fit in size.  Include files are not followed. */
int yurt_munge_slurm_conf_socket(const char *conf_path, char *buf, size_t size,
				 struct yurt_err *err);

/* Encodes a credential through SOCKET_PATH (NULL: yurt_munge_default_socket())
 * and decodes it through the same socket; the payload must come back intact
 * and munged must name our own uid and gid (translated through our user
 * namespace's id maps when we run in one).  Returns 0, or -1 with err set:
 * the socket, munge's own words and a hint. */
int yurt_munge_check(const char *socket_path, struct yurt_err *err);

#endif
