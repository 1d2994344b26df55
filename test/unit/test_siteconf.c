#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "siteconf.h"

static struct yurt_siteconf site;
static struct yurt_err err;

static void setup(void)
{
	yurt_siteconf_init(&site);
}

static void teardown(void)
{
	yurt_siteconf_free(&site);
}

TestSuite(siteconf, .init = setup, .fini = teardown);

static int parse(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	cr_assert(f);
	int rc = yurt_siteconf_parse(&site, f, "site config t", &err);
	fclose(f);
	return rc;
}

Test(siteconf, defaults)
{
	cr_assert_eq(parse("# nothing but comments\n\n   \n"), 0, "%s", err.msg);
	cr_assert_eq(site.nbinds, 0);
	cr_assert_eq(site.max_tasks, 0);
	cr_assert_eq(site.allow_images.n, 0);
	cr_assert(site.home);
	cr_assert(yurt_siteconf_image_allowed(&site, "/anywhere/x.sqfs"));
}

Test(siteconf, binds_in_order)
{
	cr_assert_eq(parse("bind = /scratch\n"
			   "  bind-if-exists=/local/ssd:/tmp/ssd:rw  \n"
			   "bind\t=\t/opt/site:/opt/site:ro\r\n"),
		     0, "%s", err.msg);
	cr_assert_eq(site.nbinds, 3);
	cr_assert_str_eq(site.binds[0].bind.src, "/scratch");
	cr_assert_str_eq(site.binds[0].bind.dst, "/scratch");
	cr_assert_not(site.binds[0].bind.readonly);
	cr_assert_not(site.binds[0].if_exists);
	cr_assert_str_eq(site.binds[1].bind.src, "/local/ssd");
	cr_assert_str_eq(site.binds[1].bind.dst, "/tmp/ssd");
	cr_assert_not(site.binds[1].bind.readonly);
	cr_assert(site.binds[1].if_exists);
	cr_assert_str_eq(site.binds[2].bind.dst, "/opt/site");
	cr_assert(site.binds[2].bind.readonly);
}

Test(siteconf, bind_source_must_be_absolute)
{
	cr_assert_eq(parse("bind = scratch:/scratch\n"), -1);
	cr_assert_str_eq(err.msg, "site config t:1: bind 'scratch:/scratch': source must be an absolute path");
}

Test(siteconf, bind_errors_from_the_spec_parser)
{
	cr_assert_eq(parse("\nbind = /a:/b:rx\n"), -1);
	cr_assert_str_eq(err.msg, "site config t:2: bind '/a:/b:rx': mode must be ro or rw, not 'rx'");
}

Test(siteconf, max_tasks)
{
	cr_assert_eq(parse("max-tasks = 4096\n"), 0, "%s", err.msg);
	cr_assert_eq(site.max_tasks, 4096);
	cr_assert_eq(parse("max-tasks = 8\n"), 0, "a repeated key replaces: %s", err.msg);
	cr_assert_eq(site.max_tasks, 8);
}

Test(siteconf, max_tasks_invalid)
{
	const char *bad[] = { "0", "-1", "5x", "x", "99999999999999999999999", "+3" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char text[64], want[128];
		snprintf(text, sizeof text, "max-tasks = %s\n", bad[i]);
		cr_assert_eq(parse(text), -1, "%s", bad[i]);
		snprintf(want, sizeof want,
			 "site config t:1: max-tasks: expected a positive integer, not '%s'", bad[i]);
		cr_assert_str_eq(err.msg, want);
	}
}

Test(siteconf, home)
{
	cr_assert_eq(parse("home = no\n"), 0, "%s", err.msg);
	cr_assert_not(site.home);
	cr_assert_eq(parse("home = yes\n"), 0, "%s", err.msg);
	cr_assert(site.home);
	cr_assert_eq(parse("home = false\n"), -1);
	cr_assert_str_eq(err.msg, "site config t:1: home: expected yes or no, not 'false'");
}

Test(siteconf, allow_images)
{
	cr_assert_eq(parse("allow-images = /images/:/gpfs/apps/images\nallow-images = /home\n"),
		     0, "%s", err.msg);
	cr_assert_eq(site.allow_images.n, 3);
	cr_assert_str_eq(site.allow_images.v[0], "/images");
	cr_assert(yurt_siteconf_image_allowed(&site, "/images/a.sqfs"));
	cr_assert(yurt_siteconf_image_allowed(&site, "/images/sub/dir"));
	cr_assert(yurt_siteconf_image_allowed(&site, "/gpfs/apps/images/b.sqfs"));
	cr_assert(yurt_siteconf_image_allowed(&site, "/home/u/c.sqfs"));
	cr_assert_not(yurt_siteconf_image_allowed(&site, "/imagesfoo/a.sqfs"));
	cr_assert_not(yurt_siteconf_image_allowed(&site, "/gpfs/apps/a.sqfs"));
	cr_assert_not(yurt_siteconf_image_allowed(&site, "/tmp/a.sqfs"));
}

Test(siteconf, allow_images_root_allows_all)
{
	cr_assert_eq(parse("allow-images = //\n"), 0, "%s", err.msg);
	cr_assert_str_eq(site.allow_images.v[0], "/");
	cr_assert(yurt_siteconf_image_allowed(&site, "/tmp/a.sqfs"));
}

