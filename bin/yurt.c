/* yurt: the command line.  It parses arguments into a request, hands it to
 * libyurt and turns the outcome into an exit status. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "container.h"
#include "cpulist.h"
#include "instance.h"
#include "log.h"
#include "request.h"
#include "run.h"
#include "topo.h"

extern char **environ;

static const char usage_main[] =
	"Usage: yurt COMMAND [OPTIONS] ...\n"
	"Runs commands in containers, unprivileged.\n"
	"\n"
	"Commands:\n"
	"  run [OPTIONS] IMAGE [--] CMD [ARG...]   run CMD in a container of IMAGE\n"
	"  start --name NAME [OPTIONS] IMAGE       start a container that stays, an instance\n"
	"  exec [OPTIONS] NAME [--] CMD [ARG...]   run CMD in instance NAME\n"
	"  stop NAME...                            end instances and all they run\n"
	"  list                                    show your instances\n"
	"  topology                                summarise this node's CPUs for binding\n"
	"  help [COMMAND]                          show help\n"
	"  version                                 show the version\n"
	"\n"
	"IMAGE is a SquashFS file or a directory holding a root filesystem.\n"
	"See 'yurt help COMMAND' and yurt(1).\n";

static const char usage_run[] =
	"Usage: yurt run [OPTIONS] IMAGE [--] CMD [ARG...]\n"
	"Runs CMD in a container of IMAGE (a SquashFS file or a root directory).\n"
	"\n"
	"Files:\n"
	"  -b, --bind SRC[:DST[:ro|rw]]  bind host SRC at DST (default: SRC), read-write\n"
	"                                unless ro; repeatable\n"
	"  -w, --workdir DIR             start in DIR (default: the current directory)\n"
	"      --no-cwd                  do not bind the current directory; start in /\n"
	"      --no-home                 do not bind $HOME\n"
	"      --private-tmp             a fresh, empty /tmp instead of the host's\n"
	"      --writable-tmpfs          let writes to the image succeed, in memory;\n"
	"                                they vanish at exit\n"
	"Environment:\n"
	"  -e, --env NAME=VALUE          set NAME (NAME alone: the host's value); repeatable\n"
	"      --env-file FILE           set NAME=VALUE lines of FILE; repeatable\n"
	"      --clean-env               start from the image's environment and the\n"
	"                                essentials (HOME USER TERM PATH SLURM_* PMI_*\n"
	"                                PMIX_* OMPI_* HWLOC_*), not the host's\n"
	"Tasks:\n"
	"  -n, --ntasks N                start N copies of CMD in the one container;\n"
	"                                each gets YURT_TASK_ID, YURT_LOCAL_ID, YURT_NTASKS\n"
	"  -c, --cpus-per-task C         cores (or threads) for each task (default 1)\n"
	"      --cpu-bind=[verbose,]TYPE none|threads|cores|sockets|ldoms|map_cpu:LIST|\n"
	"                                mask_cpu:LIST, as srun (default: cores for\n"
	"                                several tasks, none for one)\n"
	"  -m, --distribution=block|cyclic  tasks over sockets (default cyclic)\n"
	"      --mem-bind=local|none     bind memory to the tasks' NUMA domains\n"
	"  -O, --overcommit              allow more tasks than cpus\n"
	"      --cgroup=auto|require|off cpuset cgroups where delegated (default auto)\n"
	"  -l, --label                   prefix output lines with the task id\n"
	"  -K, --kill-on-bad-exit        end all tasks when one fails\n"
	"      --dry-run                 print each task's cpus, start nothing\n"
	"Identity and processes:\n"
	"      --root                    be uid 0 inside (fake root), keep capabilities\n"
	"      --pid                     new PID namespace, with yurt as its init\n"
	"      --slurm                   make Slurm and MUNGE usable inside\n"
	"Sharing:\n"
	"      --join[=KEY]              share one container with every yurt run\n"
	"                                --join=KEY running on this node: the first makes\n"
	"                                it, the last one out ends it.  In a Slurm step\n"
	"                                KEY defaults to SLURM_JOB_ID.SLURM_STEP_ID, so\n"
	"                                'srun yurt run --join IMAGE CMD' mounts IMAGE once\n"
	"                                per node.  All must give the same options for the\n"
	"                                container (image, binds, workdir, --root, --pid,\n"
	"                                --writable-tmpfs...); each has its own\n"
	"                                environment and tasks\n"
	"Output:\n"
	"  -v, --verbose                 show each setup step (twice: more)\n"
	"  -q, --quiet                   show errors only\n"
	"  -h, --help                    show this help\n"
	"\n"
	"Exit status: CMD's own; 128+N when CMD is killed by signal N; 125 when yurt\n"
	"fails; 126 when CMD cannot be executed; 127 when CMD is not found.\n";

static const char usage_start[] =
	"Usage: yurt start --name NAME [OPTIONS] IMAGE\n"
	"Starts instance NAME: a container of IMAGE that stays until 'yurt stop NAME',\n"
	"for 'yurt exec NAME CMD' to run commands in.  IMAGE is mounted once for all.\n"
	"\n"
	"  -N, --name NAME               the instance's name: letters, digits, . _ + -\n"
	"                                (not first: .), at most 64\n"
	"OPTIONS are those of 'yurt run' that make the container: -b, -w, --no-cwd,\n"
	"--no-home, --private-tmp, --writable-tmpfs (its writes last as long as the\n"
	"instance), -e, --env-file, --clean-env, --root, --pid, --slurm, -v, -q.\n"
	"\n"
	"Instances live in $XDG_RUNTIME_DIR/yurt, else /tmp/yurt-UID, which must be\n"
	"yours and mode 0700: other users can neither see nor join yours.\n";

static const char usage_exec[] =
	"Usage: yurt exec [OPTIONS] NAME [--] CMD [ARG...]\n"
	"Runs CMD in instance NAME (see 'yurt start'), in its environment and workdir.\n"
	"\n"
	"  -e, --env NAME=VALUE          set NAME on top of the instance's environment\n"
	"      --env-file FILE           set NAME=VALUE lines of FILE\n"
	"  -w, --workdir DIR             start in DIR instead of the instance's workdir\n"
	"Tasks, as for 'yurt run': -n, -c, --cpu-bind, -m, --mem-bind, -O, --cgroup, -l,\n"
	"-K, --dry-run.  Output: -v, -q, -h.\n"
	"\n"
	"CMD's tasks end when yurt exec is killed, and when the instance is stopped.\n"
	"Exit status: as for 'yurt run'; 125 also when there is no instance NAME.\n";

static const char usage_stop[] =
	"Usage: yurt stop NAME...\n"
	"Ends the instances: every member ('yurt exec', 'yurt run --join') passes\n"
	"SIGTERM to its tasks; 5 seconds later members and anything left inside get\n"
	"SIGKILL; the image is unmounted.  Returns once they are gone.\n";

static const char usage_list[] =
	"Usage: yurt list\n"
	"Shows your instances, from 'yurt start' and 'yurt run --join':\n"
	"  NAME     the name, or the --join key\n"
	"  IMAGE    the image, its path resolved\n"
	"  PID      the process that holds the container\n"
	"  STARTED  when it was ready, local time\n"
	"  TASKS    the tasks that 'yurt exec' and 'yurt run --join' run in it now\n"
	"Instances whose holder has died are removed, not shown.\n";

enum {
	OPT_ENV_FILE = 256, OPT_CLEAN_ENV, OPT_NO_CWD, OPT_NO_HOME, OPT_ROOT, OPT_PID,
	OPT_WRITABLE_TMPFS, OPT_PRIVATE_TMP, OPT_SLURM, OPT_CPU_BIND, OPT_MEM_BIND, OPT_DRY_RUN,
	OPT_CGROUP, OPT_JOIN,
};

/* The commands that take options, as bits: which takes which. */
enum { CMD_RUN = 1, CMD_START = 2, CMD_EXEC = 4 };

