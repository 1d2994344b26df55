/* The site configuration: what the administrators add to every container and
 * the limits they set, from YURT_SITECONF_FILE.  examples/yurt.conf documents
 * the format and every key.
 *
 * The path is fixed at build time; no environment variable or option moves
 * it, because the file carries policy (allow-images, max-tasks) that a user
 * must not be able to drop by pointing yurt at an empty file.  Tests call
 * yurt_siteconf_parse or yurt_siteconf_load with a path of their own. */
#ifndef YURT_SITECONF_H
#define YURT_SITECONF_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "request.h"

/* YURT_SYSCONFDIR comes from the Makefile (./configure --sysconfdir). */
#define YURT_SITECONF_FILE YURT_SYSCONFDIR "/yurt/yurt.conf"

struct yurt_site_bind {
	struct yurt_bind bind;
	/* bind-if-exists: skipped when the source is missing on the node where
	 * the container starts (a plain bind then fails); the check belongs there,
	 * not here, since login and compute nodes differ. */
	bool if_exists;
};

struct yurt_siteconf {
	struct yurt_site_bind *binds;  /* in file order */
	size_t nbinds;
	unsigned long max_tasks;       /* limit for -n; 0: none */
	struct yurt_strv allow_images; /* canonical directories; empty: any image */
	bool home;                     /* bind the user's home by default */
};

/* The defaults: no binds, no limits, home mounted. */
void yurt_siteconf_init(struct yurt_siteconf *site);
void yurt_siteconf_free(struct yurt_siteconf *site);

/* Reads "key = value" lines from F into SITE (initialised by the caller);
 * LABEL names the file in messages ("site config /etc/yurt/yurt.conf" gives
 * "site config /etc/yurt/yurt.conf:3: unknown key 'foo'"). */
int yurt_siteconf_parse(struct yurt_siteconf *site, FILE *f, const char *label,
			struct yurt_err *err);

/* Initialises SITE and reads PATH; a missing file leaves the defaults. */
int yurt_siteconf_load(struct yurt_siteconf *site, const char *path, struct yurt_err *err);

/* True when the canonical (realpath) IMAGE is allowed by allow-images. */
bool yurt_siteconf_image_allowed(const struct yurt_siteconf *site, const char *image);

#endif
