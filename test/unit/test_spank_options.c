/* The Slurm plugin's options (slurm-plugin/options.c): every --container-*
 * option and its YURT_CONTAINER_* twin, the checks srun/sbatch make before
 * submission, the site's plugstack.conf arguments, and what the plugin
 * derives from them (instance name, workdir, the `yurt start` command). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "state.h"

static struct yurt_spank_opts o;
static struct yurt_spank_site site;
static struct yurt_err err;

static void setup(void)
{
	yurt_spank_opts_init(&o);
	yurt_spank_site_init(&site);
	memset(&err, 0, sizeof err);
}

static void teardown(void)
{
	yurt_spank_opts_free(&o);
	yurt_spank_site_free(&site);
}

TestSuite(spank_opts, .init = setup, .fini = teardown);
TestSuite(spank_site, .init = setup, .fini = teardown);
TestSuite(spank_derived, .init = setup, .fini = teardown);

/* The command line (from_env false) or the twin (true). */
static void set_ok(enum yurt_spank_opt opt, const char *arg, bool from_env)
{
	cr_assert_eq(yurt_spank_opt_set(&o, opt, arg, from_env, &err), 0, "--%s %s (%s): %s",
		     yurt_spank_opt_infos[opt].name, arg ? arg : "(flag)", from_env ? "twin" : "option",
		     err.msg);
}

static void set_bad(enum yurt_spank_opt opt, const char *arg, bool from_env, const char *why)
{
	cr_assert_eq(yurt_spank_opt_set(&o, opt, arg, from_env, &err), -1, "--%s %s (%s) accepted",
		     yurt_spank_opt_infos[opt].name, arg ? arg : "(flag)", from_env ? "twin" : "option");
	cr_expect(strstr(err.msg, why), "--%s %s: '%s' lacks '%s'", yurt_spank_opt_infos[opt].name,
		  arg ? arg : "(flag)", err.msg, why);
}

/* ------------------------------------------------------------------ options */

Test(spank_opts, names_and_twins)
{
	static const char *const want[][2] = {
		[YURT_OPT_IMAGE] = { "container-image", "YURT_CONTAINER_IMAGE" },
		[YURT_OPT_MOUNTS] = { "container-mounts", "YURT_CONTAINER_MOUNTS" },
		[YURT_OPT_WORKDIR] = { "container-workdir", "YURT_CONTAINER_WORKDIR" },
		[YURT_OPT_NAME] = { "container-name", "YURT_CONTAINER_NAME" },
		[YURT_OPT_ENV] = { "container-env", "YURT_CONTAINER_ENV" },
		[YURT_OPT_REMAP_ROOT] = { "container-remap-root", "YURT_CONTAINER_REMAP_ROOT" },
		[YURT_OPT_WRITABLE] = { "container-writable", "YURT_CONTAINER_WRITABLE" },
		[YURT_OPT_MOUNT_HOME] = { "container-mount-home", "YURT_CONTAINER_MOUNT_HOME" },
		[YURT_OPT_NO_MOUNT_HOME] = { "no-container-mount-home", "YURT_CONTAINER_NO_MOUNT_HOME" },
		[YURT_OPT_SLURM] = { "container-slurm", "YURT_CONTAINER_SLURM" },
	};
	for (int i = 0; i < YURT_OPT_COUNT; i++) {
		cr_expect_str_eq(yurt_spank_opt_infos[i].name, want[i][0]);
		cr_expect_str_eq(yurt_spank_opt_infos[i].env, want[i][1]);
		cr_expect(yurt_spank_opt_infos[i].usage && yurt_spank_opt_infos[i].usage[0]);
		/* The first five take a value, the rest are flags. */
		cr_expect_eq(yurt_spank_opt_infos[i].arginfo != NULL, i <= YURT_OPT_ENV, "--%s", want[i][0]);
	}
}

Test(spank_opts, defaults)
{
	cr_expect_null(o.image);
	cr_expect_null(o.workdir);
	cr_expect_null(o.name);
	cr_expect_eq(o.mounts.n, 0);
	cr_expect_eq(o.env.n, 0);
	cr_expect(!o.remap_root && !o.writable && !o.slurm);
	cr_expect_eq(o.mount_home, -1);
	cr_expect(!yurt_spank_opts_active(&o));
	cr_expect_eq(yurt_spank_opts_check(&o, &err), 0, "%s", err.msg);
}

Test(spank_opts, image)
{
	set_ok(YURT_OPT_IMAGE, "/img/a.sqfs", false);
	cr_expect_str_eq(o.image, "/img/a.sqfs");
	cr_expect(o.given[YURT_OPT_IMAGE]);
	cr_expect(yurt_spank_opts_active(&o));
	/* The command line wins over the twin, whatever order they come in. */
	set_ok(YURT_OPT_IMAGE, "/img/twin.sqfs", true);
	cr_expect_str_eq(o.image, "/img/a.sqfs");
	/* A later option replaces an earlier one. */
	set_ok(YURT_OPT_IMAGE, "rel.sqfs", false);
	cr_expect_str_eq(o.image, "rel.sqfs");
	set_bad(YURT_OPT_IMAGE, "", false, "--container-image needs a value");
	set_bad(YURT_OPT_IMAGE, NULL, false, "--container-image needs a value");
}