static const struct option options[] = {
	{ "bind", required_argument, NULL, 'b' },
	{ "env", required_argument, NULL, 'e' },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "clean-env", no_argument, NULL, OPT_CLEAN_ENV },
	{ "workdir", required_argument, NULL, 'w' },
	{ "no-cwd", no_argument, NULL, OPT_NO_CWD },
	{ "no-home", no_argument, NULL, OPT_NO_HOME },
	{ "root", no_argument, NULL, OPT_ROOT },
	{ "pid", no_argument, NULL, OPT_PID },
	{ "writable-tmpfs", no_argument, NULL, OPT_WRITABLE_TMPFS },
	{ "private-tmp", no_argument, NULL, OPT_PRIVATE_TMP },
	{ "slurm", no_argument, NULL, OPT_SLURM },
	{ "ntasks", required_argument, NULL, 'n' },
	{ "cpus-per-task", required_argument, NULL, 'c' },
	{ "cpu-bind", required_argument, NULL, OPT_CPU_BIND },
	{ "distribution", required_argument, NULL, 'm' },
	{ "mem-bind", required_argument, NULL, OPT_MEM_BIND },
	{ "overcommit", no_argument, NULL, 'O' },
	{ "label", no_argument, NULL, 'l' },
	{ "kill-on-bad-exit", no_argument, NULL, 'K' },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "join", optional_argument, NULL, OPT_JOIN },
	{ "name", required_argument, NULL, 'N' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static int usage_error(struct yurt_err *err, const char *command)
{
	yurt_err_hint(err, "see 'yurt help%s%s'", *command ? " " : "", command);
	return -1;
}

/* A count of at least 1, such as -n 4. */
static int parse_count(unsigned *out, const char *option, const char *arg, struct yurt_err *err)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || n < 1 || n > 1000000 || arg[0] == '-')
		return yurt_fail(err, 0, "%s %s: expected a whole number from 1 to 1000000", option, arg);
	*out = (unsigned)n;
	return 0;
}