Test(siteconf, allow_images_invalid)
{
	cr_assert_eq(parse("allow-images = /a::/b\n"), -1);
	cr_assert_str_eq(err.msg, "site config t:1: allow-images: '' is not an absolute path");
	cr_assert_eq(parse("allow-images = images\n"), -1);
	cr_assert_str_eq(err.msg, "site config t:1: allow-images: 'images' is not an absolute path");
}

Test(siteconf, syntax_errors_name_the_line)
{
	cr_assert_eq(parse("# c\nhome = yes\nmax_tasks = 3\n"), -1);
	cr_assert_str_eq(err.msg, "site config t:3: unknown key 'max_tasks'");
	cr_assert_eq(parse("bind /scratch\n"), -1);
	cr_assert_str_eq(err.msg, "site config t:1: missing '=': bind /scratch");
	cr_assert_eq(parse("bind =   \n"), -1);
	cr_assert_str_eq(err.msg, "site config t:1: bind: empty value");
	cr_assert_eq(parse("= x\n"), -1);
	cr_assert_str_eq(err.msg, "site config t:1: unknown key ''");
}

Test(siteconf, comment_is_a_whole_line_only)
{
	/* Paths may contain '#': a '#' after a value is part of it. */
	cr_assert_eq(parse("  # home = no\nbind = /data#1\n"), 0, "%s", err.msg);
	cr_assert(site.home);
	cr_assert_str_eq(site.binds[0].bind.src, "/data#1");
}

Test(siteconf, load_missing_file_gives_defaults)
{
	site.home = false;
	cr_assert_eq(yurt_siteconf_load(&site, "/nonexistent/yurt.conf", &err), 0, "%s", err.msg);
	cr_assert(site.home);
	cr_assert_eq(site.nbinds, 0);
}

static char path[] = "/tmp/yurt-test-siteconf-XXXXXX";

static void write_conf(const char *text, mode_t mode)
{
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

Test(siteconf, load_file)
{
	write_conf("bind-if-exists = /scratch\nmax-tasks = 2", 0644);
	int rc = yurt_siteconf_load(&site, path, &err);
	unlink(path);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_eq(site.nbinds, 1);
	cr_assert_eq(site.max_tasks, 2);
}

Test(siteconf, load_error_names_the_path_and_frees)
{
	write_conf("bind = /scratch\nbogus = 1\n", 0644);
	int rc = yurt_siteconf_load(&site, path, &err);
	unlink(path);
	cr_assert_eq(rc, -1);
	char want[128];
	snprintf(want, sizeof want, "site config %s:2: unknown key 'bogus'", path);
	cr_assert_str_eq(err.msg, want);
	cr_assert_eq(site.nbinds, 0);
	cr_assert_null(site.binds);
}

Test(siteconf, load_unreadable_file_is_an_error)
{
	if (geteuid() == 0)
		cr_skip_test("root reads any file");
	write_conf("home = no\n", 0);
	int rc = yurt_siteconf_load(&site, path, &err);
	unlink(path);
	cr_assert_eq(rc, -1);
	cr_assert_eq(err.errnum, EACCES);
}

/* examples/yurt.conf, found from this file so the test runs from any directory
 * the build ran in. */
static FILE *open_example(void)
{
	char file[] = __FILE__, example[512];
	*strrchr(file, '/') = '\0';
	snprintf(example, sizeof example, "%s/../../examples/yurt.conf", file);
	FILE *f = fopen(example, "r");
	cr_assert(f, "%s: %s", example, strerror(errno));
	return f;
}

Test(siteconf, example_file_parses_to_defaults)
{
	FILE *f = open_example();
	int rc = yurt_siteconf_parse(&site, f, "example", &err);
	fclose(f);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_eq(site.nbinds, 0);
	cr_assert_eq(site.max_tasks, 0);
	cr_assert_eq(site.allow_images.n, 0);
	cr_assert(site.home);
}

/* The example's settings are its lines "#key = value" ('#' then a letter;
 * prose has "# "): uncommented, every one must parse and every key appear. */
Test(siteconf, example_settings_are_valid)
{
	FILE *f = open_example();
	char *text = NULL, *line = NULL;
	size_t size = 0, cap = 0;
	FILE *out = open_memstream(&text, &size);
	cr_assert(out);
	while (getline(&line, &cap, f) >= 0)
		fputs(line[0] == '#' && islower((unsigned char)line[1]) ? line + 1 : line, out);
	fclose(out);
	fclose(f);
	free(line);
	int rc = parse(text);
	cr_assert_eq(rc, 0, "%s", err.msg);
	bool plain = false, if_exists = false;
	for (size_t i = 0; i < site.nbinds; i++)
		*(site.binds[i].if_exists ? &if_exists : &plain) = true;
	cr_assert(plain && if_exists, "bind and bind-if-exists");
	cr_assert_neq(site.max_tasks, 0);
	cr_assert_neq(site.allow_images.n, 0);
	cr_assert_not(site.home, "the example shows the non-default home = no");
	free(text);
}