Test(spank_opts, image_twin_then_option)
{
	set_ok(YURT_OPT_IMAGE, "/img/twin.sqfs", true);
	cr_expect_str_eq(o.image, "/img/twin.sqfs");
	cr_expect(!o.given[YURT_OPT_IMAGE]);
	set_bad(YURT_OPT_IMAGE, "", true, "needs a value");
	set_ok(YURT_OPT_IMAGE, "/img/cli.sqfs", false);
	cr_expect_str_eq(o.image, "/img/cli.sqfs");
}

Test(spank_opts, mounts)
{
	set_ok(YURT_OPT_MOUNTS, "/data:/d:ro,/scratch,rel:/r,/x:/y:rw", false);
	cr_assert_eq(o.mounts.n, 4);
	cr_expect_str_eq(o.mounts.v[0], "/data:/d:ro");
	cr_expect_str_eq(o.mounts.v[1], "/scratch");
	cr_expect_str_eq(o.mounts.v[2], "rel:/r");   /* resolved on the node */
	cr_expect_str_eq(o.mounts.v[3], "/x:/y:rw");
	cr_expect_null(o.mounts.v[4]);
	/* Empty items are skipped; a new list replaces the old one. */
	set_ok(YURT_OPT_MOUNTS, ",/a,,/b,", false);
	cr_assert_eq(o.mounts.n, 2);
	cr_expect_str_eq(o.mounts.v[0], "/a");
	cr_expect_str_eq(o.mounts.v[1], "/b");
	set_ok(YURT_OPT_MOUNTS, "/twin", true);
	cr_assert_eq(o.mounts.n, 2, "the twin replaced the command line's");
}

Test(spank_opts, mounts_twin)
{
	set_ok(YURT_OPT_MOUNTS, "/twin:/t", true);
	cr_assert_eq(o.mounts.n, 1);
	cr_expect_str_eq(o.mounts.v[0], "/twin:/t");
	set_ok(YURT_OPT_MOUNTS, "/cli", false);
	cr_assert_eq(o.mounts.n, 1);
	cr_expect_str_eq(o.mounts.v[0], "/cli");
}

Test(spank_opts, malformed_mounts)
{
	set_bad(YURT_OPT_MOUNTS, "/tmp:/a/../b", false, "--container-mounts: bind '/tmp:/a/../b': '..' is not allowed in a destination");
	set_bad(YURT_OPT_MOUNTS, "/tmp:/..", false, "'..'");
	set_bad(YURT_OPT_MOUNTS, "../up", false, "'..'");
	set_bad(YURT_OPT_MOUNTS, "/tmp:rel", false, "--container-mounts: bind '/tmp:rel': destination must be an absolute path");
	set_bad(YURT_OPT_MOUNTS, "/x:/y:bad", false, "mode must be ro or rw, not 'bad'");
	set_bad(YURT_OPT_MOUNTS, "/x:/y:RO", false, "mode must be ro or rw");
	set_bad(YURT_OPT_MOUNTS, ":/y", false, "empty source");
	set_bad(YURT_OPT_MOUNTS, "/x:", false, "empty destination");
	/* One bad item spoils the list. */
	set_bad(YURT_OPT_MOUNTS, "/ok:/fine,/x:rel", false, "destination must be an absolute path");
	/* The twin is checked the same way. */
	yurt_spank_opts_free(&o);
	set_bad(YURT_OPT_MOUNTS, "/tmp:/a/../b", true, "--container-mounts: bind '/tmp:/a/../b': '..'");
}

Test(spank_opts, empty_lists)
{
	set_bad(YURT_OPT_MOUNTS, "", false, "--container-mounts needs a value");
	set_bad(YURT_OPT_MOUNTS, ",", false, "--container-mounts: empty list");
	yurt_spank_opts_free(&o);
	set_bad(YURT_OPT_MOUNTS, ",,,", true, "--container-mounts: empty list");
	set_bad(YURT_OPT_ENV, "", false, "--container-env needs a value");
	set_bad(YURT_OPT_ENV, ",", false, "--container-env: empty list");
}

Test(spank_opts, workdir)
{
	set_ok(YURT_OPT_WORKDIR, "/usr/share", false);
	cr_expect_str_eq(o.workdir, "/usr/share");
	set_ok(YURT_OPT_WORKDIR, "/twin", true);
	cr_expect_str_eq(o.workdir, "/usr/share");
	set_bad(YURT_OPT_WORKDIR, "rel/dir", false, "--container-workdir rel/dir: must be an absolute path");
	set_bad(YURT_OPT_WORKDIR, "", false, "needs a value");
}

Test(spank_opts, workdir_twin)
{
	set_ok(YURT_OPT_WORKDIR, "/twin", true);
	cr_expect_str_eq(o.workdir, "/twin");
	set_bad(YURT_OPT_WORKDIR, "twin", true, "must be an absolute path");
}

Test(spank_opts, name)
{
	set_ok(YURT_OPT_NAME, "keep-1.a_b+c", false);
	cr_expect_str_eq(o.name, "keep-1.a_b+c");
	cr_expect(yurt_spank_opts_active(&o), "a name alone joins the job's container");
	set_ok(YURT_OPT_NAME, "other", true);
	cr_expect_str_eq(o.name, "keep-1.a_b+c");
}

Test(spank_opts, name_twin)
{
	set_ok(YURT_OPT_NAME, "fromenv", true);
	cr_expect_str_eq(o.name, "fromenv");
	set_bad(YURT_OPT_NAME, "a/b", true, "only letters, digits");
}