static const char *const command_names[] = { [CMD_RUN] = "run", [CMD_START] = "start", [CMD_EXEC] = "exec" };

/* Options that shape the container are for run and start; options for the
 * tasks, for run and exec. */
static unsigned option_commands(int opt)
{
	switch (opt) {
	case 'b': case OPT_NO_CWD: case OPT_NO_HOME: case OPT_PRIVATE_TMP: case OPT_WRITABLE_TMPFS:
	case OPT_CLEAN_ENV: case OPT_ROOT: case OPT_PID: case OPT_SLURM:
		return CMD_RUN | CMD_START;
	case 'n': case 'c': case 'm': case 'O': case 'l': case 'K': case OPT_CPU_BIND: case OPT_MEM_BIND:
	case OPT_CGROUP: case OPT_DRY_RUN:
		return CMD_RUN | CMD_EXEC;
	case OPT_JOIN:
		return CMD_RUN;
	case 'N':
		return CMD_START;
	default:
		return CMD_RUN | CMD_START | CMD_EXEC;
	}
}

static const char *option_name(int opt)
{
	for (const struct option *o = options; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

/* The command line of run, start and exec. */
struct command_line {
	struct yurt_request req;
	const char *name;     /* start: --name; exec: NAME */
	bool join;            /* run --join */
	const char *join_key; /* its KEY, NULL for the default */
};

static int parse(struct command_line *cl, unsigned cmd, int argc, char **argv, struct yurt_err *err)
{
	struct yurt_request *req = &cl->req;
	const char *command = command_names[cmd];
	char cwd[PATH_MAX];
	int opt;
	if (!getcwd(cwd, sizeof cwd))
		return yurt_fail(err, errno, "getcwd");
	/* '+': options end at IMAGE (NAME), so CMD's own options are left alone. */
	while ((opt = getopt_long(argc, argv, "+:b:e:w:n:c:m:N:OlKvqh", options, NULL)) != -1) {
		if (opt != ':' && opt != '?' && !(option_commands(opt) & cmd)) {
			yurt_fail(err, 0, "option --%s is not for 'yurt %s'", option_name(opt), command);
			return usage_error(err, command);
		}
		switch (opt) {
		case 'n':
			if (parse_count(&req->binding.ntasks, "--ntasks", optarg, err))
				return usage_error(err, command);
			break;
		case 'c':
			if (parse_count(&req->binding.cpus_per_task, "--cpus-per-task", optarg, err))
				return usage_error(err, command);
			break;
		case OPT_CPU_BIND:
			if (yurt_cpu_bind_parse(&req->binding, optarg, err))
				return usage_error(err, command);
			req->cpu_bind_given = true;
			break;
		case 'm':
			if (yurt_distribution_parse(&req->binding.dist, optarg, err))
				return usage_error(err, command);
			break;
		case OPT_MEM_BIND:
			if (yurt_mem_bind_parse(&req->binding, optarg, err))
				return usage_error(err, command);
			break;
		case OPT_CGROUP:
			if (yurt_cgroup_mode_parse(&req->cgroup, optarg, err))
				return usage_error(err, command);
			break;
		case 'O': req->binding.overcommit = true; break;
		case 'l': req->label = true; break;
		case 'K': req->kill_on_bad_exit = true; break;
		case OPT_DRY_RUN: req->dry_run = true; break;
		case 'b':
			if (yurt_request_add_bind(req, optarg, cwd, err))
				return usage_error(err, command);
			break;
		case 'e':
			if (yurt_strv_push(&req->env_sets, optarg))
				return yurt_fail(err, ENOMEM, "--env");
			break;
		case OPT_ENV_FILE:
			if (yurt_strv_push(&req->env_files, optarg))
				return yurt_fail(err, ENOMEM, "--env-file");
			break;
		case 'w':
			if (optarg[0] != '/') {
				yurt_fail(err, 0, "--workdir %s: must be an absolute path", optarg);
				return usage_error(err, command);
			}
			free(req->workdir);
			if (!(req->workdir = strdup(optarg)))
				return yurt_fail(err, ENOMEM, "--workdir");
			break;
		case OPT_CLEAN_ENV: req->clean_env = true; break;
		case OPT_NO_CWD: req->no_cwd = true; break;
		case OPT_NO_HOME: req->no_home = true; break;
		case OPT_ROOT: req->fake_root = true; break;
		case OPT_PID: req->pid_ns = true; break;
		case OPT_WRITABLE_TMPFS: req->writable_tmpfs = true; break;
		case OPT_PRIVATE_TMP: req->private_tmp = true; break;
		case OPT_SLURM: req->slurm = true; break;
		case OPT_JOIN:
			cl->join = true;
			cl->join_key = optarg;
			break;
		case 'N': cl->name = optarg; break;
		case 'v': yurt_verbosity = yurt_verbosity < 0 ? 1 : yurt_verbosity + 1; break;
		case 'q': yurt_verbosity = -1; break;
		case 'h':
			fputs(cmd == CMD_RUN ? usage_run : cmd == CMD_START ? usage_start : usage_exec, stdout);
			exit(0);
		case ':':
			yurt_fail(err, 0, "option %s needs an argument", argv[optind - 1]);
			return usage_error(err, command);
		default:
			yurt_fail(err, 0, "unknown option %s", argv[optind - 1]);
			return usage_error(err, command);
		}
	}
	if (cmd == CMD_START && !cl->name) {
		yurt_fail(err, 0, "missing --name NAME");
		return usage_error(err, command);
	}
	if (optind >= argc) {
		yurt_fail(err, 0, cmd == CMD_EXEC ? "missing instance NAME" : "missing IMAGE");
		return usage_error(err, command);
	}
	if (cmd == CMD_EXEC)
		cl->name = argv[optind++];
	else if (!(req->image = strdup(argv[optind++])))
		return yurt_fail(err, ENOMEM, "image");
	if (cmd == CMD_START) {
		if (optind < argc) {
			yurt_fail(err, 0, "unexpected '%s' after IMAGE: an instance runs no command of its own", argv[optind]);
			yurt_err_hint(err, "start commands in it with 'yurt exec %s CMD'", cl->name);
			return -1;
		}
		return 0;
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		yurt_fail(err, 0, "missing command to run in %s", cmd == CMD_EXEC ? cl->name : req->image);
		return usage_error(err, command);
	}
	req->argv = argv + optind;
	return 0;
}

static int cmd_run(unsigned cmd, int argc, char **argv, struct yurt_err *err)
{
	struct command_line cl = { 0 };
	struct yurt_container c;
	yurt_request_init(&cl.req);
	int status = parse(&cl, cmd, argc, argv, err);
	if (!status && cmd == CMD_RUN)
		status = cl.join ? yurt_run_joined(&cl.req, cl.join_key, environ, err)
				 : yurt_run(&cl.req, environ, err);
	else if (!status && cmd == CMD_EXEC)
		status = yurt_run_in_instance(&cl.req, cl.name, environ, err);
	else if (!status) {
		yurt_container_init(&c, &cl.req, environ);
		status = yurt_container_plan(&c, err) || yurt_instance_start(cl.name, &c, err) ? -1 : 0;
		yurt_container_release(&c);
	}
	yurt_request_free(&cl.req);
	return status;
}

/* yurt stop and yurt list: a few options, then names. */
static int parse_plain(int argc, char **argv, const char *command, const char *usage,
		       struct yurt_err *err)
{
	static const struct option plain[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "+vqh", plain, NULL)) != -1) {
		switch (opt) {
		case 'v': yurt_verbosity = yurt_verbosity < 0 ? 1 : yurt_verbosity + 1; break;
		case 'q': yurt_verbosity = -1; break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			yurt_fail(err, 0, "unknown option %s", argv[optind - 1]);
			return usage_error(err, command);
		}
	}
	return 0;
}

