/* Privileges: what the command may not gain. */
#ifndef YURT_CAPS_H
#define YURT_CAPS_H

#include <stdbool.h>

#include "error.h"

/* Refuses to run from a setuid or setgid binary: yurt needs no privilege and
 * must not be a way to borrow one. */
int yurt_refuse_setid(struct yurt_err *err);

/* Sets no_new_privs and, unless KEEP_CAPS (fake root), empties every
 * capability set, the bounding set and the ambient set. */
int yurt_caps_lock_down(bool keep_caps, struct yurt_err *err);

#endif