Test(spank_opts, name_too_long_or_invalid)
{
	/* "slurm-JOB-" comes in front: 42 characters fit YURT_NAME_MAX (64)
	 * with the longest job id. */
	char name[64];
	memset(name, 'n', 42);
	name[42] = '\0';
	set_ok(YURT_OPT_NAME, name, false);
	cr_expect_str_eq(o.name, name);
	name[42] = 'n';
	name[43] = '\0';
	set_bad(YURT_OPT_NAME, name, false, "longer than 42 characters");
	set_bad(YURT_OPT_NAME, "a/b", false, "--container-name 'a/b': only letters, digits and . _ + - are allowed");
	set_bad(YURT_OPT_NAME, "a b", false, "only letters");
	set_bad(YURT_OPT_NAME, "n\xc3\xa9", false, "only letters");
	set_bad(YURT_OPT_NAME, ".hidden", false, "must not start with '.'");
	set_bad(YURT_OPT_NAME, "", false, "--container-name needs a value");
	name[42] = '\0';
	cr_expect_str_eq(o.name, name, "a refused name changed it");
}

Test(spank_opts, env_names)
{
	set_ok(YURT_OPT_ENV, "PATH,LD_LIBRARY_PATH,_x1", false);
	cr_assert_eq(o.env.n, 3);
	cr_expect_str_eq(o.env.v[0], "PATH");
	cr_expect_str_eq(o.env.v[1], "LD_LIBRARY_PATH");
	cr_expect_str_eq(o.env.v[2], "_x1");
	set_ok(YURT_OPT_ENV, "HOME", true);
	cr_expect_eq(o.env.n, 3, "the command line wins over the twin");
}

Test(spank_opts, bad_env_names)
{
	set_bad(YURT_OPT_ENV, "1ABC", false, "--container-env: invalid variable name '1ABC'");
	set_bad(YURT_OPT_ENV, "A=B", false, "invalid variable name 'A=B'");
	set_bad(YURT_OPT_ENV, "A B", false, "invalid variable name 'A B'");
	set_bad(YURT_OPT_ENV, "A\tB", false, "invalid variable name");
	set_bad(YURT_OPT_ENV, "OK,9NOT", false, "invalid variable name '9NOT'");
	yurt_spank_opts_free(&o);
	set_bad(YURT_OPT_ENV, "X=1", true, "--container-env: invalid variable name 'X=1'");
}

/* Each flag: the option sets it; its twin takes 1/0, yes/no, true/false
 * (any case, empty meaning set) and refuses anything else. */
static bool *flag_field(enum yurt_spank_opt opt)
{
	switch (opt) {
	case YURT_OPT_REMAP_ROOT: return &o.remap_root;
	case YURT_OPT_WRITABLE: return &o.writable;
	case YURT_OPT_SLURM: return &o.slurm;
	default: return NULL;
	}
}