static int cmd_stop(int argc, char **argv, struct yurt_err *err)
{
	if (parse_plain(argc, argv, "stop", usage_stop, err))
		return -1;
	if (optind >= argc) {
		yurt_fail(err, 0, "missing instance NAME");
		return usage_error(err, "stop");
	}
	/* Each one, even after a failure; the first failure is reported. */
	int status = 0;
	for (int i = optind; i < argc; i++) {
		struct yurt_err one;
		if (!yurt_instance_stop(argv[i], &one))
			continue;
		if (status < 0)
			yurt_err_print(&one);
		else
			*err = one;
		status = -1;
	}
	return status;
}

static int cmd_list(int argc, char **argv, struct yurt_err *err)
{
	if (parse_plain(argc, argv, "list", usage_list, err))
		return -1;
	if (optind < argc) {
		yurt_fail(err, 0, "unexpected '%s'", argv[optind]);
		return usage_error(err, "list");
	}
	return yurt_instance_list(stdout, err);
}

static int cmd_topology(struct yurt_err *err)
{
	hwloc_topology_t topology;
	_cleanup_bitmap_ hwloc_cpuset_t allowed = hwloc_bitmap_alloc();
	if (!allowed)
		return yurt_fail(err, ENOMEM, "topology");
	if (yurt_topology_load(&topology, err))
		return -1;
	int rc = yurt_allowed_cpus(topology, allowed, err);
	if (!rc)
		yurt_topology_print(stdout, topology, allowed);
	hwloc_topology_destroy(topology);
	return rc;
}