static void check_flag(enum yurt_spank_opt opt)
{
	static const char *const on[] = { "1", "yes", "YES", "Yes", "true", "TRUE", "True", "" };
	static const char *const off[] = { "0", "no", "NO", "false", "False" };
	static const char *const bad[] = { "2", "on", "off", "y", "n", "01", " 1", "1 ", "enable" };
	const char *env = yurt_spank_opt_infos[opt].env;
	bool *field = flag_field(opt);
	char why[128];

	for (size_t i = 0; i < sizeof on / sizeof *on; i++) {
		*field = false;
		set_ok(opt, on[i], true);
		cr_expect(*field, "%s=%s does not set it", env, on[i]);
	}
	set_ok(opt, NULL, true);
	cr_expect(*field, "%s without a value does not set it", env);
	for (size_t i = 0; i < sizeof off / sizeof *off; i++) {
		*field = true;
		set_ok(opt, off[i], true);
		cr_expect(!*field, "%s=%s does not clear it", env, off[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(why, sizeof why, "%s=%s: expected 1 or 0", env, bad[i]);
		set_bad(opt, bad[i], true, why);
	}
	cr_expect(!o.given[opt], "a twin is not the command line");
	/* The option (flags get no argument from Slurm), then the twin: the
	 * command line wins, even over a twin it would refuse. */
	*field = false;
	set_ok(opt, NULL, false);
	cr_expect(*field);
	cr_expect(o.given[opt]);
	set_ok(opt, "0", true);
	cr_expect(*field, "%s=0 overrode the command line", env);
	set_ok(opt, "bogus", true);
	cr_expect(*field);
}

Test(spank_opts, flag_remap_root) { check_flag(YURT_OPT_REMAP_ROOT); }
Test(spank_opts, flag_writable) { check_flag(YURT_OPT_WRITABLE); }
Test(spank_opts, flag_slurm) { check_flag(YURT_OPT_SLURM); }

Test(spank_opts, mount_home_options)
{
	set_ok(YURT_OPT_MOUNT_HOME, NULL, false);
	cr_expect_eq(o.mount_home, 1);
	set_ok(YURT_OPT_MOUNT_HOME, NULL, false);
	cr_expect_eq(o.mount_home, 1, "the same option twice is no contradiction");
	set_bad(YURT_OPT_NO_MOUNT_HOME, NULL, false,
		"--container-mount-home and --no-container-mount-home contradict each other");
}

Test(spank_opts, mount_home_contradiction_other_order)
{
	set_ok(YURT_OPT_NO_MOUNT_HOME, NULL, false);
	cr_expect_eq(o.mount_home, 0);
	set_bad(YURT_OPT_MOUNT_HOME, NULL, false, "contradict each other");
}

Test(spank_opts, mount_home_twins)
{
	set_ok(YURT_OPT_MOUNT_HOME, "0", true);
	cr_expect_eq(o.mount_home, 0);
	set_ok(YURT_OPT_MOUNT_HOME, "yes", true);
	cr_expect_eq(o.mount_home, 1);
	set_ok(YURT_OPT_NO_MOUNT_HOME, "1", true);
	cr_expect_eq(o.mount_home, 0);
	set_ok(YURT_OPT_NO_MOUNT_HOME, "false", true);
	cr_expect_eq(o.mount_home, 1);
	set_bad(YURT_OPT_NO_MOUNT_HOME, "maybe", true, "YURT_CONTAINER_NO_MOUNT_HOME=maybe: expected 1 or 0");
	set_bad(YURT_OPT_MOUNT_HOME, "2", true, "YURT_CONTAINER_MOUNT_HOME=2: expected 1 or 0");
	cr_expect(!o.given[YURT_OPT_MOUNT_HOME] && !o.given[YURT_OPT_NO_MOUNT_HOME]);
}

Test(spank_opts, mount_home_option_wins_over_either_twin)
{
	set_ok(YURT_OPT_MOUNT_HOME, NULL, false);
	set_ok(YURT_OPT_NO_MOUNT_HOME, "1", true);
	cr_expect_eq(o.mount_home, 1, "the other option's twin overrode the command line");
	set_ok(YURT_OPT_MOUNT_HOME, "0", true);
	cr_expect_eq(o.mount_home, 1, "the option's own twin overrode the command line");
}

Test(spank_opts, mount_home_option_after_twin)
{
	set_ok(YURT_OPT_NO_MOUNT_HOME, "1", true);
	cr_expect_eq(o.mount_home, 0);
	set_ok(YURT_OPT_MOUNT_HOME, NULL, false);
	cr_expect_eq(o.mount_home, 1, "a twin is no contradiction for the command line");
}

/* A fake environment for yurt_spank_opts_from_env: NAME=VALUE pairs. */
static const char *fake_getenv(const char *name, void *data)
{
	for (const char *const *kv = data; kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

Test(spank_opts, from_env_every_twin)
{
	static const char *const env[] = {
		"YURT_CONTAINER_IMAGE", "/img.sqfs",
		"YURT_CONTAINER_MOUNTS", "/a:/b:ro,/c",
		"YURT_CONTAINER_WORKDIR", "/w",
		"YURT_CONTAINER_NAME", "keep",
		"YURT_CONTAINER_ENV", "A,B",
		"YURT_CONTAINER_REMAP_ROOT", "1",
		"YURT_CONTAINER_WRITABLE", "true",
		"YURT_CONTAINER_NO_MOUNT_HOME", "yes",
		"YURT_CONTAINER_SLURM", "1",
		"UNRELATED", "x",
		NULL, NULL,
	};
	cr_assert_eq(yurt_spank_opts_from_env(&o, fake_getenv, (void *)env, &err), 0, "%s", err.msg);
	cr_expect_str_eq(o.image, "/img.sqfs");
	cr_assert_eq(o.mounts.n, 2);
	cr_expect_str_eq(o.mounts.v[0], "/a:/b:ro");
	cr_expect_str_eq(o.workdir, "/w");
	cr_expect_str_eq(o.name, "keep");
	cr_assert_eq(o.env.n, 2);
	cr_expect(o.remap_root && o.writable && o.slurm);
	cr_expect_eq(o.mount_home, 0);
	for (int i = 0; i < YURT_OPT_COUNT; i++)
		cr_expect(!o.given[i], "--%s marked as given", yurt_spank_opt_infos[i].name);
	cr_expect_eq(yurt_spank_opts_check(&o, &err), 0, "%s", err.msg);
}

Test(spank_opts, from_env_skips_what_the_command_line_gave)
{
	static const char *const env[] = {
		"YURT_CONTAINER_IMAGE", "/twin.sqfs",
		"YURT_CONTAINER_MOUNTS", "/twin",
		"YURT_CONTAINER_WRITABLE", "0",
		"YURT_CONTAINER_MOUNT_HOME", "0",
		NULL, NULL,
	};
	set_ok(YURT_OPT_IMAGE, "/cli.sqfs", false);
	set_ok(YURT_OPT_WRITABLE, NULL, false);
	set_ok(YURT_OPT_NO_MOUNT_HOME, NULL, false);
	cr_assert_eq(yurt_spank_opts_from_env(&o, fake_getenv, (void *)env, &err), 0, "%s", err.msg);
	cr_expect_str_eq(o.image, "/cli.sqfs");
	cr_assert_eq(o.mounts.n, 1, "a twin of an option not given applies");
	cr_expect_str_eq(o.mounts.v[0], "/twin");
	cr_expect(o.writable);
	cr_expect_eq(o.mount_home, 0);
}

Test(spank_opts, from_env_error)
{
	static const char *const env[] = {
		"YURT_CONTAINER_IMAGE", "/img.sqfs",
		"YURT_CONTAINER_WRITABLE", "perhaps",
		NULL, NULL,
	};
	cr_assert_eq(yurt_spank_opts_from_env(&o, fake_getenv, (void *)env, &err), -1);
	cr_expect_str_eq(err.msg, "YURT_CONTAINER_WRITABLE=perhaps: expected 1 or 0");
}

Test(spank_opts, from_env_nothing)
{
	static const char *const env[] = { NULL, NULL };
	cr_assert_eq(yurt_spank_opts_from_env(&o, fake_getenv, (void *)env, &err), 0);
	cr_expect(!yurt_spank_opts_active(&o));
}

/* Every option but the image and the name, on the command line without a
 * container: refused before submission, naming the option. */
Test(spank_opts, options_without_image_refused)
{
	static const struct { enum yurt_spank_opt opt; const char *arg; } cases[] = {
		{ YURT_OPT_MOUNTS, "/a" }, { YURT_OPT_WORKDIR, "/w" }, { YURT_OPT_ENV, "A" },
		{ YURT_OPT_REMAP_ROOT, NULL }, { YURT_OPT_WRITABLE, NULL },
		{ YURT_OPT_MOUNT_HOME, NULL }, { YURT_OPT_NO_MOUNT_HOME, NULL }, { YURT_OPT_SLURM, NULL },
	};
	char want[128];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		yurt_spank_opts_free(&o);
		set_ok(cases[i].opt, cases[i].arg, false);
		cr_expect_eq(yurt_spank_opts_check(&o, &err), -1, "--%s alone accepted",
			     yurt_spank_opt_infos[cases[i].opt].name);
		snprintf(want, sizeof want, "--%s needs --container-image (or --container-name)",
			 yurt_spank_opt_infos[cases[i].opt].name);
		cr_expect_str_eq(err.msg, want);
		/* With an image, or a name to join, they are fine. */
		set_ok(YURT_OPT_IMAGE, "/img", false);
		cr_expect_eq(yurt_spank_opts_check(&o, &err), 0, "%s", err.msg);
		free(o.image);
		o.image = NULL;
		set_ok(YURT_OPT_NAME, "keep", false);
		cr_expect_eq(yurt_spank_opts_check(&o, &err), 0, "%s", err.msg);
	}
}

/* Twins are defaults for the steps that have a container: exported, they
 * must not fail the job's plain steps. */
Test(spank_opts, twins_without_image_ignored)
{
	static const char *const env[] = {
		"YURT_CONTAINER_MOUNTS", "/a",
		"YURT_CONTAINER_WORKDIR", "/w",
		"YURT_CONTAINER_ENV", "A",
		"YURT_CONTAINER_REMAP_ROOT", "1",
		"YURT_CONTAINER_WRITABLE", "1",
		"YURT_CONTAINER_MOUNT_HOME", "1",
		"YURT_CONTAINER_SLURM", "1",
		NULL, NULL,
	};
	cr_assert_eq(yurt_spank_opts_from_env(&o, fake_getenv, (void *)env, &err), 0, "%s", err.msg);
	cr_expect(!yurt_spank_opts_active(&o));
	cr_expect_eq(yurt_spank_opts_check(&o, &err), 0, "%s", err.msg);
}

Test(spank_opts, free_resets)
{
	set_ok(YURT_OPT_IMAGE, "/img", false);
	set_ok(YURT_OPT_MOUNTS, "/a,/b", false);
	set_ok(YURT_OPT_ENV, "A", false);
	set_ok(YURT_OPT_WORKDIR, "/w", false);
	set_ok(YURT_OPT_NAME, "n", false);
	set_ok(YURT_OPT_NO_MOUNT_HOME, NULL, false);
	yurt_spank_opts_free(&o);
	cr_expect_null(o.image);
	cr_expect_eq(o.mounts.n, 0);
	cr_expect_eq(o.mount_home, -1);
	cr_expect(!o.given[YURT_OPT_IMAGE]);
	yurt_spank_opts_free(&o);   /* twice is harmless */
}

/* --------------------------------------------------------- plugstack.conf */

static int site_parse(int argc, const char **argv)
{
	return yurt_spank_site_parse(&site, argc, (char **)argv, &err);
}

static void site_bad(const char *arg, const char *why)
{
	const char *argv[] = { arg };
	yurt_spank_site_free(&site);
	cr_assert_eq(site_parse(1, argv), -1, "%s accepted", arg);
	cr_expect(strstr(err.msg, why), "%s: '%s' lacks '%s'", arg, err.msg, why);
}

Test(spank_site, defaults)
{
	cr_assert_eq(site_parse(0, NULL), 0, "%s", err.msg);
	cr_expect_null(site.yurt);
	cr_expect_eq(site.mounts.n, 0);
	cr_expect_eq(site.allow_images.n, 0);
	cr_expect(site.mount_home);
	cr_expect_str_eq(site.runtime_path, "/run/yurt");
	cr_expect_null(site.plugin);
}

Test(spank_site, every_key)
{
	const char *argv[] = {
		"yurt=/opt/yurt/bin/yurt", "mounts=/scratch,/apps:/apps:ro",
		"allow_images=/apps/images:/scratch/", "mount_home=0", "runtime_path=/run/yurt-%n",
	};
	cr_assert_eq(site_parse(5, argv), 0, "%s", err.msg);
	cr_expect_str_eq(site.yurt, "/opt/yurt/bin/yurt");
	cr_assert_eq(site.mounts.n, 2);
	cr_expect_str_eq(site.mounts.v[0], "/scratch");
	cr_expect_str_eq(site.mounts.v[1], "/apps:/apps:ro");
	cr_assert_eq(site.allow_images.n, 2);
	cr_expect_str_eq(site.allow_images.v[0], "/apps/images");
	cr_expect_str_eq(site.allow_images.v[1], "/scratch/");
	cr_expect(!site.mount_home);
	cr_expect_str_eq(site.runtime_path, "/run/yurt-%n");
}

Test(spank_site, later_keys_win)
{
	const char *argv[] = { "yurt=/a", "yurt=/b", "mounts=/x", "mounts=/y,/z", "mount_home=no", "mount_home=yes" };
	cr_assert_eq(site_parse(6, argv), 0, "%s", err.msg);
	cr_expect_str_eq(site.yurt, "/b");
	cr_assert_eq(site.mounts.n, 2);
	cr_expect_str_eq(site.mounts.v[0], "/y");
	cr_expect(site.mount_home);
}

Test(spank_site, mount_home_values)
{
	const char *on[] = { "mount_home=1", "mount_home=true", "mount_home=YES", "mount_home=" };
	const char *off[] = { "mount_home=0", "mount_home=false", "mount_home=No" };
	for (size_t i = 0; i < sizeof on / sizeof *on; i++) {
		yurt_spank_site_free(&site);
		site.mount_home = false;
		cr_expect_eq(site_parse(1, &on[i]), 0, "%s: %s", on[i], err.msg);
		cr_expect(site.mount_home, "%s", on[i]);
	}
	for (size_t i = 0; i < sizeof off / sizeof *off; i++) {
		yurt_spank_site_free(&site);
		cr_expect_eq(site_parse(1, &off[i]), 0, "%s: %s", off[i], err.msg);
		cr_expect(!site.mount_home, "%s", off[i]);
	}
}

Test(spank_site, errors)
{
	site_bad("yurt=bin/yurt", "yurt=bin/yurt: must be an absolute path");
	site_bad("runtime_path=run/yurt", "runtime_path=run/yurt: must be an absolute path");
	site_bad("allow_images=/ok:rel", "allow_images=rel: must be an absolute path");
	site_bad("allow_images=", "plugstack.conf: allow_images is empty (leave it out to allow every image)");
	site_bad("allow_images=::", "allow_images is empty");
	site_bad("mounts=/x:rel", "plugstack.conf: mounts: bind '/x:rel': destination must be an absolute path");
	site_bad("mounts=:/y", "plugstack.conf: mounts: bind ':/y': empty source");
	site_bad("mounts=/x:/a/../b", "'..'");
	site_bad("mounts=,", "plugstack.conf: mounts: empty list");
	site_bad("mount_home=maybe", "plugstack.conf: mount_home=maybe: expected 1 or 0");
	site_bad("colour=blue", "plugstack.conf argument 'colour=blue': unknown key");
	site_bad("yurtx=/a", "unknown key");
	site_bad("yur=/a", "unknown key");
	site_bad("allow_images", "plugstack.conf argument 'allow_images': expected KEY=VALUE");
}

Test(spank_site, reparse_after_free)
{
	const char *first[] = { "yurt=/a", "allow_images=/x" };
	const char *second[] = { "runtime_path=/r" };
	cr_assert_eq(site_parse(2, first), 0);
	yurt_spank_site_free(&site);
	cr_assert_eq(site_parse(1, second), 0);
	cr_expect_null(site.yurt);
	cr_expect_eq(site.allow_images.n, 0);
	cr_expect_str_eq(site.runtime_path, "/r");
}

Test(spank_site, image_allowed)
{
	cr_expect(yurt_spank_image_allowed(&site, "/anywhere/x.sqfs"), "no prefix: everything allowed");
	const char *argv[] = { "allow_images=/a:/apps/images/" };
	cr_assert_eq(site_parse(1, argv), 0, "%s", err.msg);
	cr_expect(yurt_spank_image_allowed(&site, "/a"));
	cr_expect(yurt_spank_image_allowed(&site, "/a/b"));
	cr_expect(yurt_spank_image_allowed(&site, "/a/b/c.sqfs"));
	cr_expect(!yurt_spank_image_allowed(&site, "/ab"));
	cr_expect(!yurt_spank_image_allowed(&site, "/ab/c"));
	cr_expect(!yurt_spank_image_allowed(&site, "/"));
	cr_expect(!yurt_spank_image_allowed(&site, "/b/a"));
	/* A prefix written with a trailing slash. */
	cr_expect(yurt_spank_image_allowed(&site, "/apps/images/x.sqfs"));
	cr_expect(yurt_spank_image_allowed(&site, "/apps/images"));
	cr_expect(!yurt_spank_image_allowed(&site, "/apps/imagesX/x.sqfs"));
	cr_expect(!yurt_spank_image_allowed(&site, "/apps/x.sqfs"));
}

Test(spank_site, image_allowed_root)
{
	const char *argv[] = { "allow_images=/" };
	cr_assert_eq(site_parse(1, argv), 0, "%s", err.msg);
	cr_expect(yurt_spank_image_allowed(&site, "/"));
	cr_expect(yurt_spank_image_allowed(&site, "/any/thing"));
}

/* ------------------------------------------------------------ derivations */

Test(spank_derived, instance_name)
{
	char buf[YURT_NAME_MAX + 1];
	cr_assert_eq(yurt_spank_instance_name(buf, sizeof buf, &o, 42, "0", &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "slurm-42.0");
	cr_assert_eq(yurt_spank_instance_name(buf, sizeof buf, &o, 42, "batch", &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "slurm-42.batch");
	cr_assert_eq(yurt_spank_instance_name(buf, sizeof buf, &o, 7, "interactive", &err), 0);
	cr_expect_str_eq(buf, "slurm-7.interactive");
	/* A named container is the job's, whatever the step. */
	set_ok(YURT_OPT_NAME, "keep", false);
	cr_assert_eq(yurt_spank_instance_name(buf, sizeof buf, &o, 42, "3", &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "slurm-42-keep");
}

Test(spank_derived, instance_name_longest)
{
	char buf[YURT_NAME_MAX + 1], name[43];
	memset(name, 'k', 42);
	name[42] = '\0';
	set_ok(YURT_OPT_NAME, name, false);
	cr_assert_eq(yurt_spank_instance_name(buf, sizeof buf, &o, 4294967295u, "0", &err), 0, "%s", err.msg);
	cr_expect_eq(strlen(buf), 17 + 42);
	cr_expect_eq(strncmp(buf, "slurm-4294967295-kk", 19), 0, "%s", buf);
	/* A name `yurt start --name` takes. */
	cr_expect_eq(yurt_state_name_check("--name", buf, &err), 0, "%s", err.msg);
}

Test(spank_derived, instance_name_errors)
{
	char small[8], buf[YURT_NAME_MAX + 1];
	cr_expect_eq(yurt_spank_instance_name(small, sizeof small, &o, 42, "0", &err), -1);
	cr_expect_str_eq(err.msg, "container name for job 42 too long");
	cr_expect_eq(yurt_spank_instance_name(buf, sizeof buf, &o, 42, "a/b", &err), -1);
	cr_expect(strstr(err.msg, "only letters"), "%s", err.msg);
}

static void workdir_is(const char *cwd, const char *home, const char *want)
{
	char *got = yurt_spank_default_workdir(&o, &site, cwd, home);
	if (want) {
		cr_expect(got && !strcmp(got, want), "cwd %s: got %s, want %s", cwd, got ? got : "NULL", want);
	} else {
		cr_expect_null(got, "cwd %s: got %s, want the image's", cwd, got);
	}
	free(got);
}

Test(spank_derived, default_workdir_under_a_mount)
{
	set_ok(YURT_OPT_MOUNTS, "/data:/d,/data/sub:/s:ro,/srv", false);
	workdir_is("/data", "/home/u", "/d");
	workdir_is("/data/x/y", "/home/u", "/d/x/y");
	/* The later mount covers the earlier. */
	workdir_is("/data/sub", "/home/u", "/s");
	workdir_is("/data/sub/z", "/home/u", "/s/z");
	workdir_is("/srv/a", "/home/u", "/srv/a");
	/* Prefixes are whole components. */
	workdir_is("/database", "/home/u", NULL);
	workdir_is("/srvx", "/home/u", NULL);
}

Test(spank_derived, default_workdir_mount_at_root)
{
	set_ok(YURT_OPT_MOUNTS, "/host/tree:/", false);
	workdir_is("/host/tree", NULL, "/");
	workdir_is("/host/tree/a", NULL, "/a");
}

Test(spank_derived, default_workdir_site_mounts)
{
	const char *argv[] = { "mounts=/scratch,/proj:/p" };
	cr_assert_eq(site_parse(1, argv), 0, "%s", err.msg);
	workdir_is("/scratch/u/run", "/home/u", "/scratch/u/run");
	workdir_is("/proj/a", "/home/u", "/p/a");
	/* The user's mounts come later: they win. */
	set_ok(YURT_OPT_MOUNTS, "/scratch/u:/work", false);
	workdir_is("/scratch/u/run", "/home/u", "/work/run");
	workdir_is("/scratch/other", "/home/u", "/scratch/other");
}

Test(spank_derived, default_workdir_home)
{
	workdir_is("/home/u", "/home/u", "/home/u");
	workdir_is("/home/u/job", "/home/u", "/home/u/job");
	workdir_is("/home/uu/job", "/home/u", NULL);
	workdir_is("/opt/job", "/home/u", NULL);
	workdir_is("/home/u/job", NULL, NULL);
	workdir_is("/home/u/job", "", NULL);
	/* Not when the home is not mounted: by the user or the site. */
	set_ok(YURT_OPT_NO_MOUNT_HOME, NULL, false);
	workdir_is("/home/u/job", "/home/u", NULL);
	yurt_spank_opts_free(&o);
	site.mount_home = false;
	workdir_is("/home/u/job", "/home/u", NULL);
	set_ok(YURT_OPT_MOUNT_HOME, NULL, false);
	workdir_is("/home/u/job", "/home/u", "/home/u/job");
}

Test(spank_derived, default_workdir_mount_before_home)
{
	set_ok(YURT_OPT_MOUNTS, "/home/u/data:/data", false);
	workdir_is("/home/u/data/x", "/home/u", "/data/x");
	workdir_is("/home/u/other", "/home/u", "/home/u/other");
}

/* ARGV is exactly the NULL-terminated WANT. */
static void argv_is(const struct yurt_strv *argv, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	for (size_t i = 0; i < n && i < argv->n; i++)
		cr_expect_str_eq(argv->v[i], want[i], "argv[%zu]", i);
	cr_assert_eq(argv->n, n, "argc %zu, want %zu", argv->n, n);
	cr_expect_null(argv->v[n], "not NULL-terminated");
}

Test(spank_derived, start_argv_minimal)
{
	struct yurt_strv argv = { 0 };
	set_ok(YURT_OPT_IMAGE, "/img/a.sqfs", false);
	cr_assert_eq(yurt_spank_start_argv(&argv, &o, &site, "slurm-1.0", NULL, NULL, &err), 0, "%s", err.msg);
	argv_is(&argv, (const char *[]){ "yurt", "start", "-q", "--name", "slurm-1.0", "--no-cwd",
					 "--clean-env", "--", "/img/a.sqfs", NULL });
	yurt_strv_free(&argv);
}

Test(spank_derived, start_argv_everything)
{
	struct yurt_strv argv = { 0 };
	const char *site_argv[] = { "yurt=/opt/bin/yurt", "mounts=/scratch,/apps:/apps:ro" };
	cr_assert_eq(site_parse(2, site_argv), 0, "%s", err.msg);
	site.plugin = strdup("/usr/lib/slurm/yurt.so");
	set_ok(YURT_OPT_IMAGE, "/img/a.sqfs", false);
	set_ok(YURT_OPT_MOUNTS, "/data:/d:ro,/w", false);
	set_ok(YURT_OPT_NO_MOUNT_HOME, NULL, false);
	set_ok(YURT_OPT_REMAP_ROOT, NULL, false);
	set_ok(YURT_OPT_WRITABLE, NULL, false);
	set_ok(YURT_OPT_SLURM, NULL, false);
	set_ok(YURT_OPT_ENV, "A", false);   /* not yurt start's business */
	cr_assert_eq(yurt_spank_start_argv(&argv, &o, &site, "slurm-9-keep", "/w/x",
					   "/var/spool/slurmd/job00009/slurm_script", &err), 0, "%s", err.msg);
	argv_is(&argv, (const char *[]){
		"/opt/bin/yurt", "start", "-q", "--name", "slurm-9-keep", "--no-cwd", "--clean-env",
		"-b", "/scratch", "-b", "/apps:/apps:ro", "-b", "/data:/d:ro", "-b", "/w",
		"-b", "/usr/lib/slurm/yurt.so:/usr/lib/slurm/yurt.so:ro",
		"-b", "/var/spool/slurmd/job00009/slurm_script:/var/spool/slurmd/job00009/slurm_script:ro",
		"-w", "/w/x", "--no-home", "--root", "--writable-tmpfs", "--slurm", "--", "/img/a.sqfs", NULL });
	yurt_strv_free(&argv);
}

Test(spank_derived, start_argv_home)
{
	struct yurt_strv argv = { 0 };
	set_ok(YURT_OPT_IMAGE, "i", false);
	site.mount_home = false;
	cr_assert_eq(yurt_spank_start_argv(&argv, &o, &site, "n", NULL, NULL, &err), 0, "%s", err.msg);
	argv_is(&argv, (const char *[]){ "yurt", "start", "-q", "--name", "n", "--no-cwd", "--clean-env",
					 "--no-home", "--", "i", NULL });
	yurt_strv_free(&argv);
	/* The user's --container-mount-home wins over the site's default. */
	set_ok(YURT_OPT_MOUNT_HOME, NULL, false);
	cr_assert_eq(yurt_spank_start_argv(&argv, &o, &site, "n", NULL, NULL, &err), 0, "%s", err.msg);
	argv_is(&argv, (const char *[]){ "yurt", "start", "-q", "--name", "n", "--no-cwd", "--clean-env",
					 "--", "i", NULL });
	yurt_strv_free(&argv);
}

/* The plugin's own file only with --container-slurm, and only paths a bind
 * spec can carry. */
Test(spank_derived, start_argv_plugin_bind)
{
	struct yurt_strv argv = { 0 };
	set_ok(YURT_OPT_IMAGE, "/i", false);
	site.plugin = strdup("/p/yurt.so");
	cr_assert_eq(yurt_spank_start_argv(&argv, &o, &site, "n", NULL, NULL, &err), 0, "%s", err.msg);
	argv_is(&argv, (const char *[]){ "yurt", "start", "-q", "--name", "n", "--no-cwd", "--clean-env",
					 "--", "/i", NULL });
	yurt_strv_free(&argv);
	set_ok(YURT_OPT_SLURM, NULL, false);
	free(site.plugin);
	site.plugin = strdup("/odd:dir/yurt.so");
	cr_assert_eq(yurt_spank_start_argv(&argv, &o, &site, "n", NULL, "rel/script", &err), 0, "%s", err.msg);
	argv_is(&argv, (const char *[]){ "yurt", "start", "-q", "--name", "n", "--no-cwd", "--clean-env",
					 "--slurm", "--", "/i", NULL });
	yurt_strv_free(&argv);
}

Test(spank_derived, env_from_image)
{
	cr_expect(yurt_spank_env_from_image(&o, "PATH"));
	cr_expect(yurt_spank_env_from_image(&o, "LD_LIBRARY_PATH"));
	cr_expect(yurt_spank_env_from_image(&o, "SLURM_JOB_ID"), "the image may set anything else");
	/* The variables the plugin sets for the container's user. */
	cr_expect(!yurt_spank_env_from_image(&o, "XDG_RUNTIME_DIR"));
	cr_expect(!yurt_spank_env_from_image(&o, "HOME"));
	cr_expect(!yurt_spank_env_from_image(&o, "USER"));
	cr_expect(!yurt_spank_env_from_image(&o, "SLURM_CONF"));
	/* --container-env names keep the job's value. */
	set_ok(YURT_OPT_ENV, "PATH,MY_VAR", false);
	cr_expect(!yurt_spank_env_from_image(&o, "PATH"));
	cr_expect(!yurt_spank_env_from_image(&o, "MY_VAR"));
	cr_expect(yurt_spank_env_from_image(&o, "MY_VAR2"));
	cr_expect(yurt_spank_env_from_image(&o, "MY"));
	cr_expect(yurt_spank_env_from_image(&o, "LD_LIBRARY_PATH"));
}