static int cmd_help(int argc, char **argv, struct yurt_err *err)
{
	static const struct { const char *command, *usage; } helps[] = {
		{ "run", usage_run }, { "start", usage_start }, { "exec", usage_exec },
		{ "stop", usage_stop }, { "list", usage_list },
	};
	if (argc < 2) {
		fputs(usage_main, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof helps / sizeof *helps; i++)
		if (!strcmp(argv[1], helps[i].command)) {
			fputs(helps[i].usage, stdout);
			return 0;
		}
	yurt_fail(err, 0, "no help for '%s'", argv[1]);
	return usage_error(err, "");
}

int main(int argc, char **argv)
{
	struct yurt_err err;
	int status;

	if (yurt_refuse_setid(&err)) {
		yurt_err_print(&err);
		return YURT_EXIT_LAUNCH;
	}
	const char *command = argc > 1 ? argv[1] : NULL;
	if (!command || !strcmp(command, "-h") || !strcmp(command, "--help")) {
		fputs(usage_main, command ? stdout : stderr);
		return command ? 0 : YURT_EXIT_LAUNCH;
	}
	if (!strcmp(command, "--version") || !strcmp(command, "version")) {
		printf("yurt %s\n", YURT_VERSION);
		return 0;
	}
	if (!strcmp(command, "run"))
		status = cmd_run(CMD_RUN, argc - 1, argv + 1, &err);
	else if (!strcmp(command, "start"))
		status = cmd_run(CMD_START, argc - 1, argv + 1, &err);
	else if (!strcmp(command, "exec"))
		status = cmd_run(CMD_EXEC, argc - 1, argv + 1, &err);
	else if (!strcmp(command, "stop"))
		status = cmd_stop(argc - 1, argv + 1, &err);
	else if (!strcmp(command, "list"))
		status = cmd_list(argc - 1, argv + 1, &err);
	else if (!strcmp(command, "topology"))
		status = cmd_topology(&err);
	else if (!strcmp(command, "help"))
		status = cmd_help(argc - 1, argv + 1, &err);
	else {
		yurt_fail(&err, 0, "unknown command '%s'", command);
		status = usage_error(&err, "");
	}
	if (status < 0) {
		yurt_err_print(&err);
		return err.status;
	}
	return status;
}
